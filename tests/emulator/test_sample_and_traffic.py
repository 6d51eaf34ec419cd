"""The demo's sample function, and the traffic generator (whose invocations, through the
invoke seam, publish Lambda's metrics)."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import pytest

from trafficshift.emulator import lambda_metrics
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.sample import create_sample_function, publish_version_with
from trafficshift.emulator.traffic import TrafficGenerator


@pytest.fixture
def sample(cloud: LocalCloud) -> Any:
    return create_sample_function(cloud.client("lambda"))


def test_sample_function_has_two_healthy_versions_and_alias_on_stable(
    cloud: LocalCloud, sample: Any
) -> None:
    lam = cloud.client("lambda")

    versions = lam.list_versions_by_function(FunctionName="orders-api")["Versions"]
    alias = lam.get_alias(FunctionName="orders-api", Name="live")
    results = [
        json.loads(lam.invoke(FunctionName="orders-api", Qualifier=v)["Payload"].read())
        for v in ("1", "2")
    ]

    assert (sample.stable_version, sample.candidate_version) == ("1", "2")
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[1]["CodeSha256"] != versions[2]["CodeSha256"]  # new code in version 2
    assert alias["FunctionVersion"] == "1"
    assert [(r["statusCode"], r["build"], r["version"]) for r in results] == [
        (200, "1", "1"),
        (200, "2", "2"),
    ]


def test_sample_function_is_tagged_for_the_control_planes_tag_mode(
    cloud: LocalCloud, sample: Any
) -> None:
    tags = cloud.client("lambda").list_tags(Resource=sample.function_arn)["Tags"]
    assert tags["trafficshift:managed"] == "true"


def test_publish_version_with_error_rate_publishes_a_failing_version(
    cloud: LocalCloud, sample: Any
) -> None:
    lam = cloud.client("lambda")

    bad = publish_version_with(lam, "orders-api", error_rate=1.0)
    response = lam.invoke(FunctionName="orders-api", Qualifier=bad)

    assert bad == "3"
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "RuntimeError"
    # The earlier versions keep their configuration
    assert "FunctionError" not in lam.invoke(FunctionName="orders-api", Qualifier="2")


def test_traffic_generator_counts_per_version_and_publishes_lambda_metrics(
    cloud: LocalCloud, sample: Any
) -> None:
    # Given the alias split 50/50 between version 1 and a version that always fails
    lam, cw = cloud.client("lambda"), cloud.client("cloudwatch")
    lambda_metrics.configure(lambda_metrics.IMMEDIATE)
    bad = publish_version_with(lam, "orders-api", error_rate=1.0)
    lam.update_alias(
        FunctionName="orders-api",
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {bad: 0.5}},
    )

    # When traffic runs for about a second
    started = datetime.datetime.now(datetime.UTC)
    with TrafficGenerator(lam, "orders-api", "live", rate_per_second=150, seed=3) as traffic:
        deadline = time.monotonic() + 5
        while (
            time.monotonic() < deadline
            and sum(s["invocations"] for s in traffic.stats().values()) < 120
        ):
            time.sleep(0.05)
    stats = traffic.stats()

    # Then it counted each version, errors only on the bad one
    assert set(stats) == {"1", bad}
    assert stats["1"]["errors"] == 0
    assert stats[bad]["errors"] == stats[bad]["invocations"] > 0
    assert traffic.recent_error_rate(bad, 60) == 1.0
    assert traffic.recent_error_rate("1", 60) == 0.0
    assert traffic.recent_error_rate("99", 60) is None
    errors, total = traffic.recent_totals(60)
    assert (errors, total) == (stats[bad]["errors"], stats["1"]["invocations"] + errors)
    assert not traffic.running
    time.sleep(1.1)  # the fast mode's last 1-second minute ends, and lands

    # And CloudWatch has Lambda's per-version metrics, with Lambda's dimension sets
    def total_of(metric: str, stat: str, **dimensions: str) -> float:
        result = cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Lambda",
                            "MetricName": metric,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                        },
                        "Period": 60,
                        "Stat": stat,
                    },
                }
            ],
            StartTime=started - datetime.timedelta(minutes=2),
            EndTime=started + datetime.timedelta(minutes=2),
        )["MetricDataResults"][0]
        return float(sum(result["Values"]))

    resource = {"FunctionName": "orders-api", "Resource": "orders-api:live"}
    assert total_of("Errors", "Sum", **resource, ExecutedVersion=bad) == stats[bad]["errors"]
    assert total_of("Errors", "Sum", **resource, ExecutedVersion="1") == 0
    assert (
        total_of("Invocations", "Sum", **resource, ExecutedVersion="1") == stats["1"]["invocations"]
    )
    assert total_of("Invocations", "Sum", **resource) == total
    assert total_of("Invocations", "Sum", FunctionName="orders-api") == total
    assert (
        total_of("Duration", "SampleCount", **resource, ExecutedVersion="1")
        == stats["1"]["invocations"]
    )


def test_traffic_generator_stops_by_itself_after_its_max_duration(
    cloud: LocalCloud, sample: Any
) -> None:
    traffic = TrafficGenerator(
        cloud.client("lambda"),
        "orders-api",
        "live",
        rate_per_second=50,
        max_duration_seconds=0.3,
    ).start()
    time.sleep(1.0)

    assert not traffic.running
    assert 0 < traffic.stats()["1"]["invocations"] <= 50
    traffic.stop()
