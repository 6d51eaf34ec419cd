"""The reconciler's decisions, pure: which deployment an ended execution was, what to do.

An execution that is stopped from the console, times out, or fails outside the Catch
paths never reaches Revert (StopExecution skips Catch handlers). The reconciler finds the
deployment it was running and applies Revert's rule: restore the stable version only if
the alias routes to exactly our stable/target pair (`revert_action`), never anyone else's
routing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from rollout.domain.alias_ref import AliasRef, function_name_of
from rollout.domain.events import DetailType
from rollout.domain.ledger import LockItem, Outcome
from rollout.domain.rollout import REFUSALS, ROLLED_BACK, AliasSnapshot, Deployment

__all__ = [
    "ENDED_BADLY",
    "STATUS_CHANGE",
    "ExecutionInfo",
    "ReconcileReport",
    "Reconciled",
    "StatusChange",
    "ending",
    "identity_from_input",
    "inferred_deployment",
    "may_restore",
    "parse_status_change",
]

STATUS_CHANGE: Final = "Step Functions Execution Status Change"
ENDED_BADLY: Final = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})
# PENDING_REDRIVE: a redriven execution runs again; it is its own owner still.
LIVE: Final = frozenset({"RUNNING", "PENDING_REDRIVE"})
MISSING: Final = "MISSING"  # DescribeExecution: no such execution (e.g. past retention)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class ExecutionInfo(_Model):
    """What DescribeExecution says about one execution."""

    execution_arn: str
    state_machine_arn: str = ""
    status: str
    input: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE


class StatusChange(_Model):
    """The detail of a "Step Functions Execution Status Change" event."""

    execution_arn: str
    state_machine_arn: str = ""
    status: str
    input: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


def parse_status_change(event: Mapping[str, Any]) -> StatusChange | None:
    """The event's detail, or None if the event is something else."""
    if event.get("detail-type") != STATUS_CHANGE or event.get("source") != "aws.states":
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping) or not detail.get("executionArn"):
        return None
    raw_input = detail.get("input")
    parsed: dict[str, Any] | None = None
    if isinstance(raw_input, str):  # a JSON string; absent when it was too large to include
        try:
            loaded = json.loads(raw_input)
        except ValueError:
            loaded = None
        parsed = loaded if isinstance(loaded, dict) else None
    return StatusChange(
        execution_arn=str(detail["executionArn"]),
        state_machine_arn=str(detail.get("stateMachineArn") or ""),
        status=str(detail.get("status") or ""),
        input=parsed,
        error=detail.get("error"),
        cause=detail.get("cause"),
    )


def identity_from_input(raw: Mapping[str, Any] | None) -> tuple[str, str, str | None] | None:
    """(function name, alias, target version or None) from a deployment's input, tolerantly:
    the execution may have failed because its input was wrong."""
    if not isinstance(raw, Mapping):
        return None
    name, alias = raw.get("functionName"), raw.get("alias")
    if not isinstance(name, str) or not isinstance(alias, str) or not name or not alias:
        return None
    name = function_name_of(name) or name  # the bare name is what the ledger and Lambda key on
    target = raw.get("targetVersion")
    return name, alias, (str(target) if target is not None and target != "" else None)


def inferred_deployment(
    execution: str,
    function_name: str,
    alias_name: str,
    target_version: str | None,
    alias: AliasSnapshot,
    now: float,
) -> Deployment | None:
    """The deployment an execution with no ledger record was running, when the alias proves
    it: split between a primary and our (known) target as the additional version, which is
    exactly how SetWeight routes below 100% (and Prepare refuses an alias already split).
    Anything else (unknown target, the target at 100%) cannot name the stable version."""
    if target_version is None or target_version not in alias.additional_weights:
        return None
    if len(alias.additional_weights) != 1 or alias.function_version == target_version:
        return None
    return Deployment(
        execution_id=execution,
        function_name=function_name,
        alias=alias_name,
        stable_version=alias.function_version,
        target_version=target_version,
        plan=[],
        poll_interval_seconds=0,
        started_at=datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds"),
    )


def may_restore(lock: LockItem | None, execution: str) -> bool:
    """Whether the reconciler may restore the alias for `execution`: only if that execution
    still holds the alias's lock, or the lock is free.

    A lock held by another execution, expired or not, means a newer rollout took the alias
    after this one (an acquire overwrites the lock): the alias is its to shift, even when it
    routes to the very same stable/target pair (a rollout started again).
    """
    return lock is None or lock.owner == execution


class Reconciled(StrEnum):
    RESTORED = "restored"  # the alias was put back on the stable version
    CLEAN = "clean"  # the alias already served only the stable version
    FOREIGN = "foreign"  # the alias routes to versions this deployment did not set: left alone
    SUPERSEDED = "superseded"  # another execution holds the alias's lock now: left to it
    UNKNOWN = "unknown"  # no record, and nothing proves what to restore: left alone, reported
    FINISHED = "finished"  # the deployment recorded its own outcome: not the reconciler's
    RUNNING = "running"  # the execution still runs: its own business


class ReconcileReport(_Model):
    execution_arn: str
    status: str
    action: Reconciled
    function_name: str | None = None
    alias: str | None = None
    stable_version: str | None = None
    target_version: str | None = None
    alias_now: str = ""
    lock_released: bool = False
    outcome: str | None = None  # the outcome this call recorded (None: none recorded now)
    event: str | None = None  # the detail-type this call emitted
    reason: str = ""


def ending(
    action: Reconciled,
    status: str,
    error: str | None,
    cause: str | None,
    *,
    function_name: str,
    alias: str,
    stable_version: str | None,
    target_version: str | None,
    alias_now: str,
    holder: str | None = None,
) -> tuple[Outcome, DetailType, str]:
    """The outcome to record, the event to emit, and the reason, for what the reconciler did.

    `holder`: the execution that holds the alias's lock now, when it is not this one."""
    how = f"execution {status}" + (f" ({error}{': ' + cause if cause else ''})" if error else "")
    where = AliasRef(function_name, alias).qualified
    if action is Reconciled.SUPERSEDED:
        return (
            Outcome.FAILED,
            DetailType.FAILED,
            f"{how}; {holder or 'another execution'} holds {where} now (it serves {alias_now}): "
            "it was left to it",
        )
    if action is Reconciled.RESTORED:
        return (
            Outcome.ROLLED_BACK,
            DetailType.ROLLED_BACK,
            f"{how} with {where} still routing to version {target_version}; "
            f"the reconciler restored version {stable_version}",
        )
    if action is Reconciled.FOREIGN:
        return (
            Outcome.ALIAS_CHANGED,
            DetailType.ALIAS_CHANGED,
            f"{how}; {where} now serves {alias_now}, which this deployment did not set: "
            "it was left as it is",
        )
    if action is Reconciled.UNKNOWN:
        return (
            Outcome.UNRESOLVED,
            DetailType.FAILED,
            f"{how}; {where} serves {alias_now or 'nothing readable'} and nothing proves which "
            "version is stable: it was left as it is, check it",
        )
    if error == ROLLED_BACK:
        return Outcome.ROLLED_BACK, DetailType.ROLLED_BACK, f"{how}; {where} serves {alias_now}"
    if error in REFUSALS:
        return Outcome.REFUSED, DetailType.FAILED, f"{how}; nothing was shifted"
    if error == "AliasChangedConcurrently":
        return Outcome.ALIAS_CHANGED, DetailType.ALIAS_CHANGED, f"{how}; {where} serves {alias_now}"
    return Outcome.FAILED, DetailType.FAILED, f"{how}; {where} serves {alias_now}"
