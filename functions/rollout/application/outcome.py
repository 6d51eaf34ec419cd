"""Promote and Revert: the alias's last write, the outcome in the ledger, its event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollout.application.ports import (
    EventsPort,
    FunctionsPort,
    LedgerPort,
)
from rollout.application.shift import shift_alias
from rollout.domain import ledger as ledger_domain
from rollout.domain import rollout as domain
from rollout.domain.events import DeploymentEvent, event_for
from rollout.domain.ledger import Outcome, OutcomeResult
from rollout.domain.reconcile import identity_from_input
from rollout.domain.rollout import (
    Failure,
    RevertAction,
    RolloutState,
)


def promote(
    state: RolloutState,
    *,
    functions: FunctionsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> dict[str, Any]:
    d, cursor = state.deployment, state.cursor
    revision = cursor.revision_id
    if cursor.weight_percent < 100:
        updated = shift_alias(
            functions, d, primary=d.target_version, additional={}, revision_id=revision
        )
        revision = updated.revision_id
    outcome = domain.promoted(state, now, revision)
    _record_end(
        state,
        Outcome.PROMOTED,
        cursor.reason or f"version {d.target_version} promoted",
        ledger,
        events,
        now,
        details={"revisionId": revision, "weightPercentBefore": cursor.weight_percent},
    )
    return outcome


def revert(
    raw_state: Mapping[str, Any] | None,
    *,
    functions: FunctionsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
    execution: str,
) -> tuple[Failure, str]:
    """Put the alias back on the stable version if, and only if, we moved it.

    Returns the failure for the execution's Fail state, and what was done (for the log).
    Records the outcome, then frees the alias's lock (if ours), then emits the event.
    """
    raw = raw_state or {}
    if "deployment" not in raw or "cursor" not in raw:
        refused = domain.refusal(raw)
        record_refusal(raw, refused, execution, ledger, events, now)
        return refused, "nothing to revert: Prepare did not finish"
    state = RolloutState.model_validate(raw)
    d = state.deployment
    reason = domain.failure_reason(raw)
    # Another execution holds the alias now (our lease expired): not ours to touch.
    holder = ledger.lock(d.function_name, d.alias)
    if holder is not None and ledger_domain.held_by_another(holder, d.execution_id, now):
        lost = Failure(
            error="LeaseLost",
            cause=(
                f"Stopped rolling out {d.qualified} ({reason[0]}: {reason[1]}); {holder.owner} "
                "holds the alias now, so it was left as it is."
            ),
        )
        _record_end(state, Outcome.FAILED, lost.cause, ledger, events, now)
        return lost, "nothing: another execution holds the alias"
    alias = functions.get_alias(d.function_name, d.alias)
    found = alias  # what the revert found: the Cause says what it undid
    action = domain.revert_action(d, alias)
    if action is RevertAction.RESTORE:
        # The RevisionId just read makes Lambda refuse the write if anyone changes the alias
        # in between; the state machine then retries Revert, which reads again.
        alias = functions.update_alias(
            d.function_name,
            d.alias,
            primary=d.stable_version,
            additional={},
            revision_id=alias.revision_id,
        )
    failure = domain.revert_failure(state, action, alias, reason, found=found)
    outcome = ledger_domain.revert_outcome(action, reason[0], state.cursor.step_index)
    _record_end(
        state,
        outcome,
        failure.cause,
        ledger,
        events,
        now,
        details={"revert": action.value, "weightPercentBefore": state.cursor.weight_percent},
    )
    return failure, action.value


def _record_end(
    state: RolloutState,
    outcome: Outcome,
    reason: str,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
    *,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Close the history (first outcome wins), then free the lock if ours (whoever finds it
    free finds what happened), then emit its event."""
    d = state.deployment
    if state.steps:
        ledger.record_deployment_step(d.execution_id, state.steps[-1], now)
    recorded = ledger.record_deployment_outcome(
        d.execution_id,
        outcome,
        reason,
        now,
        details=details
        if details is not None
        else {"revert": None, "weightPercentBefore": state.cursor.weight_percent},
        function_name=d.function_name,
        alias=d.alias,
    )
    ledger.release_lock(d.function_name, d.alias, d.execution_id)
    _announce_outcome(d, recorded, ledger, events, now)


def _announce_outcome(
    d: domain.Deployment,
    recorded: OutcomeResult,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> None:
    """Emit the recorded outcome's event while the ledger marks it pending, then clear it.

    At least once: a task that died between recording the outcome and clearing the marker
    left it set, so its retry (finding the outcome already recorded) sends the event, maybe
    again; subscribers dedupe on the execution ARN and detail-type. A cleared marker means
    sent: the usual retry emits nothing. An emit that failed leaves the marker set.
    """
    if not recorded.event_pending or recorded.outcome is None:
        return
    weight = 100.0 if recorded.outcome is Outcome.PROMOTED else None
    kind = ledger_domain.outcome_event_type(recorded.outcome)
    if events.emit(event_for(d, kind, recorded.reason, now, weight_percent=weight)):
        ledger.outcome_event_sent(d.execution_id)


def record_refusal(
    raw: Mapping[str, Any],
    refused: Failure,
    execution: str,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> None:
    """Prepare did not finish: record the refusal and free the lock if this run took it.

    The record matters beyond history: the reconciler sees a finished deployment and leaves
    the alias alone (it may be split by the very rollout that made this one refused).

    A refusal (bad input, pre-flight, a busy alias) announces nothing: nothing started. A
    deployment that failed before Prepare finished for any other reason (its runtime
    crashed or timed out, a service stayed unavailable) announces "Deployment Failed",
    at least once like every outcome: its "Deployment Started" may be out already, and a
    subscriber waiting for the outcome must hear one (found by bench/chaos.py).
    """
    identity = identity_from_input(raw)
    if identity is None or not execution:
        return  # no function and alias to key a record on (e.g. an upload refused early)
    function_name, alias, target = identity
    refusal = refused.error in domain.REFUSALS
    recorded = ledger.record_deployment_outcome(
        execution,
        Outcome.REFUSED if refusal else Outcome.FAILED,
        refused.cause,
        now,
        details={"error": refused.error},
        function_name=function_name,
        alias=alias,
        event_pending=not refusal,
    )
    ledger.release_lock(function_name, alias, execution)
    if refusal or not recorded.event_pending or recorded.outcome is None:
        return
    failed = DeploymentEvent(
        detail_type=ledger_domain.outcome_event_type(recorded.outcome),
        execution_arn=execution,
        function_name=function_name,
        alias=alias,
        target_version=target,
        reason=recorded.reason or refused.cause,
        time=domain._iso(now),
    )
    if events.emit(failed):
        ledger.outcome_event_sent(execution)
