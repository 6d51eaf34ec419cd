"""Several rollouts at once under a low Lambda control-plane limit: every one reaches its
intended outcome, and the throttles are absorbed (bench/scale.py measures 100 at 15/s)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import Rollout, new_function
from moto.awslambda.models import LambdaAlias
from moto.cloudwatch.models import cloudwatch_backends

from trafficshift.emulator import faults
from trafficshift.emulator.cloud import LocalCloud

pytestmark = pytest.mark.e2e

FLEET = 6
BAD = {1, 4}  # these two have their alarm go off once their alias is split


@pytest.fixture
def alarm_on_first_split(cloud: LocalCloud) -> Iterator[dict[str, str]]:
    """function -> alarm: that alarm goes into ALARM as soon as the function's alias is split
    (in moto's backend, before UpdateAlias returns, so no API call is made)."""
    armed: dict[str, str] = {}
    original = LambdaAlias.update
    backend = cloudwatch_backends["123456789012"][cloud.region]

    def update(self: LambdaAlias, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        name = self.arn.split(":function:", 1)[1].split(":", 1)[0]
        if name in armed and (self.routing_config or {}).get("AdditionalVersionWeights"):
            backend.set_alarm_state(armed.pop(name), "split", None, "ALARM")
        return result

    LambdaAlias.update = update  # type: ignore[method-assign]
    try:
        yield armed
    finally:
        LambdaAlias.update = original  # type: ignore[method-assign]


def test_concurrent_rollouts_under_a_low_rate_limit_all_reach_their_intended_outcome(
    cloud: LocalCloud, alarm_on_first_split: dict[str, str]
) -> None:
    cw = cloud.client("cloudwatch")
    fleet = [Rollout(cloud, new_function(cloud)) for _ in range(FLEET)]
    requests = []
    for index, rollout in enumerate(fleet):
        alarm = f"{rollout.function}-errors"
        cw.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        if index in BAD:
            alarm_on_first_split[rollout.function] = alarm
        requests.append(
            rollout.request(
                alarms=[alarm], strategy={"type": "linear", "percent": 50, "intervalSeconds": 1}
            )
        )

    # Given 3 control-plane requests a second for the whole account, and a fleet whose
    # Prepares alone need 3 calls each at the same moment
    with faults.control_plane_rate_limit(rate=3, burst=3) as bucket:
        executions = [
            rollout.start(request) for rollout, request in zip(fleet, requests, strict=True)
        ]
        finished = [
            rollout.wait(arn, timeout=60) for rollout, arn in zip(fleet, executions, strict=True)
        ]

    # Then every rollout ends as intended, none failed on throttling
    for index, (rollout, result) in enumerate(zip(fleet, finished, strict=True)):
        if index in BAD:
            assert (result["status"], result.get("error")) == ("FAILED", "DeploymentRolledBack")
            assert "in ALARM" in result["cause"]
            assert rollout.routing() == ("1", {})
        else:
            assert result["status"] == "SUCCEEDED", result.get("cause")
            assert json.loads(result["output"])["outcome"] == "PROMOTED"
            assert rollout.routing() == ("2", {})
    # and the limit did throttle them: the throttles were absorbed by the retries
    assert bucket.throttled > 0
    assert bucket.admitted >= FLEET * 5
