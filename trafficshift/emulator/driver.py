"""Drive rollouts on a `LocalCloud`: start one, wait for it, read the alias, fire the sweep.

Shared by the end-to-end tests (through `tests/e2e/e2e_support.py`) and the benchmarks:

    with LocalCloud() as cloud:
        rollout = Rollout(cloud, new_function(cloud))
        finished = rollout.run()              # a 4-step linear shift, no traffic
        assert rollout.routing() == ("2", {})
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaAlias
from moto.cloudwatch.models import cloudwatch_backends

from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.sample import create_sample_function

__all__ = [
    "TERMINAL",
    "Rollout",
    "alarm_on_first_split",
    "eventually",
    "new_function",
    "scheduled_event",
    "sweep",
    "task_function",
]

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
ACCOUNT = "123456789012"  # moto's default account


@dataclass
class Rollout:
    cloud: LocalCloud
    function: str
    alias: str = "live"

    @property
    def lam(self) -> Any:
        return self.cloud.client("lambda")

    def request(self, **overrides: Any) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "functionName": self.function,
            "alias": self.alias,
            "targetVersion": "2",
            "strategy": {"type": "linear", "percent": 25, "intervalSeconds": 0},
            "pollIntervalSeconds": 1,
            # no simulated traffic here: the alarms and the workflow are under test
            "analysis": {"enabled": False},
        }
        raw.update(overrides)
        return {k: v for k, v in raw.items() if v is not None}

    def start(self, request: dict[str, Any]) -> str:
        sfn = self.cloud.client("stepfunctions")
        return str(
            sfn.start_execution(
                stateMachineArn=self.cloud.state_machine_arn,
                name=f"e2e-{uuid.uuid4().hex[:16]}",
                input=json.dumps(request),
            )["executionArn"]
        )

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        sfn = self.cloud.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in TERMINAL:
                return dict(described)
            time.sleep(0.05)
        raise AssertionError(f"{execution_arn} did not finish within {timeout} s")

    def run(self, **overrides: Any) -> dict[str, Any]:
        return self.wait(self.start(self.request(**overrides)))

    def routing(self) -> tuple[str, dict[str, float]]:
        alias = self.lam.get_alias(FunctionName=self.function, Name=self.alias)
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return str(alias["FunctionVersion"]), {str(k): float(v) for k, v in weights.items()}

    def revision(self) -> str:
        return str(self.lam.get_alias(FunctionName=self.function, Name=self.alias)["RevisionId"])

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.cloud.client("stepfunctions")
        return list(sfn.get_execution_history(executionArn=execution_arn)["events"])

    def states_entered(self, execution_arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]

    def wait_until_split(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.routing()[1]:
                return
            time.sleep(0.02)
        raise AssertionError("the alias was never split")


def task_function(cloud: LocalCloud, task: str) -> str:
    """The emulator's name of a control-plane function: "SetWeight" -> its physical name."""
    (name,) = [
        physical
        for logical, physical in cloud.deployed.function_names.items()
        if re.fullmatch(rf"ControlPlane{task}Function[0-9A-F]{{8}}", logical)
    ]
    return name


def eventually(predicate: Callable[[], Any], timeout: float = 20) -> None:
    """Wait until `predicate()` holds, polling every 50 ms; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def new_function(cloud: LocalCloud) -> str:
    name = f"fn-{uuid.uuid4().hex[:10]}"
    create_sample_function(cloud.client("lambda"), name=name, alias="live")
    return name


def scheduled_event(cloud: LocalCloud) -> dict[str, Any]:
    """What EventBridge sends a target of the reconciler's scheduled rule (EventBridge user
    guide: "Creating a rule that runs on a schedule"; events reference: "Scheduled Event").
    The emulator never fires a schedule by itself."""
    rules = cloud.client("events").list_rules()["Rules"]
    (schedule,) = [r for r in rules if r.get("ScheduleExpression")]
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": schedule["Arn"].split(":")[4],
        "time": now,
        "region": cloud.region,
        "resources": [schedule["Arn"]],
        "detail": {},
    }


def sweep(cloud: LocalCloud) -> dict[str, Any]:
    """Fire the reconciler's schedule once, as EventBridge does every few minutes on AWS;
    returns the Reconcile function's response payload (its report, or its error)."""
    response = cloud.client("lambda").invoke(
        FunctionName=task_function(cloud, "Reconcile"),
        Payload=json.dumps(scheduled_event(cloud)).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if "FunctionError" in response:
        return {"functionError": response["FunctionError"], "payload": payload}
    return dict(payload or {})


def alarm_on_first_split(
    cloud: LocalCloud, bad: dict[str, str], *, account: str = ACCOUNT
) -> contextlib.AbstractContextManager[None]:
    """While active: the first time a bad function's alias is split, its alarm goes into
    ALARM (in moto's backend, synchronously, before UpdateAlias returns), so the Check after
    the first bake reads it. Alarms are driven this way in every emulator test (moto never
    evaluates them); no API call is made, so none counts against any limit."""

    @contextlib.contextmanager
    def patched() -> Iterator[None]:
        original = LambdaAlias.update
        backend = cloudwatch_backends[account][cloud.region]
        fired: set[str] = set()

        def update(self: LambdaAlias, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            name = self.arn.split(":function:", 1)[1].split(":", 1)[0]
            weights = (self.routing_config or {}).get("AdditionalVersionWeights") or {}
            if name in bad and weights and name not in fired:
                fired.add(name)
                backend.set_alarm_state(bad[name], "split: simulated errors", None, "ALARM")
            return result

        LambdaAlias.update = update  # type: ignore[method-assign]
        try:
            yield
        finally:
            LambdaAlias.update = original  # type: ignore[method-assign]

    return patched()
