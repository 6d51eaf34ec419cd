"""Fidelity: every invocation publishes the AWS/Lambda metrics Lambda would, late, per minute.

Sources: Lambda developer guide, "Using CloudWatch metrics with Lambda" (monitoring-metrics:
"Lambda sends metric data to CloudWatch in 1-minute intervals"), "Types of metrics for
Lambda functions" (monitoring-metrics-types: invocation metrics are binary indicators, view
them with Sum), and "Viewing metrics" (dimensions FunctionName, Resource = a version or
alias, ExecutedVersion = alias and version, only for alias invocations, and none = across
all functions; "the timestamp on a metric reflects when the function was invoked ... several
minutes before the metric is emitted").
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from trafficshift.emulator import lambda_metrics
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.sample import create_sample_function, publish_version_with

ACCOUNT = "123456789012"


@pytest.fixture
def lam(cloud: LocalCloud) -> Any:
    lam = cloud.client("lambda")
    create_sample_function(lam)
    return lam


def _backend(cloud: LocalCloud) -> Any:
    return cloudwatch_backends[ACCOUNT][cloud.region]


def _deliver_everything(cloud: LocalCloud) -> None:
    lambda_metrics.deliver_due(_backend(cloud), now=time.time() + 3600)


def _dimension_sets(cloud: LocalCloud, metric: str) -> set[tuple[tuple[str, str], ...]]:
    metrics = cloud.client("cloudwatch").list_metrics(Namespace="AWS/Lambda", MetricName=metric)
    return {
        tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in metrics["Metrics"]
    }


def _sum(cloud: LocalCloud, metric: str, **dimensions: str) -> float:
    backend = _backend(cloud)
    wanted = sorted(dimensions.items())
    return sum(
        float(datum.value)
        for datum in backend.metric_data
        if datum.name == metric and sorted((d.name, d.value) for d in datum.dimensions) == wanted
    )


def test_an_alias_invocation_publishes_lambdas_dimension_sets_with_the_executed_version(
    cloud: LocalCloud, lam: Any
) -> None:
    bad = publish_version_with(lam, "orders-api", error_rate=1.0)
    lam.update_alias(
        FunctionName="orders-api", Name="live", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    lam.update_alias(FunctionName="orders-api", Name="live", FunctionVersion=bad)

    for _ in range(3):
        lam.invoke(FunctionName="orders-api", Qualifier="live")
    _deliver_everything(cloud)

    function, resource = ("FunctionName", "orders-api"), ("Resource", "orders-api:live")
    executed = ("ExecutedVersion", bad)
    for metric in lambda_metrics.METRICS:
        assert _dimension_sets(cloud, metric) == {
            (),
            (function,),
            tuple(sorted((function, resource))),
            tuple(sorted((executed, function, resource))),
        }
    assert _sum(cloud, "Invocations", FunctionName="orders-api") == 3
    assert _sum(cloud, "Errors", **dict([function, resource, executed])) == 3


def test_a_version_invocation_has_a_resource_but_no_executed_version(
    cloud: LocalCloud, lam: Any
) -> None:
    lam.invoke(FunctionName="orders-api", Qualifier="1")
    lam.invoke(FunctionName="orders-api:1")
    _deliver_everything(cloud)

    assert _dimension_sets(cloud, "Invocations") == {
        (),
        (("FunctionName", "orders-api"),),
        (("FunctionName", "orders-api"), ("Resource", "orders-api:1")),
    }
    assert _sum(cloud, "Invocations", FunctionName="orders-api", Resource="orders-api:1") == 2
    # a clean invocation counts 0 errors: Errors is published, with Sum 0
    assert _sum(cloud, "Errors", FunctionName="orders-api", Resource="orders-api:1") == 0
    assert _dimension_sets(cloud, "Errors") == _dimension_sets(cloud, "Invocations")


def test_invocations_of_one_minute_are_one_datapoint_timestamped_at_the_minute(
    cloud: LocalCloud, lam: Any
) -> None:
    for _ in range(5):
        lam.invoke(FunctionName="orders-api", Qualifier="live")
    _deliver_everything(cloud)

    resource = {"FunctionName": "orders-api", "Resource": "orders-api:live"}
    data = [
        d
        for d in _backend(cloud).metric_data
        if d.name == "Invocations"
        and sorted((x.name, x.value) for x in d.dimensions)
        == sorted({**resource, "ExecutedVersion": "1"}.items())
    ]
    # (5 invocations straddle a minute boundary at most once)
    assert sum(float(d.value) for d in data) == 5
    assert 1 <= len(data) <= 2
    assert all(d.timestamp.second == 0 and d.timestamp.microsecond == 0 for d in data)


def test_metrics_land_late_and_each_metric_on_its_own() -> None:
    # Given the AWS-like delivery: 1 minute late, then up to 2 more, independently per metric
    publisher = lambda_metrics._Publisher(lambda_metrics.Delivery(seed=3))
    backend = _FakeBackend()
    dimensions = [(("FunctionName", "f"),)]
    t0 = 600_000.0  # a minute boundary, in the past
    for minute in range(50):
        publisher.record(
            ACCOUNT,
            "us-east-1",
            dimensions,
            error=False,
            duration_ms=5,
            invoked_at=t0 + minute * 60,
            now=t0 + minute * 60 + 1,
        )

    # Then nothing of a minute lands within a minute of its end
    first_end = t0 + 60
    assert publisher.deliver_due(backend, now=first_end + 59) == 0
    # And by 3 minutes after its end everything of it has landed
    publisher.deliver_due(backend, now=first_end + 180)
    first = {name for name, at in backend.landed if at == t0}
    assert first == set(lambda_metrics.METRICS)
    # And across minutes, Invocations sometimes lands without Errors (and the reverse)
    lagged = lambda_metrics._Publisher(lambda_metrics.Delivery(seed=3))
    for minute in range(50):
        lagged.record(
            ACCOUNT,
            "us-east-1",
            dimensions,
            error=False,
            duration_ms=5,
            invoked_at=t0 + minute * 60,
            now=t0 + minute * 60 + 1,
        )
    seen = _FakeBackend()
    split = 0
    for minute in range(50):
        end = t0 + (minute + 1) * 60
        seen.landed.clear()
        lagged.deliver_due(seen, now=end + 120)
        names = {name for name, at in seen.landed if at == t0 + minute * 60}
        split += ("Invocations" in names) != ("Errors" in names)
    assert split > 0


def test_compressed_delivery_keeps_the_aws_shape_on_a_shorter_minute() -> None:
    delivery = lambda_metrics.compressed(minute_seconds=1)

    assert (delivery.minute_seconds, delivery.delay_seconds, delivery.latest_seconds) == (1, 1, 3)
    with pytest.raises(ValueError, match="not a CloudWatch period"):
        lambda_metrics.Delivery(minute_seconds=7)


def test_the_emulator_compresses_the_checks_metric_period_with_its_minute() -> None:
    from rollout.adapters.metrics import metric_period_seconds

    assert metric_period_seconds() == 60
    with LocalCloud(load_control_plane=False, metric_delivery=lambda_metrics.IMMEDIATE):
        assert metric_period_seconds() == 1
    assert metric_period_seconds() == 60


class _FakeBackend:
    account_id = ACCOUNT
    region_name = "us-east-1"

    def __init__(self) -> None:
        self.landed: list[tuple[str, float]] = []

    def put_metric_data(self, namespace: str, data: list[dict[str, Any]]) -> None:
        assert namespace == "AWS/Lambda"
        import calendar

        for datum in data:
            at = calendar.timegm(datum["Timestamp"].timetuple())
            self.landed.append((datum["MetricName"], float(at)))
