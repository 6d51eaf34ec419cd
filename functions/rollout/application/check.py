"""Check: read the health (alarms, the analysis, the operator's signals) and judge."""

from __future__ import annotations

from rollout.application.evidence import analysis_view
from rollout.application.ports import (
    AlarmsPort,
    EventsPort,
    LedgerPort,
    MetricsPort,
)
from rollout.domain import ledger as ledger_domain
from rollout.domain import rollout as domain
from rollout.domain.errors import (
    LeaseLost,
    ServiceUnavailable,
    Throttled,
)
from rollout.domain.events import DetailType, event_for
from rollout.domain.rollout import (
    Health,
    OperatorDirective,
    RolloutState,
)


def check(
    state: RolloutState,
    *,
    alarms: AlarmsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
    metrics: MetricsPort | None = None,
    approved_by_token: str | None = None,
) -> RolloutState:
    """`approved_by_token`: who approved through the gate's task token, if anyone."""
    names = state.deployment.alarms
    # A degraded read (throttled, 5xx, timed out, or too little of the task's time left) is
    # a counted health-read failure, never a task error that Revert would catch: the
    # ledger's lease and signals too (DynamoDB in a brownout).
    try:
        alarm_states = alarms.states(names) if names else {}
        analysis = analysis_view(state, metrics, now)
        operator = _operator_view(state, ledger, events, now)
    except (Throttled, ServiceUnavailable) as exc:
        return domain.health_unreadable(state, str(exc), now)
    if approved_by_token and not operator.approved_by:
        operator = operator.model_copy(update={"approved_by": approved_by_token})
    health = Health(alarms=alarm_states, analysis=analysis, operator=operator)
    judged = domain.judge(state, health, now)
    _announce_gate(state, judged, events, now)
    return judged


def _announce_gate(
    before: RolloutState, after: RolloutState, events: EventsPort, now: float
) -> None:
    """Emit the approval gate's transitions: opened (once) and approved."""
    d, was, now_cursor = before.deployment, before.cursor, after.cursor
    if now_cursor.approved_by and not was.approved_by:
        text = f"approved by {now_cursor.approved_by} before 100%"
        events.emit(event_for(d, DetailType.APPROVED, text, now, weight_percent=was.weight_percent))
    elif now_cursor.decision is domain.Decision.APPROVE and not was.approval_requested_at:
        events.emit(
            event_for(
                d,
                DetailType.AWAITING_APPROVAL,
                now_cursor.reason,
                now,
                weight_percent=was.weight_percent,
            )
        )


def _operator_view(
    state: RolloutState, ledger: LedgerPort, events: EventsPort, now: float
) -> OperatorDirective:
    """Keep the alias's lease, and fold the operator's signals into the Check's directive.

    Renews the lock once half its lease is gone (one write every few polls); a lock that
    another execution took over (ours expired) ends this rollout with LeaseLost, and Revert
    then leaves the alias to its new owner. Emits Paused / Resumed on the transitions.
    """
    d, cursor = state.deployment, state.cursor
    lease = ledger_domain.alias_lease_seconds(d.poll_interval_seconds, d.horizon_seconds)
    held = ledger.lock(d.function_name, d.alias)
    if (
        held is None
        or held.owner != d.execution_id
        or ledger_domain.should_renew(held.lease_expires_at, now, lease)
    ):
        renewed = ledger.renew_lock(d.function_name, d.alias, d.execution_id, lease, now)
        if not renewed.acquired:
            raise LeaseLost(
                f"the lock on {d.qualified} expired and {renewed.owner} holds it now; "
                "this rollout stops and leaves the alias to it"
            )
    view = ledger_domain.fold_signals(
        ledger.signals(d.execution_id), now, since=cursor.step_started_at
    )
    was_paused = cursor.reason.startswith("paused by")
    paused = view.directive is ledger_domain.Directive.PAUSED
    if paused != was_paused and view.directive is not ledger_domain.Directive.ABORT:
        kind = DetailType.PAUSED if paused else DetailType.RESUMED
        text = view.reason if paused else f"resumed at {domain._iso(now)}"
        events.emit(event_for(d, kind, text, now, weight_percent=cursor.weight_percent))
    return OperatorDirective(
        action=view.directive.value,
        by=view.by or "",
        paused_seconds=view.paused_seconds,
        approved_by=view.approved_by if view.approved else "",
    )
