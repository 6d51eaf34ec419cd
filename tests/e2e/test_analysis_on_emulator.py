"""The version-versus-version analysis on the emulator: real traffic through the alias,
per-version AWS/Lambda metrics, GetMetricData in the Check, no alarms.

Metrics arrive as Lambda delivers them (`lambda_metrics.compressed`): aggregated per
"minute", each metric of each minute landing on its own 1 to 3 minutes after it ends. Time
is compressed 60-fold (a minute is 1 s, the Check reads 1-second periods) to keep each test
to seconds; the analysis judges a minute 3 "minutes" after it ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import Rollout

from trafficshift.emulator import lambda_metrics
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.sample import publish_version_with
from trafficshift.emulator.traffic import TrafficGenerator

pytestmark = pytest.mark.e2e

# Small numbers so that a test takes seconds; the defaults suit AWS's per-minute metrics.
FAST_ANALYSIS = {
    "minInvocations": 30,
    "minLatencyInvocations": 30,
    "maxErrorRateIncrease": 0.05,
    "maxExtensionSeconds": 8,
    "settleSeconds": 3,  # the compressed delivery's latest: 1 + 2 minutes of 1 s
}
CANARY = {"type": "canary", "percent": 50, "bakeSeconds": 3}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """The AWS-like delivery of Lambda's metrics, on 1-second minutes."""
    delivery = lambda_metrics.compressed(minute_seconds=1, seed=4)
    with LocalCloud(routing_seed=11, metric_delivery=delivery) as local_cloud:
        yield local_cloud


@pytest.fixture
def traffic(rollout: Rollout) -> Iterator[TrafficGenerator]:
    generator = TrafficGenerator(
        rollout.lam,
        rollout.function,
        rollout.alias,
        rate_per_second=60,
        seed=5,
        max_duration_seconds=120,
    )
    yield generator
    generator.stop()


def _request(rollout: Rollout, **overrides: Any) -> dict[str, Any]:
    return rollout.request(
        **{"strategy": CANARY, "analysis": FAST_ANALYSIS, "alarms": None, **overrides}
    )


def test_bad_version_with_no_alarm_reverts_naming_both_versions_error_rates(
    rollout: Rollout, traffic: TrafficGenerator
) -> None:
    bad = publish_version_with(rollout.lam, rollout.function, error_rate=0.5)
    traffic.start()

    result = rollout.wait(rollout.start(_request(rollout, targetVersion=bad)), timeout=40)

    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentRolledBack"
    assert f"new version {bad}: " in result["cause"]
    assert "vs stable 1: 0 errors in" in result["cause"]
    assert "evidence of a regression" in result["cause"]
    assert rollout.routing() == ("1", {})


def test_good_version_promotes_on_evidence(rollout: Rollout, traffic: TrafficGenerator) -> None:
    traffic.start()

    execution = rollout.start(_request(rollout))
    result = rollout.wait(execution, timeout=40)

    assert result["status"] == "SUCCEEDED", result.get("cause")
    steps = json.loads(result["output"])["steps"]
    numbers = steps[0]["analysis"]
    assert numbers, "the numbers behind the verdict are recorded in the output"
    assert rollout.routing() == ("2", {})


def test_old_version_already_erring_does_not_block_a_good_new_one(
    rollout: Rollout, traffic: TrafficGenerator
) -> None:
    # Given a stable version that already fails 5% of its requests, and a fix that fails as often
    old = publish_version_with(rollout.lam, rollout.function, error_rate=0.05)
    rollout.lam.update_alias(FunctionName=rollout.function, Name="live", FunctionVersion=old)
    new = publish_version_with(rollout.lam, rollout.function, error_rate=0.05, build="9")
    traffic.start()

    # (ruling out a regression on top of a 5% baseline takes more requests than at 0%)
    analysis = {**FAST_ANALYSIS, "maxErrorRateIncrease": 0.1, "maxExtensionSeconds": 40}
    request = _request(rollout, targetVersion=new, analysis=analysis)
    result = rollout.wait(rollout.start(request), timeout=70)

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert rollout.routing() == (new, {})


def test_no_traffic_at_all_is_inconclusive_and_rolls_back_by_default(rollout: Rollout) -> None:
    analysis = {**FAST_ANALYSIS, "maxExtensionSeconds": 2, "settleSeconds": 1}

    result = rollout.wait(rollout.start(_request(rollout, analysis=analysis)), timeout=30)

    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentRolledBack"
    assert "inconclusive" in result["cause"]
    assert "onInconclusive=rollback" in result["cause"]
    assert rollout.routing() == ("1", {})


def test_no_traffic_with_promote_policy_promotes_and_says_it_was_inconclusive(
    rollout: Rollout,
) -> None:
    analysis = {
        **FAST_ANALYSIS,
        "maxExtensionSeconds": 2,
        "settleSeconds": 1,
        "onInconclusive": "promote",
    }

    result = rollout.wait(rollout.start(_request(rollout, analysis=analysis)), timeout=30)

    assert result["status"] == "SUCCEEDED"
    reasons = [s["reason"] for s in json.loads(result["output"])["steps"]]
    assert "onInconclusive=promote" in reasons[0]


def test_late_or_missing_datapoints_are_never_read_as_healthy(rollout: Rollout) -> None:
    # Traffic flows, but its metrics land later than the rollout lasts (Lambda's can be
    # minutes late)
    silent = TrafficGenerator(
        rollout.lam, rollout.function, rollout.alias, rate_per_second=40, seed=9
    )
    analysis = {**FAST_ANALYSIS, "maxExtensionSeconds": 2}
    before = lambda_metrics.current()
    lambda_metrics.configure(lambda_metrics.Delivery(minute_seconds=1, delay_seconds=600))
    try:
        with silent:
            result = rollout.wait(rollout.start(_request(rollout, analysis=analysis)), timeout=30)
    finally:
        lambda_metrics.configure(before)

    assert result["status"] == "FAILED"
    assert "inconclusive" in result["cause"]
    assert "0 errors in 0 requests" in result["cause"] or "no data" in result["cause"]
    assert rollout.routing() == ("1", {})


def test_prepare_reports_what_regression_the_plan_can_detect(
    rollout: Rollout, traffic: TrafficGenerator
) -> None:
    traffic.start()
    import time

    time.sleep(5)  # some settled alias traffic for the estimate (settled 3 s after it ends)
    execution = rollout.start(_request(rollout))
    rollout.wait(execution, timeout=40)

    prepared = next(
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in rollout.history(execution)
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Prepare"
    )
    estimate = prepared["preflight"]
    assert estimate["aliasRequestsPerSecond"] > 0
    assert estimate["expectedNewVersionInvocations"] > 0
    assert estimate["configuredIncrease"] == 0.05
    assert isinstance(estimate["detectable"], bool)
    assert estimate["verdictLagSeconds"] == 3 + 1  # settleSeconds + the 1 s "minute"


def test_a_plan_that_cannot_detect_the_regression_is_refused_when_the_input_asks(
    rollout: Rollout,
) -> None:
    before = rollout.revision()
    analysis = {**FAST_ANALYSIS, "refuseUndetectable": True}

    # No traffic on the alias in the last hour: nothing could be detected
    result = rollout.wait(rollout.start(_request(rollout, analysis=analysis)), timeout=30)

    assert result["status"] == "FAILED"
    assert result["error"] == "PreflightFailed"
    assert "too few to detect" in result["cause"]
    assert rollout.revision() == before
