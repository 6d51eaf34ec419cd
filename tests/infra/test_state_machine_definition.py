"""The deployment state machine's shape: the contract with the handlers and the emulator."""

from __future__ import annotations

import re
from typing import Any

import pytest

TASKS = [
    "Prepare",
    "SetWeight",
    "Check",
    "Promote",
    "Revert",
    "UpdateCode",
    "PublishArtifact",
    "PreTraffic",
    "PostTraffic",
    "AwaitApproval",
]


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = definition["States"]
    return states


def test_state_names_are_exactly_the_contract(definition: dict[str, Any]) -> None:
    # Given the synthesized definition / Then the states are the ones the handlers expect
    assert definition["StartAt"] == "Source"
    assert {name: state["Type"] for name, state in _states(definition).items()} == {
        "Source": "Choice",
        "UpdateCode": "Task",
        "WaitForCode": "Wait",
        "PublishArtifact": "Task",
        "CodePublished": "Choice",
        "Prepare": "Task",
        "HasPreTrafficHook": "Choice",
        "PreTraffic": "Task",
        "SetWeight": "Task",
        "Bake": "Wait",
        "Check": "Task",
        "Decide": "Choice",
        "AwaitApproval": "Task",
        "HasPostTrafficHook": "Choice",
        "PostTraffic": "Task",
        "Promote": "Task",
        "Promoted": "Succeed",
        "Revert": "Task",
        "RolledBack": "Fail",
    }


def test_every_task_but_revert_catches_everything_into_revert(definition: dict[str, Any]) -> None:
    tasks = {n: s for n, s in _states(definition).items() if s["Type"] == "Task"}
    assert sorted(tasks) == sorted(TASKS)
    for name, state in tasks.items():
        if name == "Revert":
            # A failing Revert must fail the execution (the reconciler takes over), never loop.
            assert "Catch" not in state
            continue
        caught = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Revert"}]
        if name == "AwaitApproval":
            # A gate wait that times out goes back to Check (health, signals, a new wait).
            caught = [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "Check"},
                *caught,
            ]
        assert state.get("Catch") == caught, name


def test_the_approval_gate_waits_on_a_token_for_one_gate_poll_then_checks_again(
    definition: dict[str, Any],
) -> None:
    gate = _states(definition)["AwaitApproval"]
    assert gate["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert gate["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert re.fullmatch(
        r"arn:placeholder:ControlPlaneAwaitApprovalFunction[0-9A-F]{8}\.Arn",
        gate["Parameters"]["FunctionName"],
    )
    assert gate["TimeoutSecondsPath"] == "$.cursor.waitSeconds"
    assert gate["ResultPath"] == "$.approval"  # SendTaskSuccess's output, read by Check
    assert gate["Next"] == "Check"


@pytest.mark.parametrize(
    ("choice", "phase", "task", "then"),
    [
        ("HasPreTrafficHook", "preTraffic", "PreTraffic", "SetWeight"),
        ("HasPostTrafficHook", "postTraffic", "PostTraffic", "Promote"),
    ],
)
def test_each_hook_runs_only_when_the_deployment_names_one(
    definition: dict[str, Any], choice: str, phase: str, task: str, then: str
) -> None:
    states = _states(definition)
    assert states[choice]["Choices"] == [
        {"Variable": f"$.deployment.hooks.{phase}", "IsPresent": True, "Next": task}
    ]
    assert states[choice]["Default"] == then
    assert states[task]["Next"] == then
    assert states[task]["Parameters"]["phase"] == phase


def test_the_happy_path_loops_bake_check_decide_until_promoted(
    definition: dict[str, Any],
) -> None:
    states = _states(definition)
    assert states["Prepare"]["Next"] == "HasPreTrafficHook"
    assert states["SetWeight"]["Next"] == "Bake"
    assert states["Bake"]["Next"] == "Check"
    assert states["Check"]["Next"] == "Decide"
    assert states["Promote"]["Next"] == "Promoted"
    assert states["Revert"]["Next"] == "RolledBack"


def test_decide_routes_each_decision_and_anything_else_reverts(
    definition: dict[str, Any],
) -> None:
    decide = _states(definition)["Decide"]
    routes = {
        choice["StringEquals"]: choice["Next"]
        for choice in decide["Choices"]
        if choice["Variable"] == "$.cursor.decision"
    }
    assert len(routes) == len(decide["Choices"])
    assert routes == {
        "continue": "Bake",
        "advance": "SetWeight",
        "promote": "HasPostTrafficHook",
        "approve": "AwaitApproval",
        "fail": "Revert",
    }
    assert decide["Default"] == "Revert"


def test_bake_waits_for_the_seconds_the_plan_computes(definition: dict[str, Any]) -> None:
    bake = _states(definition)["Bake"]
    assert bake["SecondsPath"] == "$.cursor.waitSeconds"
    assert "Seconds" not in bake


@pytest.mark.parametrize("task", [t for t in TASKS if t != "AwaitApproval"])
def test_tasks_invoke_the_plain_function_arn(definition: dict[str, Any], task: str) -> None:
    state = _states(definition)[task]
    # payload_response_only: the Resource is the function's ARN, not lambda:invoke.
    assert re.fullmatch(
        rf"arn:placeholder:ControlPlane{task}Function[0-9A-F]{{8}}\.Arn", state["Resource"]
    )


def test_prepare_gets_the_execution_input_id_and_start_time(definition: dict[str, Any]) -> None:
    prepare = _states(definition)["Prepare"]
    assert prepare["Parameters"] == {
        "input.$": "$",
        "executionId.$": "$$.Execution.Id",
        "executionStartTime.$": "$$.Execution.StartTime",
    }
    assert prepare["ResultPath"] == "$"


@pytest.mark.parametrize(
    ("task", "result_path"),
    [("SetWeight", "$"), ("Check", "$"), ("Promote", "$"), ("Revert", "$.failure")],
)
def test_later_tasks_get_the_state_and_execution_id(
    definition: dict[str, Any], task: str, result_path: str
) -> None:
    state = _states(definition)[task]
    assert state["Parameters"] == {"state.$": "$", "executionId.$": "$$.Execution.Id"}
    assert state["ResultPath"] == result_path


def _retry(state: dict[str, Any], error: str) -> dict[str, Any]:
    (retry,) = [r for r in state["Retry"] if error in r["ErrorEquals"]]
    return retry


@pytest.mark.parametrize(
    "task", ["Prepare", "SetWeight", "Check", "Promote", "UpdateCode", "PublishArtifact"]
)
def test_tasks_retry_throttling_with_jitter_then_revert(
    definition: dict[str, Any], task: str
) -> None:
    retry = _retry(_states(definition)[task], "Throttled")
    assert retry == {
        "ErrorEquals": ["Throttled", "ServiceUnavailable", "Lambda.TooManyRequestsException"],
        "IntervalSeconds": 1,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }


def test_tasks_keep_cdks_lambda_service_exception_retry(definition: dict[str, Any]) -> None:
    for task in TASKS:
        retry = _retry(_states(definition)[task], "Lambda.ServiceException")
        assert "Lambda.SdkClientException" in retry["ErrorEquals"], task


def test_prepare_waits_for_a_function_that_is_not_ready(definition: dict[str, Any]) -> None:
    # A SnapStart version is Pending until its snapshot exists (Lambda guide: "Activating and
    # managing Lambda SnapStart"): minutes, so the budget is about ten (the README says it).
    from infra.control_plane import function_not_ready_budget_seconds

    retry = _retry(_states(definition)["Prepare"], "FunctionNotReady")
    assert retry == {
        "ErrorEquals": ["FunctionNotReady"],
        "IntervalSeconds": 2,
        "MaxAttempts": 25,
        "BackoffRate": 1.5,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }
    assert 540 <= function_not_ready_budget_seconds() <= 660


@pytest.mark.parametrize("task", ["SetWeight", "Promote", "Revert"])
def test_tasks_that_update_the_alias_wait_for_a_function_that_is_not_ready(
    definition: dict[str, Any], task: str
) -> None:
    # UpdateAlias answers 409 ResourceConflictException while the function is being updated
    # ("Lambda function states"): FunctionNotReady is retried, never caught into Revert.
    retry = _retry(_states(definition)[task], "FunctionNotReady")
    assert retry["MaxAttempts"] >= 25
    assert retry["JitterStrategy"] == "FULL"


def test_revert_retries_throttling_for_about_an_hour(definition: dict[str, Any]) -> None:
    revert = _states(definition)["Revert"]
    retry = _retry(revert, "Throttled")
    assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"]
    assert retry["MaxAttempts"] >= 60
    assert retry["JitterStrategy"] == "FULL"
    assert retry["MaxDelaySeconds"] == 60
    # Without jitter the schedule is 1, 2, 4, ... capped at 60 s: about 55 minutes.
    delays = [
        min(retry["IntervalSeconds"] * retry["BackoffRate"] ** n, retry["MaxDelaySeconds"])
        for n in range(retry["MaxAttempts"])
    ]
    assert sum(delays) >= 50 * 60


def test_revert_retries_any_other_error_last(definition: dict[str, Any]) -> None:
    revert = _states(definition)["Revert"]
    assert revert["Retry"][-1] == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 2,
        "MaxAttempts": 5,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }


def test_rolled_back_fails_with_the_reverts_error_and_cause(definition: dict[str, Any]) -> None:
    rolled_back = _states(definition)["RolledBack"]
    assert rolled_back == {
        "Type": "Fail",
        "ErrorPath": "$.failure.error",
        "CausePath": "$.failure.cause",
    }


def test_a_deployment_times_out_after_eight_days(definition: dict[str, Any]) -> None:
    assert definition["TimeoutSeconds"] == 8 * 24 * 3600
