"""Step Functions' hard limits, as AWS enforces them: history events, payload size, Cause.

Each test pins one fidelity patch of `trafficshift.emulator.fidelity.stepfunctions` and
cites the AWS source in its docstring (docs/decisions.md, 11.2).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import code_zip

from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.fidelity import stepfunctions
from trafficshift.emulator.fidelity.stepfunctions import MAX_CAUSE, history_limit_cause


def _machine(cloud: LocalCloud, role_arn: str, definition: dict[str, Any]) -> str:
    return str(
        cloud.client("stepfunctions").create_state_machine(
            name=f"limits-{time.monotonic_ns()}",
            definition=json.dumps(definition),
            roleArn=role_arn,
        )["stateMachineArn"]
    )


def _run(cloud: LocalCloud, machine: str, payload: Any, timeout: float = 20) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


def test_the_history_limit_is_25000_events() -> None:
    """AWS: "Maximum execution history size: 25,000 events" ("Step Functions service quotas")."""
    assert stepfunctions.HISTORY_LIMIT == 25_000
    assert history_limit_cause() == (
        "The execution reached the maximum number of history events (25000)."
    )


def test_an_execution_fails_when_its_history_reaches_the_limit(
    cloud: LocalCloud, role_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS: "Maximum execution history size: 25,000 events ... If the execution history
    reaches this quota the execution fails" ("Step Functions service quotas"); it fails with
    States.Runtime, "The execution reached the maximum number of history events (25000).",
    event 25,000 being the ExecutionFailed itself (measured on AWS: floci-io/floci#2734)."""
    # Given a loop that never ends on its own (and a tenth of the limit: 25,000 events
    # take moto 20 s; the count is the same code)
    monkeypatch.setattr(stepfunctions, "HISTORY_LIMIT", 2_500)
    machine = _machine(
        cloud,
        role_arn,
        {
            "StartAt": "Spin",
            "States": {
                "Spin": {"Type": "Pass", "Next": "Again"},
                "Again": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.spin", "BooleanEquals": True, "Next": "Spin"}],
                    "Default": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
        },
    )
    # When it runs
    finished = _run(cloud, machine, {"spin": True})
    # Then the execution fails at the limit's last event, with AWS's error and cause
    assert finished["status"] == "FAILED"
    assert finished["error"] == "States.Runtime"
    assert finished["cause"] == history_limit_cause(2_500)
    events = cloud.client("stepfunctions").get_execution_history(
        executionArn=finished["executionArn"]
    )["events"]
    assert len(events) == 2_500
    assert (events[-1]["id"], events[-1]["type"]) == (2_500, "ExecutionFailed")


_LARGE = "def handler(event, context):\n    return {'blob': 'x' * (300 * 1024)}\n"


def test_an_oversized_task_output_fails_the_execution_past_its_states_all_catch(
    cloud: LocalCloud, role_arn: str
) -> None:
    """AWS: States.DataLimitExceeded is raised when "the output of a state is larger than
    payload size quota" (256 KiB as UTF-8, "Step Functions service quotas"), and "States.ALL
    ... can't catch the States.DataLimitExceeded terminal error type" ("Error handling in
    Step Functions workflows", Error names): the Catch into cleanup never runs."""
    # Given a task whose output is 300 KiB, caught (States.ALL) into a cleanup state
    function = cloud.client("lambda").create_function(
        FunctionName="too-large",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(_LARGE)},
    )["FunctionArn"]
    machine = _machine(
        cloud,
        role_arn,
        {
            "StartAt": "Big",
            "States": {
                "Big": {
                    "Type": "Task",
                    "Resource": function,
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Cleanup"}
                    ],
                    "End": True,
                },
                "Cleanup": {"Type": "Succeed"},
            },
        },
    )
    # When it runs
    finished = _run(cloud, machine, {})
    # Then the execution fails with DataLimitExceeded: Cleanup never ran
    assert finished["status"] == "FAILED"
    assert finished["error"] == "States.DataLimitExceeded"
    history = cloud.client("stepfunctions").get_execution_history(
        executionArn=finished["executionArn"], maxResults=1000
    )["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert "Cleanup" not in entered


def _fail_with_cause(cloud: LocalCloud, role_arn: str) -> str:
    return _machine(
        cloud,
        role_arn,
        {
            "StartAt": "Fail",
            "States": {"Fail": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}},
        },
    )


def test_a_cause_of_32768_characters_reaches_the_execution_whole(
    cloud: LocalCloud, role_arn: str
) -> None:
    """AWS: an execution's failure cause has "Maximum length of 32768"
    (API_ExecutionFailedEventDetails): a Cause of exactly that length is kept."""
    cause = "c" * MAX_CAUSE

    finished = _run(cloud, _fail_with_cause(cloud, role_arn), {"error": "Mine", "cause": cause})

    assert (finished["error"], finished["cause"]) == ("Mine", cause)


def test_a_cause_over_32768_characters_never_reaches_anyone(
    cloud: LocalCloud, role_arn: str
) -> None:
    """AWS: a failure's cause has "Maximum length of 32768" (API_ExecutionFailedEventDetails,
    TaskFailedEventDetails). AWS documents no truncation for a longer Cause from a Fail state:
    the emulator takes the strict reading and fails the execution with States.Runtime naming
    the limit, so no code tested here relies on a longer Cause."""
    finished = _run(
        cloud, _fail_with_cause(cloud, role_arn), {"error": "Mine", "cause": "c" * (MAX_CAUSE + 1)}
    )

    assert finished["status"] == "FAILED"
    assert finished["error"] == "States.Runtime"
    assert str(MAX_CAUSE) in finished["cause"]


def test_send_task_failure_refuses_a_cause_over_32768_characters(cloud: LocalCloud) -> None:
    """AWS: SendTaskFailure's `cause` has "Maximum length of 32768" (API_SendTaskFailure); a
    longer one is refused with ValidationException "Member must have length less than or
    equal to 32768" (seen on AWS in irothschild/stefuna#8)."""
    with pytest.raises(ClientError) as refused:
        cloud.client("stepfunctions").send_task_failure(
            taskToken="t" * 10, error="Mine", cause="c" * (MAX_CAUSE + 1)
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
