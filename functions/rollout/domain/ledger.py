"""The ledger: what trafficshift keeps in its DynamoDB table, as pure item shapes and decisions.

One table (keys `pk`, `sk`, both strings), four kinds of item:

| item             | pk                          | sk                              |
| ---------------- | --------------------------- | ------------------------------- |
| alias lock       | `LOCK#<function>:<alias>`   | `LOCK`                          |
| deployment       | `DEPLOYMENT#<execution>`    | `DEPLOYMENT`                    |
| step decision    | `DEPLOYMENT#<execution>`    | `STEP#0001` (1-based, 4 digits) |
| operator signal  | `DEPLOYMENT#<execution>`    | `SIGNAL#<epoch ms, 13 digits>#<id>` |
| approval request | `DEPLOYMENT#<execution>`    | `APPROVAL`                      |

`<execution>` is the execution ARN. Everything about one deployment shares a partition, so
one Query returns its whole history (record, steps, signals) in time order.

Two global secondary indexes:
- `Open` (`openPk` = "OPEN", `openSk` = `<kind>#<startedAt>#<id>`) is sparse: a lock carries
  it while it exists, a deployment until its outcome is recorded and that outcome's event
  is sent (`outcomeEventPending` cleared, in the same write). It is what the reconciler's
  sweep reads. It projects only the few attributes the sweep needs to find the execution
  (the sweep reads the record itself before it acts), so that renewing a lease (which
  changes `leaseExpiresAt` only) writes nothing to the index.
- `ByAlias` (`aliasKey` = `<function>:<alias>`, `startedAt` ISO-8601) holds deployment
  records only: the CLI's `history` for one alias, newest first.

`expiresAt` (epoch seconds) is the table's TTL attribute; only locks and approval requests
carry it, as garbage collection after their lease or timeout (TTL deletes lazily, so the
lease, not TTL, is what frees a lock).

`outcomeEventPending` (true) is written with a deployment's outcome, in the same conditional
write, and removed once the outcome's event is sent: a retried task (or the reconciler) that
finds the outcome recorded with it still set sends the event. At least once, not at most.
While it is set the record stays in `Open`, so the sweep finds an event no task will retry.

Pure: builds and reads plain dicts (the adapter does the DynamoDB typing and conditions),
and decides: is a lock takeable, should a lease be renewed, what do the operator's signals
mean for the next Check. No boto3, no clock (the time is passed in).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from rollout.domain import gates
from rollout.domain.alias_ref import AliasRef
from rollout.domain.errors import AliasBusy, InvalidInput, PreflightFailed
from rollout.domain.events import DetailType
from rollout.domain.rollout import REFUSALS, Deployment, RevertAction, StepRecord

__all__ = [
    "BY_ALIAS_INDEX",
    "DEFAULT_LEASE_SECONDS",
    "OPEN_INDEX",
    "Directive",
    "LockItem",
    "LockResult",
    "OpenItem",
    "OperatorView",
    "Outcome",
    "OutcomeResult",
    "Signal",
    "SignalAction",
    "alias_lease_seconds",
    "approval_item",
    "bake_remaining",
    "busy_error",
    "deployment_item",
    "deployment_key",
    "fold_signals",
    "held_by_another",
    "lease_expiry",
    "lease_seconds_for",
    "lock_item",
    "lock_key",
    "open_deployment_sk",
    "outcome_attributes",
    "outcome_event_type",
    "outcome_found",
    "parse_action",
    "record_from_items",
    "revert_outcome",
    "should_renew",
    "signal_item",
    "signal_refused",
    "step_item",
    "takeable",
]

OPEN_INDEX: Final = "Open"
BY_ALIAS_INDEX: Final = "ByAlias"
OPEN: Final = "OPEN"

LOCK_SK: Final = "LOCK"
DEPLOYMENT_SK: Final = "DEPLOYMENT"
STEP_PREFIX: Final = "STEP#"
SIGNAL_PREFIX: Final = "SIGNAL#"
APPROVAL_SK: Final = "APPROVAL"
OUTCOME_EVENT_PENDING: Final = "outcomeEventPending"

# A lease must outlive the longest gap between two renewals (one poll, plus a Wait that
# starts late, plus Lambda retries), yet free a dead rollout's alias soon: 15 minutes unless
# the poll interval is long (a 7-day plan polls every ~5 minutes).
DEFAULT_LEASE_SECONDS: Final = 900
_LOCK_GARBAGE_AFTER_SECONDS: Final = 24 * 3600


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


# --- the per-alias lock ------------------------------------------------------------------


def lock_key(function_name: str, alias: str) -> dict[str, str]:
    return {"pk": AliasRef(function_name, alias).lock_pk, "sk": LOCK_SK}


class LockItem(_Model):
    function_name: str
    alias: str
    owner: str  # the execution ARN that holds the alias
    lease_expires_at: int  # epoch seconds; after it anyone may take the lock
    acquired_at: str = ""
    renewed_at: str = ""


class LockResult(_Model):
    """What acquire or renew found: ours now, or whose it is."""

    acquired: bool
    owner: str | None = None  # the holder now: us when acquired, else the running execution
    lease_expires_at: int | None = None
    previous_owner: str | None = None  # whose expired lease we took over, if any


def lease_expiry(now: float, lease_seconds: int) -> int:
    return math.ceil(now + lease_seconds)


def lease_seconds_for(poll_interval_seconds: int, *, minimum: int = DEFAULT_LEASE_SECONDS) -> int:
    """A lease that survives missing two renewals in a row."""
    return max(minimum, 3 * poll_interval_seconds + 60)


def takeable(lock: LockItem | None, execution: str, now: float) -> bool:
    """Absent, expired, or already ours: the same rule as the adapter's condition
    `attribute_not_exists(pk) OR leaseExpiresAt < :now OR owner = :me`."""
    return lock is None or lock.lease_expires_at < now or lock.owner == execution


def should_renew(lease_expires_at: float, now: float, lease_seconds: int) -> bool:
    """Renew once half the lease is gone: one write every few polls, not every poll."""
    return lease_expires_at - now < lease_seconds / 2


def lock_item(
    function_name: str,
    alias: str,
    execution: str,
    lease_seconds: int,
    now: float,
    *,
    acquired_at: float | None = None,
) -> dict[str, Any]:
    expires = lease_expiry(now, lease_seconds)
    started = _iso(now if acquired_at is None else acquired_at)
    return {
        **lock_key(function_name, alias),
        "kind": "lock",
        "functionName": function_name,
        "alias": alias,
        "owner": execution,
        "leaseExpiresAt": expires,
        "acquiredAt": started,
        "renewedAt": _iso(now),
        "expiresAt": expires + _LOCK_GARBAGE_AFTER_SECONDS,
        "openPk": OPEN,
        "openSk": f"lock#{started}#{function_name}:{alias}",
    }


def busy_error(
    result: LockResult, function_name: str, alias: str, *, wait: bool
) -> PreflightFailed:
    """The refusal of a second rollout: it names the execution that holds the alias."""
    until = (
        f" (its lease runs until {_iso(result.lease_expires_at)})"
        if result.lease_expires_at
        else ""
    )
    holder = result.owner or "another execution"
    message = (
        f"alias {alias} of {function_name} is being deployed by {holder}{until}; "
        "wait for it to finish, stop it (the reconciler then restores the alias), "
        'or start with "onBusy": "wait"'
    )
    return AliasBusy(message) if wait else PreflightFailed(message)


# --- the deployment history --------------------------------------------------------------


def deployment_key(execution: str) -> dict[str, str]:
    return {"pk": f"DEPLOYMENT#{execution}", "sk": DEPLOYMENT_SK}


class Outcome(StrEnum):
    RUNNING = "RUNNING"  # no outcome yet
    PROMOTED = "PROMOTED"  # the target serves 100%
    ROLLED_BACK = "ROLLED_BACK"  # the alias is back on the stable version
    REFUSED = "REFUSED"  # InvalidInput / PreflightFailed: nothing moved
    ALIAS_CHANGED = "ALIAS_CHANGED"  # someone else moved the alias: left as they set it
    FAILED = "FAILED"  # ended without traffic on the target and nothing to restore
    UNRESOLVED = "UNRESOLVED"  # the reconciler could not tell what to restore: a person must


def deployment_item(
    deployment: Deployment, request_input: Mapping[str, Any], now: float
) -> dict[str, Any]:
    """The record written when a deployment starts (at Prepare, once the lock is ours)."""
    d = deployment
    return {
        **deployment_key(d.execution_id),
        "kind": "deployment",
        "executionArn": d.execution_id,
        "functionName": d.function_name,
        "alias": d.alias,
        "aliasKey": d.ref.alias_key,
        "stableVersion": d.stable_version,
        "targetVersion": d.target_version,
        "startedAt": d.started_at or _iso(now),
        "recordedAt": _iso(now),
        "status": Outcome.RUNNING.value,
        "input": dict(request_input),
        "deployment": d.wire(),  # plan, poll interval, alarms: what the rollout will do
        "openPk": OPEN,
        "openSk": open_deployment_sk(d.started_at or _iso(now), d.execution_id),
    }


def open_deployment_sk(started_at: str, execution: str) -> str:
    """A deployment's sort key in `Open` (kept from the start until its event is sent)."""
    return f"deployment#{started_at}#{execution}"


def step_item(
    execution: str,
    record: StepRecord,
    now: float,
    *,
    numbers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One step's latest decision, with the numbers behind it; written again as it changes."""
    return {
        "pk": deployment_key(execution)["pk"],
        "sk": f"{STEP_PREFIX}{record.step:04d}",
        "kind": "step",
        **record.wire(),
        "decidedAt": _iso(now),
        "numbers": dict(numbers or {}),
    }


def outcome_attributes(
    outcome: Outcome,
    reason: str,
    now: float,
    *,
    details: Mapping[str, Any] | None = None,
    event_pending: bool = True,
) -> dict[str, Any]:
    """What the outcome sets on the record.

    `event_pending`: the outcome's event is still to be sent (the marker is set in the same
    write, so no crash can leave an outcome recorded and its event forgotten). The adapter
    then keeps (or sets) `openPk`/`openSk`, so the sweep still finds the record; without it,
    it REMOVEs them. `Ledger.outcome_event_sent` removes them with the marker.
    """
    if outcome is Outcome.RUNNING:
        raise ValueError("RUNNING is not an outcome")
    attributes: dict[str, Any] = {
        "status": outcome.value,
        "outcome": outcome.value,
        "reason": reason,
        "finishedAt": _iso(now),
        "details": dict(details or {}),
    }
    if event_pending:
        attributes[OUTCOME_EVENT_PENDING] = True
    return attributes


class OutcomeResult(_Model):
    """What recording an outcome found: ours now (first outcome wins), or the one before."""

    recorded: bool  # this write recorded the outcome
    outcome: Outcome | None = None  # the outcome on the record now
    reason: str = ""  # the recorded outcome's reason
    event_pending: bool = False  # its event is not known to be sent: whoever finds this sends it


def outcome_found(item: Mapping[str, Any]) -> OutcomeResult:
    """The outcome a refused (already closed) record carries, from the item as it is."""
    found = item.get("outcome")
    return OutcomeResult(
        recorded=False,
        outcome=Outcome(found) if found else None,
        reason=str(item.get("reason", "")),
        event_pending=bool(item.get(OUTCOME_EVENT_PENDING)) and bool(found),
    )


def outcome_event_type(outcome: Outcome) -> DetailType:
    """The event that announces a recorded outcome (the same one whoever sends it)."""
    if outcome is Outcome.PROMOTED:
        return DetailType.PROMOTED
    if outcome is Outcome.ROLLED_BACK:
        return DetailType.ROLLED_BACK
    if outcome is Outcome.ALIAS_CHANGED:
        return DetailType.ALIAS_CHANGED
    return DetailType.FAILED  # REFUSED, FAILED, UNRESOLVED


class StepDecision(_Model):
    step: int
    percent: float
    bake_seconds: int = 0
    shifted_at: str = ""
    checks: int = 0
    decision: str = ""
    reason: str = ""
    decided_at: str = ""
    numbers: dict[str, Any] = Field(default_factory=dict)


class DeploymentRecord(_Model):
    execution_arn: str
    function_name: str
    alias: str
    stable_version: str | None = None
    target_version: str | None = None
    started_at: str = ""
    status: str = Outcome.RUNNING.value
    outcome: str | None = None
    reason: str = ""
    finished_at: str | None = None
    outcome_event_pending: bool = False  # the outcome's event may not have been sent yet
    input: dict[str, Any] = Field(default_factory=dict)
    deployment: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepDecision] = Field(default_factory=list)
    signals: list[Signal] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    def as_deployment(self) -> Deployment | None:
        """The state document's `deployment`, as Prepare wrote it (None if never written)."""
        return Deployment.model_validate(self.deployment) if self.deployment else None


def record_from_items(items: Iterable[Mapping[str, Any]]) -> DeploymentRecord | None:
    """Assemble one deployment's record from its partition's items (any order)."""
    meta: Mapping[str, Any] | None = None
    steps: list[StepDecision] = []
    signals: list[Signal] = []
    for item in items:
        sk = str(item.get("sk", ""))
        if sk == DEPLOYMENT_SK:
            meta = item
        elif sk.startswith(STEP_PREFIX):
            steps.append(StepDecision.model_validate(item))
        elif sk.startswith(SIGNAL_PREFIX):
            signals.append(Signal.model_validate(item))
    if meta is None:
        return None
    return DeploymentRecord.model_validate(
        {
            **meta,
            "steps": sorted(steps, key=lambda s: s.step),
            "signals": sorted(signals, key=lambda s: (s.at, s.id)),
        }
    )


class OpenItem(_Model):
    """What the sweep looks at: a lock, or a deployment with no outcome yet or whose
    outcome's event is still pending (the sweep reads the record to tell which)."""

    kind: str  # "lock" | "deployment"
    execution_arn: str
    function_name: str
    alias: str

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> OpenItem:
        kind = str(item.get("kind", ""))
        execution = item.get("owner") if kind == "lock" else item.get("executionArn")
        return cls(
            kind=kind,
            execution_arn=str(execution or ""),
            function_name=str(item.get("functionName", "")),
            alias=str(item.get("alias", "")),
        )


# --- approval ----------------------------------------------------------------------------


def approval_item(
    execution: str, task_token: str, now: float, timeout_seconds: int
) -> dict[str, Any]:
    """Where the approval gate leaves its task token for `approve` (SendTaskSuccess)."""
    return {
        "pk": deployment_key(execution)["pk"],
        "sk": APPROVAL_SK,
        "kind": "approval",
        "taskToken": task_token,
        "requestedAt": _iso(now),
        "expiresAt": math.ceil(now + timeout_seconds) + _LOCK_GARBAGE_AFTER_SECONDS,
    }


# --- operator signals --------------------------------------------------------------------


class SignalAction(StrEnum):
    ABORT = "abort"  # revert now
    PROMOTE = "promote"  # skip the remaining steps: 100% now (implies approval)
    PAUSE = "pause"  # stop the bake clock; health is still judged
    RESUME = "resume"  # restart the bake clock
    APPROVE = "approve"  # pass the approval gate before 100%


def parse_action(text: str) -> SignalAction:
    try:
        return SignalAction(text.strip().lower())
    except ValueError:
        choices = [a.value for a in SignalAction]
        close = difflib.get_close_matches(text.strip().lower(), choices, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidInput(
            "action", f"{text!r} is not an operator signal", f"{hint}use one of {choices}"
        ) from None


class Signal(_Model):
    execution_arn: str
    action: SignalAction
    by: str  # who sent it (an IAM principal or a name the CLI passes)
    at: float  # epoch seconds
    id: str


def signal_item(
    execution: str, action: SignalAction, by: str, now: float, signal_id: str
) -> dict[str, Any]:
    return {
        "pk": deployment_key(execution)["pk"],
        "sk": f"{SIGNAL_PREFIX}{round(now * 1000):013d}#{signal_id}",
        "kind": "signal",
        "executionArn": execution,
        "action": action.value,
        "by": by,
        "at": now,
        "id": signal_id,
        "sentAt": _iso(now),
    }


class Directive(StrEnum):
    """What Check should do now, as far as the operator is concerned."""

    PROCEED = "proceed"  # judge health and the bake clock as usual
    PAUSED = "paused"  # judge health (a firing alarm still reverts) but do not advance
    PROMOTE = "promote"  # skip the remaining steps
    ABORT = "abort"  # revert now


class OperatorView(_Model):
    directive: Directive = Directive.PROCEED
    paused: bool = False
    paused_since: float | None = None
    paused_seconds: float = 0.0  # paused time within [since, now]: add it to the bake end
    approved: bool = False
    approved_by: str = ""  # who sent the first approve (or promote) signal
    reason: str = ""  # e.g. "aborted by alice at 2026-...": for the record and the event
    by: str | None = None
    signals: int = 0


def fold_signals(signals: Iterable[Signal], now: float, since: float = 0.0) -> OperatorView:
    """Fold an execution's signals, oldest first, into what Check should do at `now`.

    - `abort` wins over everything, whatever the order: when an abort and a promote cross,
      the safe one wins.
    - `promote` skips the remaining steps (and the pause, and the approval gate: an operator
      who says "finish now" has decided).
    - `pause` ... `resume` intervals stop the bake clock: `paused_seconds` is their length
      within [since, now] (pass the step's start as `since`); a pause still open counts
      until `now`. A second pause or a resume while running changes nothing.
    - a signal stamped after `now` (clock skew between the sender and Lambda) counts as
      sent at `now`.
    """
    ordered = sorted(signals, key=lambda s: (min(s.at, now), s.id))
    paused_since: float | None = None
    paused_total = 0.0
    abort: Signal | None = None
    promote: Signal | None = None
    approve: Signal | None = None
    pause: Signal | None = None
    for signal in ordered:
        at = min(signal.at, now)
        if signal.action is SignalAction.ABORT:
            abort = abort or signal
        elif signal.action is SignalAction.PROMOTE:
            promote = promote or signal
        elif signal.action is SignalAction.APPROVE:
            approve = approve or signal
        elif signal.action is SignalAction.PAUSE:
            if paused_since is None:
                paused_since, pause = at, signal
        elif signal.action is SignalAction.RESUME and paused_since is not None:
            paused_total += _overlap(paused_since, at, since, now)
            paused_since, pause = None, None
    if paused_since is not None:
        paused_total += _overlap(paused_since, now, since, now)
    approver = approve or promote
    view = OperatorView(
        paused=paused_since is not None,
        paused_since=paused_since,
        paused_seconds=paused_total,
        approved=approve is not None or promote is not None,
        approved_by=approver.by if approver else "",
        signals=len(ordered),
    )
    decisive = abort or promote or pause
    directive = (
        Directive.ABORT
        if abort
        else Directive.PROMOTE
        if promote
        else Directive.PAUSED
        if pause
        else Directive.PROCEED
    )
    if decisive is None:
        return view.model_copy(update={"directive": directive})
    verb = {
        Directive.ABORT: "aborted",
        Directive.PROMOTE: "promoted now",
        Directive.PAUSED: "paused",
    }[directive]
    return view.model_copy(
        update={
            "directive": directive,
            "by": decisive.by,
            "reason": f"{verb} by {decisive.by} at {_iso(min(decisive.at, now))}",
        }
    )


def _overlap(start: float, end: float, window_start: float, window_end: float) -> float:
    return max(0.0, min(end, window_end) - max(start, window_start))


def bake_remaining(
    step_started_at: float, bake_seconds: int, paused_seconds: float, now: float
) -> float:
    """Seconds of bake left in a step: paused time moves the end of the bake."""
    return step_started_at + bake_seconds + paused_seconds - now


DeploymentRecord.model_rebuild()


def held_by_another(lock: LockItem, execution: str, now: float) -> bool:
    """Another execution holds the alias's lock and its lease still runs."""
    return lock.owner != execution and lock.lease_expires_at >= now


def revert_outcome(action: RevertAction, error: str, step_index: int) -> Outcome:
    """What a Revert records; each announced as `outcome_event_type` says (Refused and
    Failed: Failed)."""
    if action is RevertAction.FOREIGN:
        return Outcome.ALIAS_CHANGED
    if error in REFUSALS and step_index < 0:
        return Outcome.REFUSED
    if action is RevertAction.NOTHING and step_index < 0:
        return Outcome.FAILED
    return Outcome.ROLLED_BACK


def alias_lease_seconds(poll_interval_seconds: int, horizon_seconds: int) -> int:
    """The lease on an alias's lock: it outlasts the longest time between two Checks."""
    return lease_seconds_for(gates.longest_check_interval(poll_interval_seconds, horizon_seconds))


def signal_refused(
    execution: str, action: SignalAction, record: Mapping[str, Any] | None
) -> InvalidInput:
    """Why a signal is not taken: the deployment is unknown (`record` None) or finished."""
    if record:
        problem = f"the deployment already finished ({record.get('outcome')})"
        fix = "signals only steer a running deployment; start a new one if needed"
    else:
        problem = "no deployment is recorded for this execution"
        fix = "give the ARN of a running trafficshift execution (it may not have started yet)"
    return InvalidInput("execution", f"cannot send {action.value} to {execution}: {problem}", fix)
