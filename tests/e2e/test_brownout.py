"""A CloudWatch brownout during the bake: counted health-read failures, never a timeout.

The clients' per-call budget and the task timeouts are in docs/decisions.md ("Time budgets
under a brownout"). The emulator charges each request's latency to the Check invocation's
clock (faults.brownout), so a 25 s latency costs no wall time here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e_support import Rollout, task_function

from rollout.adapters.aws import CLIENT_CONFIG, attempts_of
from trafficshift.emulator import faults, lambda_metrics
from trafficshift.emulator.cloud import LocalCloud

pytestmark = pytest.mark.e2e

# The analysis reads GetMetricData at every Check; with no traffic it stays undecided, and
# `onInconclusive: promote` lets a healthy rollout end without waiting for evidence.
# `settleSeconds: 0`: with no traffic there is nothing to wait for.
NO_TRAFFIC_ANALYSIS = {"onInconclusive": "promote", "maxExtensionSeconds": 0, "settleSeconds": 0}
CANARY = {"type": "canary", "percent": 10, "bakeSeconds": 1}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """1-second minutes: every Check after the first second reads GetMetricData."""
    delivery = lambda_metrics.compressed(minute_seconds=1, seed=4)
    with LocalCloud(routing_seed=11, metric_delivery=delivery) as local_cloud:
        yield local_cloud


def _request(rollout: Rollout, **overrides: object) -> dict[str, object]:
    return rollout.request(
        **{
            "strategy": CANARY,
            "analysis": NO_TRAFFIC_ANALYSIS,
            "maxHealthReadFailures": 3,
            **overrides,
        }
    )


def test_25s_metric_latency_for_3_checks_is_tolerated_and_the_rollout_promotes(
    rollout: Rollout,
) -> None:
    # Given GetMetricData answering after 25 s (past the 5 s read timeout) for every
    # attempt of the next 3 Checks
    check = task_function(rollout.cloud, "Check")
    attempts = attempts_of(CLIENT_CONFIG)
    with faults.brownout(
        "cloudwatch",
        latency=25,
        actions={"GetMetricData"},
        times=3 * attempts,
        function=check,
    ) as outage:
        result = rollout.wait(rollout.start(_request(rollout)), timeout=30)

    # Then each of those Checks counted one unreadable health, and the rollout promoted
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert outage.timed_out == 3 * attempts
    assert json.loads(result["output"])["outcome"] == "PROMOTED"
    assert rollout.routing() == ("2", {})


def test_a_metric_brownout_longer_than_the_budget_reverts_naming_it(rollout: Rollout) -> None:
    # Given GetMetricData timing out for as long as the rollout runs
    check = task_function(rollout.cloud, "Check")
    with faults.brownout(
        "cloudwatch", latency=25, actions={"GetMetricData"}, function=check
    ) as outage:
        result = rollout.wait(rollout.start(_request(rollout)), timeout=30)

    # Then the 4th unreadable Check (maxHealthReadFailures=3) reverts, saying why
    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentRolledBack"
    cause = result["cause"]
    assert "could not read the health 4 times in a row" in cause
    assert "maxHealthReadFailures=3" in cause
    assert "GetMetricData timed out" in cause
    assert "Sandbox.Timedout" not in cause
    assert outage.timed_out == 4 * attempts_of(CLIENT_CONFIG)
    assert rollout.routing() == ("1", {})
