"""The reconciler's use cases: clean up after executions that ended outside Revert.

Two triggers, one rule:
- `on_status_change`: EventBridge's "Step Functions Execution Status Change" for one of our
  executions that ended ABORTED, TIMED_OUT or FAILED (StopExecution skips every Catch);
- `sweep`: on a schedule, every lock and every deployment without an outcome (or with its
  outcome's event still pending) in the ledger whose execution no longer runs (EventBridge
  delivers Step Functions events best-effort).

For each: find the deployment (the ledger's record, else the execution's input), read the
alias, restore the stable version if the alias routes to exactly our stable/target pair
(guarded by the RevisionId just read), release the lock if this execution holds it, record
the outcome (first outcome wins) and emit an event. Running it twice changes nothing the
second time and emits nothing. A deployment whose outcome is recorded with its event still
pending (the task died in between, or its emit failed) gets that event sent here, once the
execution ended, without touching the alias; the sweep finds it because the record stays
in the `Open` index until the marker is cleared.

Nothing here reads the environment or builds a client: the handler passes the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rollout.application.ports import (
    EventsPort,
    ExecutionsPort,
    FunctionsPort,
    ReconcilerLedgerPort,
)
from rollout.domain import ledger as ledger_domain
from rollout.domain import reconcile as reconcile_domain
from rollout.domain.errors import AliasChangedConcurrently, NotFound
from rollout.domain.events import DeploymentEvent
from rollout.domain.ledger import DeploymentRecord, OpenItem, Outcome
from rollout.domain.reconcile import ExecutionInfo, Reconciled, ReconcileReport
from rollout.domain.rollout import AliasSnapshot, Deployment, RevertAction, revert_action

__all__ = [
    "Ports",
    "ReconcileIncomplete",
    "SweepReport",
    "on_status_change",
    "reconcile_execution",
    "sweep",
]

_RESTORE_ATTEMPTS = 3  # the alias changed between our read and our write: read and decide again


@dataclass(frozen=True)
class Ports:
    functions: FunctionsPort
    ledger: ReconcilerLedgerPort
    executions: ExecutionsPort
    events: EventsPort


class ReconcileIncomplete(Exception):
    """The sweep could not reconcile some executions (each is retried by the next sweep)."""


@dataclass
class SweepReport:
    reconciled: list[ReconcileReport] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {"reconciled": [r.wire() for r in self.reconciled], "errors": self.errors}


def on_status_change(
    event: Mapping[str, Any], *, ports: Ports, now: float, state_machine_arn: str | None = None
) -> ReconcileReport | None:
    """Reconcile the execution an EventBridge status-change event is about; None if the event
    is not about one of our executions ending badly."""
    change = reconcile_domain.parse_status_change(event)
    if change is None or change.status not in reconcile_domain.ENDED_BADLY:
        return None
    if state_machine_arn and change.state_machine_arn != state_machine_arn:
        return None
    return reconcile_execution(
        change.execution_arn,
        status=change.status,
        error=change.error,
        cause=change.cause,
        execution_input=change.input,
        ports=ports,
        now=now,
    )


def sweep(*, ports: Ports, now: float) -> SweepReport:
    """Reconcile every lock, unfinished deployment and deployment whose outcome's event is
    pending, once its execution no longer runs (the event is sent from the record as read
    now, so an index entry not yet gone after the marker was cleared sends nothing)."""
    report = SweepReport()
    candidates: dict[str, OpenItem] = {}
    for item in ports.ledger.find_unfinished():
        if item.execution_arn and (
            item.execution_arn not in candidates or item.kind == "deployment"
        ):
            candidates[item.execution_arn] = item
    for execution, item in sorted(candidates.items()):
        try:
            try:
                info = ports.executions.describe(execution)
            except NotFound:
                info = ExecutionInfo(execution_arn=execution, status=reconcile_domain.MISSING)
            if info.live:
                continue
            report.reconciled.append(
                reconcile_execution(
                    execution,
                    status=info.status,
                    error=info.error,
                    cause=info.cause,
                    execution_input=info.input,
                    where=(item.function_name, item.alias),
                    ports=ports,
                    now=now,
                    described=True,
                )
            )
        except Exception as exc:  # one bad execution must not stop the sweep of the others
            report.errors.append(
                {"executionArn": execution, "error": type(exc).__name__, "message": str(exc)}
            )
    return report


def reconcile_execution(
    execution: str,
    *,
    status: str,
    ports: Ports,
    now: float,
    error: str | None = None,
    cause: str | None = None,
    execution_input: Mapping[str, Any] | None = None,
    where: tuple[str, str] | None = None,
    described: bool = False,
) -> ReconcileReport:
    """Leave the alias of an ended execution as if Revert had run; idempotent.

    `where` (function, alias) comes from a lock found by the sweep; `described` says that
    `execution_input` already is what DescribeExecution returned.
    """
    report = ReconcileReport(execution_arn=execution, status=status, action=Reconciled.UNKNOWN)
    if status in reconcile_domain.LIVE:
        return report.model_copy(
            update={"action": Reconciled.RUNNING, "reason": "the execution still runs"}
        )
    record = ports.ledger.deployment(execution)
    if record is not None and record.finished:
        released = ports.ledger.release_lock(record.function_name, record.alias, execution)
        return report.model_copy(
            update={
                "action": Reconciled.FINISHED,
                "function_name": record.function_name,
                "alias": record.alias,
                "lock_released": released,
                "event": _send_pending_outcome_event(record, status, ports, now),
                "reason": f"the deployment already recorded its outcome ({record.outcome})",
            }
        )
    deployment = record.as_deployment() if record is not None else None
    if deployment is not None:
        function_name, alias_name = deployment.function_name, deployment.alias
        target: str | None = deployment.target_version
    else:
        identity = _identity(execution, record, execution_input, where, ports, described)
        if identity is None:
            return report.model_copy(
                update={"reason": "no ledger record, and the input names no function and alias"}
            )
        function_name, alias_name, target = identity
    # Restore only for the execution that still holds the alias, or a free one: never over
    # a newer rollout that took the lock after this one (reconcile_domain.may_restore).
    lock = ports.ledger.lock(function_name, alias_name)
    allowed = reconcile_domain.may_restore(lock, execution)
    try:
        action, alias = _restore(
            ports.functions, function_name, alias_name, deployment, target, allowed=allowed
        )
    except NotFound:
        action, alias = Reconciled.UNKNOWN, None
    stable = deployment.stable_version if deployment else _stable_of(alias, target)
    alias_now = alias.describe() if alias is not None else "no such alias"
    outcome, detail_type, reason = reconcile_domain.ending(
        action,
        status,
        error,
        cause,
        function_name=function_name,
        alias=alias_name,
        stable_version=stable,
        target_version=target,
        alias_now=alias_now,
        holder=lock.owner if lock is not None and not allowed else None,
    )
    written = ports.ledger.record_deployment_outcome(
        execution,
        outcome,
        reason,
        now,
        details={
            "reconciled": action.value,
            "executionStatus": status,
            "error": error,
            "aliasNow": alias_now,
        },
        function_name=function_name,
        alias=alias_name,
    )
    recorded = written.recorded
    # After the outcome: whoever finds the alias free also finds what happened to it.
    released = ports.ledger.release_lock(function_name, alias_name, execution)
    emitted: str | None = None
    if recorded or action is Reconciled.RESTORED:
        event = DeploymentEvent(
            detail_type=detail_type,
            execution_arn=execution,
            function_name=function_name,
            alias=alias_name,
            stable_version=stable,
            target_version=target,
            reason=reason,
            time=_iso(now),
            extra={"executionStatus": status, "reconciled": action.value},
        )
        if ports.events.emit(event) and recorded:
            ports.ledger.outcome_event_sent(execution)
        emitted = detail_type.value
    return report.model_copy(
        update={
            "action": action,
            "function_name": function_name,
            "alias": alias_name,
            "stable_version": stable,
            "target_version": target,
            "alias_now": alias_now,
            "lock_released": released,
            "outcome": outcome.value if recorded else None,
            "event": emitted,
            "reason": reason,
        }
    )


def _send_pending_outcome_event(
    record: DeploymentRecord, status: str, ports: Ports, now: float
) -> str | None:
    """A task that recorded the outcome and died before its event went out left the
    marker: send that outcome's event now (at least once), then clear the marker."""
    if not record.outcome_event_pending or not record.outcome:
        return None
    outcome = Outcome(record.outcome)
    detail_type = ledger_domain.outcome_event_type(outcome)
    event = DeploymentEvent(
        detail_type=detail_type,
        execution_arn=record.execution_arn,
        function_name=record.function_name,
        alias=record.alias,
        stable_version=record.stable_version,
        target_version=record.target_version,
        reason=record.reason,
        weight_percent=100.0 if outcome is Outcome.PROMOTED else None,
        time=_iso(now),
        extra={"executionStatus": status, "reconciled": Reconciled.FINISHED.value},
    )
    if ports.events.emit(event):
        ports.ledger.outcome_event_sent(record.execution_arn)
    return detail_type.value


def _identity(
    execution: str,
    record: DeploymentRecord | None,
    execution_input: Mapping[str, Any] | None,
    where: tuple[str, str] | None,
    ports: Ports,
    described: bool,
) -> tuple[str, str, str | None] | None:
    """(function, alias, target or None) of a deployment with no usable ledger record."""
    raw = execution_input or (record.input if record is not None and record.input else None)
    if raw is None and not described:
        try:
            raw = ports.executions.describe(execution).input
        except NotFound:
            raw = None
    identity = reconcile_domain.identity_from_input(raw)
    if identity is not None:
        return identity
    if record is not None:
        return record.function_name, record.alias, record.target_version
    if where is not None and all(where):
        return where[0], where[1], None
    return None


def _restore(
    functions: FunctionsPort,
    function_name: str,
    alias_name: str,
    deployment: Deployment | None,
    target: str | None,
    *,
    allowed: bool = True,
) -> tuple[Reconciled, AliasSnapshot]:
    """Read the alias and put it back on the stable version if it provably routes to ours
    (and, `allowed`, no newer execution holds it)."""
    for attempt in range(_RESTORE_ATTEMPTS):
        alias = functions.get_alias(function_name, alias_name)
        if not allowed:
            return Reconciled.SUPERSEDED, alias
        ours = deployment or reconcile_domain.inferred_deployment(
            "", function_name, alias_name, target, alias, 0.0
        )
        if ours is None:
            return _unproven(alias, target), alias
        action = revert_action(ours, alias)
        if action is RevertAction.NOTHING:
            return Reconciled.CLEAN, alias
        if action is RevertAction.FOREIGN:
            return Reconciled.FOREIGN, alias
        try:
            restored = functions.update_alias(
                function_name,
                alias_name,
                primary=ours.stable_version,
                additional={},
                revision_id=alias.revision_id,
            )
        except AliasChangedConcurrently:
            if attempt + 1 == _RESTORE_ATTEMPTS:
                raise
            continue  # someone moved it since we read it: read and decide again
        return Reconciled.RESTORED, restored
    raise AssertionError("unreachable")  # pragma: no cover


def _unproven(alias: AliasSnapshot, target: str | None) -> Reconciled:
    """No record and no inferable deployment: what the alias says on its own."""
    if not alias.split:
        return Reconciled.CLEAN  # one version serves 100%: nothing is half-shifted
    versions = {alias.function_version, *alias.additional_weights}
    if target is not None and target not in versions:
        return Reconciled.FOREIGN  # a split that does not involve our target is not ours
    return Reconciled.UNKNOWN


def _stable_of(alias: AliasSnapshot | None, target: str | None) -> str | None:
    if alias is None:
        return None
    return alias.function_version if alias.function_version != target else None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")
