"""The gates: the pre- and post-traffic hooks, and the approval's task token."""

from __future__ import annotations

from typing import Any

from rollout.application.ports import (
    ApprovalPort,
    EventsPort,
    FunctionsPort,
    HookPort,
)
from rollout.application.shift import shift_alias
from rollout.domain import gates
from rollout.domain import rollout as domain
from rollout.domain.errors import (
    HookFailed,
)
from rollout.domain.events import DetailType, event_for
from rollout.domain.rollout import (
    RolloutState,
)


def run_hook(
    state: RolloutState,
    phase: str,
    *,
    functions: FunctionsPort,
    hooks: HookPort,
    events: EventsPort,
    now: float,
) -> RolloutState:
    """Invoke the deployment's `phase` hook; raise HookFailed (-> Revert) unless it passes.

    postTraffic runs with the new version on 100%: if the rollout was promoted early (an
    operator's promote-now), the alias is moved there first, with the RevisionId last read.
    """
    if phase not in gates.HOOK_PHASES:
        raise ValueError(f"unknown hook phase {phase!r}")
    d, cursor = state.deployment, state.cursor
    reference = (d.hooks or {}).get(phase)
    if not reference:
        return state  # the Choice before the hook task makes this unreachable
    if phase == "postTraffic" and cursor.weight_percent < 100:
        # A retry of this task (the hook's Invoke throttled) finds its own write done.
        updated = shift_alias(
            functions, d, primary=d.target_version, additional={}, revision_id=cursor.revision_id
        )
        cursor = cursor.model_copy(
            update={"weight_percent": 100.0, "revision_id": updated.revision_id}
        )
    context = gates.hook_context(
        "postTraffic" if phase == "postTraffic" else "preTraffic",
        execution_id=d.execution_id,
        function_name=d.function_name,
        alias=d.alias,
        stable_version=d.stable_version,
        target_version=d.target_version,
        weight_percent=cursor.weight_percent,
    )
    function_error, answer = hooks.invoke(reference, context)
    passed, why = gates.hook_verdict(function_error, answer)
    if not passed:
        raise HookFailed(f"the {phase} hook {reference} {why}")
    text = f"the {phase} hook {reference} passed"
    events.emit(
        event_for(d, DetailType.HOOK_PASSED, text, now, weight_percent=cursor.weight_percent)
    )
    record = {"phase": phase, "function": reference, "passedAt": domain._iso(now)}
    return state.model_copy(
        update={"cursor": cursor, "hook_results": [*state.hook_results, record]}
    )


def request_approval(
    state: RolloutState, task_token: Any, *, ledger: ApprovalPort, now: float
) -> None:
    """Leave the gate's task token in the ledger, where `trafficshift approve` finds it.

    The state machine then waits on the token (waitForTaskToken) for one gate wait; each
    wait has a token of its own, and the newest one is the one in the ledger.
    """
    token = task_token
    if not isinstance(token, str) or not token:
        raise ValueError("the approval gate was invoked without a task token")
    d = state.deployment
    timeout = d.approval_timeout_seconds or gates.APPROVAL_DEFAULT_TIMEOUT_SECONDS
    ledger.request_approval(d.execution_id, token, now, timeout)
