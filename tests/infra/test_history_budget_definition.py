"""The history budget's arithmetic (domain.budget), pinned against the synthesized
definition: the loops' states and the once-only tasks' retries it counts are the ones the
state machine has."""

from __future__ import annotations

from typing import Any

from rollout.domain import budget

_ONCE_TASKS = ("UpdateCode", "Prepare", "PreTraffic", "PostTraffic", "Promote", "Revert")
_EVENTS = {"Task": budget.TASK_EVENTS, "Wait": budget.WAIT_EVENTS, "Choice": budget.CHOICE_EVENTS}


def _events(state: dict[str, Any]) -> int:
    if state.get("Resource", "").endswith(".waitForTaskToken"):
        return budget.CALLBACK_TASK_EVENTS
    return _EVENTS[state["Type"]]


def test_each_loop_costs_what_the_budget_counts(definition: dict[str, Any]) -> None:
    states = definition["States"]
    bake, check, decide = states["Bake"], states["Check"], states["Decide"]
    assert (bake["Next"], check["Next"]) == ("Check", "Decide")
    assert sum(map(_events, (bake, check, decide))) == budget.BAKE_POLL_EVENTS
    gate = states["AwaitApproval"]
    assert gate["Next"] == "Check"
    assert sum(map(_events, (gate, check, decide))) == budget.GATE_POLL_EVENTS
    wait, publish = states["WaitForCode"], states["PublishArtifact"]
    assert (wait["Next"], publish["Next"]) == ("PublishArtifact", "CodePublished")
    assert sum(map(_events, (wait, publish, states["CodePublished"]))) == budget.CODE_POLL_EVENTS


def test_the_once_only_tasks_retries_are_what_the_budget_reserves(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    attempts = sum(
        retrier.get("MaxAttempts", 3)
        for name in _ONCE_TASKS
        for retrier in states[name].get("Retry", [])
    )
    assert attempts == budget.ONCE_RETRY_ATTEMPTS


def test_prepare_knows_the_state_machine_timeout(template_dict: dict[str, Any]) -> None:
    (machine,) = [
        r
        for r in template_dict["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    prepare = [
        r
        for r in template_dict["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "rollout.handlers.prepare.handler"
    ]
    (function,) = prepare
    env = function["Properties"]["Environment"]["Variables"]
    assert env["TRAFFICSHIFT_STATE_MACHINE_TIMEOUT_SECONDS"] == "691200"
    assert machine["Properties"]["DefinitionString"]  # its TimeoutSeconds is that too
