"""The task timeouts hold the clients' worst case: a brownout is a task error, not a timeout.

docs/decisions.md, "Time budgets under a brownout": one AWS call with every attempt used
takes at most `call_budget_seconds(CLIENT_CONFIG)` (24 s); a handler keeps
DEADLINE_MARGIN_SECONDS (3 s) to finish; the rollout tasks hold two such calls in full
(Check: DescribeAlarms and GetMetricData; SetWeight: UpdateAlias and the ledger's write).
A change of retries, timeouts or task sizes that breaks this fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.control_plane import ROLLOUT_TASK_TIMEOUT_SECONDS
from rollout.adapters.aws import CLIENT_CONFIG, DEADLINE_MARGIN_SECONDS, call_budget_seconds

ROLLOUT_TASKS = ("SetWeight", "Check", "Promote", "Revert")
FULL_CALLS_PER_ROLLOUT_TASK = 2


def _timeouts(template_dict: dict[str, Any]) -> dict[str, int]:
    """Each function's Timeout, by its description's name ("trafficshift Check task")."""
    out = {}
    for resource in template_dict["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        description = str(resource["Properties"].get("Description", ""))
        if description.startswith("trafficshift "):
            out[description.split()[1]] = int(resource["Properties"]["Timeout"])
    return out


def test_every_function_holds_one_call_with_every_attempt(template_dict: dict[str, Any]) -> None:
    timeouts = _timeouts(template_dict)
    assert set(ROLLOUT_TASKS) <= set(timeouts)
    needed = call_budget_seconds(CLIENT_CONFIG) + DEADLINE_MARGIN_SECONDS
    assert {name: t for name, t in timeouts.items() if t < needed} == {}


@pytest.mark.parametrize("task", ROLLOUT_TASKS)
def test_a_rollout_task_holds_two_calls_with_every_attempt(
    template_dict: dict[str, Any], task: str
) -> None:
    worst = FULL_CALLS_PER_ROLLOUT_TASK * call_budget_seconds(CLIENT_CONFIG)
    assert _timeouts(template_dict)[task] == ROLLOUT_TASK_TIMEOUT_SECONDS
    assert worst + DEADLINE_MARGIN_SECONDS <= ROLLOUT_TASK_TIMEOUT_SECONDS


def _retried(state: dict[str, Any]) -> set[str]:
    return {error for retry in state.get("Retry", []) for error in retry["ErrorEquals"]}


@pytest.mark.parametrize("task", ["Prepare", "SetWeight", "Promote", "Revert"])
def test_a_brownout_that_outlasts_the_clients_retries_is_retried_by_the_workflow(
    definition: dict[str, Any], task: str
) -> None:
    # Revert above all: a revert lost to a brownout would leave the alias half-shifted
    assert "ServiceUnavailable" in _retried(definition["States"][task])
