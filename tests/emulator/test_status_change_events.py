"""Step Functions sends "Execution Status Change" events to the default bus, as AWS does, so
that a rule on them (the reconciler's) fires in the emulator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from emulator_helpers import returns

from rollout.adapters import aws
from rollout.adapters import events as events_module
from rollout.adapters.ledger import Ledger, table_definition
from rollout.domain.rollout import Deployment
from trafficshift.emulator import lambda_runtime

ROLE = "arn:aws:iam::123456789012:role/machine"
STATUS_CHANGE = "Step Functions Execution Status Change"


def _wait_for(condition: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


@pytest.fixture
def bus(cloud: Any) -> Callable[[str], list[dict[str, Any]]]:
    """A rule on every Step Functions status change, copying events into a queue."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName="status")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events = cloud.client("events")
    events.put_rule(
        Name="status",
        EventPattern=json.dumps({"source": ["aws.states"], "detail-type": [STATUS_CHANGE]}),
    )
    events.put_targets(Rule="status", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    received: list[dict[str, Any]] = []

    def drain(execution: str) -> list[dict[str, Any]]:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            received.append(json.loads(message["Body"]))
        return [e for e in received if e["detail"]["executionArn"] == execution]

    return drain


def _machine(cloud: Any, name: str, definition: dict[str, Any]) -> str:
    sfn = cloud.client("stepfunctions")
    return str(
        sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(definition))[
            "stateMachineArn"
        ]
    )


def _statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["status"] for e in events]


def test_failed_execution_sends_its_status_change(cloud: Any, bus: Any) -> None:
    machine = _machine(
        cloud,
        "fails",
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}},
    )
    sfn = cloud.client("stepfunctions")

    execution = sfn.start_execution(stateMachineArn=machine, name="run-1", input='{"a": 1}')[
        "executionArn"
    ]

    events = _wait_for(lambda: (found := bus(execution)) and len(found) == 2 and found)
    assert _statuses(events) == ["RUNNING", "FAILED"]
    failed = events[1]
    assert failed["source"] == "aws.states"
    assert failed["detail-type"] == STATUS_CHANGE
    assert failed["resources"] == [execution]
    detail = failed["detail"]
    assert detail["stateMachineArn"] == machine
    assert detail["name"] == "run-1"
    assert (detail["error"], detail["cause"]) == ("Boom", "it broke")
    assert json.loads(detail["input"]) == {"a": 1}
    assert detail["output"] is None
    assert isinstance(detail["startDate"], int)
    assert detail["stopDate"] >= detail["startDate"]
    # the event is sent once the status is final: a target that describes the execution sees it
    assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"


def test_stopped_execution_sends_aborted(cloud: Any, bus: Any) -> None:
    machine = _machine(
        cloud,
        "waits",
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}},
    )
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    sfn.stop_execution(executionArn=execution, error="Operator", cause="stopped from the console")

    events = _wait_for(lambda: (found := bus(execution)) and len(found) == 2 and found)
    assert _statuses(events) == ["RUNNING", "ABORTED"]
    assert events[0]["detail"]["stopDate"] is None


def test_timed_out_execution_sends_timed_out(cloud: Any, bus: Any) -> None:
    machine = _machine(
        cloud,
        "slow",
        {
            "TimeoutSeconds": 1,
            "StartAt": "W",
            "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}},
        },
    )
    execution = cloud.client("stepfunctions").start_execution(stateMachineArn=machine)[
        "executionArn"
    ]

    events = _wait_for(lambda: (found := bus(execution)) and len(found) == 2 and found)
    assert _statuses(events) == ["RUNNING", "TIMED_OUT"]


def test_succeeded_execution_sends_its_output(cloud: Any, bus: Any) -> None:
    machine = _machine(
        cloud,
        "passes",
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}},
    )
    execution = cloud.client("stepfunctions").start_execution(stateMachineArn=machine)[
        "executionArn"
    ]

    events = _wait_for(lambda: (found := bus(execution)) and len(found) == 2 and found)
    succeeded = events[1]["detail"]
    assert succeeded["status"] == "SUCCEEDED"
    assert json.loads(succeeded["output"]) == {"ok": True}
    assert succeeded["error"] is None


@pytest.fixture
def reconciler(cloud: Any, role_arn: str) -> Iterator[str]:
    """The real reconcile handler as a Lambda function, as the construct will deploy it."""
    aws.client.cache_clear()
    events_module._client.cache_clear()
    cloud.client("dynamodb").create_table(**table_definition("ledger"))
    lam = cloud.client("lambda")
    arn = lam.create_function(
        FunctionName="reconcile",
        Runtime="python3.13",
        Role=role_arn,
        Handler="rollout.handlers.reconcile.handler",
        Code={"ZipFile": returns("unused")},
        Environment={"Variables": {"TABLE_NAME": "ledger"}},
    )["FunctionArn"]
    lambda_runtime.register_package_function("reconcile")
    try:
        yield str(arn)
    finally:
        lambda_runtime.unregister_package_function("reconcile")
        aws.client.cache_clear()
        events_module._client.cache_clear()


def test_stop_from_the_console_reaches_the_reconciler_through_a_rule(
    cloud: Any, lam: Any, role_arn: str, reconciler: str
) -> None:
    # Given orders-api on version 1 with 30% on version 2, mid-rollout
    lam.create_function(
        FunctionName="orders-api",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": returns("one")},
    )
    lam.publish_version(FunctionName="orders-api")
    lam.update_function_code(FunctionName="orders-api", ZipFile=returns("two"))
    lam.publish_version(FunctionName="orders-api")
    lam.create_alias(
        FunctionName="orders-api",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    machine = _machine(
        cloud,
        "TrafficShift",
        {"StartAt": "Bake", "States": {"Bake": {"Type": "Wait", "Seconds": 60, "End": True}}},
    )
    # and the reconciler's rule, as the construct will define it
    events = cloud.client("events")
    events.put_rule(
        Name="reconcile",
        EventPattern=json.dumps(
            {
                "source": ["aws.states"],
                "detail-type": [STATUS_CHANGE],
                "detail": {
                    "status": ["ABORTED", "TIMED_OUT", "FAILED"],
                    "stateMachineArn": [machine],
                },
            }
        ),
    )
    events.put_targets(Rule="reconcile", Targets=[{"Id": "fn", "Arn": reconciler}])
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=machine,
        input=json.dumps({"functionName": "orders-api", "alias": "live", "targetVersion": "2"}),
    )["executionArn"]
    ledger = Ledger("ledger", cloud.client("dynamodb"))
    now = time.time()
    ledger.record_deployment_started(
        Deployment(
            execution_id=execution,
            function_name="orders-api",
            alias="live",
            stable_version="1",
            target_version="2",
            plan=[{"percent": 30.0, "bakeSeconds": 60}, {"percent": 100.0, "bakeSeconds": 0}],
            poll_interval_seconds=10,
            started_at="2027-01-15T08:00:00.000+00:00",
        ),
        {},
        now,
    )
    ledger.acquire_lock("orders-api", "live", execution, 900, now)

    # When someone stops the execution from the console
    sfn.stop_execution(executionArn=execution)

    # Then the alias is back on version 1 alone, and the lock is free
    def restored() -> bool:
        alias = lam.get_alias(FunctionName="orders-api", Name="live")
        return not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")

    _wait_for(restored)
    assert lam.get_alias(FunctionName="orders-api", Name="live")["FunctionVersion"] == "1"
    _wait_for(lambda: ledger.lock("orders-api", "live") is None)
    record = ledger.deployment(execution)  # recorded before the lock was released
    assert record is not None
    assert record.outcome == "ROLLED_BACK"
