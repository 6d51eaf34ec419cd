"""An in-memory ledger and event sink for use-case tests that do not exercise DynamoDB.

Same decisions as `rollout.adapters.ledger.Ledger` (the conditions are those of
`rollout.domain.ledger`); the moto-backed adapter has its own tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollout.domain import ledger as ledger_domain
from rollout.domain.events import DeploymentEvent
from rollout.domain.ledger import (
    LockItem,
    LockResult,
    OpenItem,
    Outcome,
    OutcomeResult,
    Signal,
    SignalAction,
)
from rollout.domain.rollout import Deployment, StepRecord


class InMemoryLedger:
    def __init__(self) -> None:
        self.locks: dict[tuple[str, str], LockItem] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.steps: dict[str, dict[int, StepRecord]] = {}
        self._signals: dict[str, list[Signal]] = {}

    def acquire_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult:
        current = self.locks.get((function_name, alias))
        if not ledger_domain.takeable(current, execution, now):
            assert current is not None
            return LockResult(
                acquired=False, owner=current.owner, lease_expires_at=current.lease_expires_at
            )
        item = LockItem.model_validate(
            ledger_domain.lock_item(function_name, alias, execution, lease_seconds, now)
        )
        self.locks[(function_name, alias)] = item
        previous = current.owner if current and current.owner != execution else None
        return LockResult(
            acquired=True,
            owner=execution,
            lease_expires_at=item.lease_expires_at,
            previous_owner=previous,
        )

    def renew_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult:
        current = self.locks.get((function_name, alias))
        if current is not None and current.owner != execution:
            return LockResult(
                acquired=False, owner=current.owner, lease_expires_at=current.lease_expires_at
            )
        return self.acquire_lock(function_name, alias, execution, lease_seconds, now)

    def release_lock(self, function_name: str, alias: str, execution: str) -> bool:
        current = self.locks.get((function_name, alias))
        if current is None or current.owner != execution:
            return False
        del self.locks[(function_name, alias)]
        return True

    def lock(self, function_name: str, alias: str) -> LockItem | None:
        return self.locks.get((function_name, alias))

    def record_deployment_started(
        self, deployment: Deployment, request_input: Mapping[str, Any], now: float
    ) -> bool:
        found = self.records.get(deployment.execution_id)
        if found is not None and found.get("outcome"):
            return False
        self.records[deployment.execution_id] = ledger_domain.deployment_item(
            deployment, request_input, now
        )
        return True

    def record_deployment_step(
        self,
        execution: str,
        record: StepRecord,
        now: float,
        *,
        numbers: Mapping[str, Any] | None = None,
    ) -> None:
        self.steps.setdefault(execution, {})[record.step] = record

    def record_deployment_outcome(
        self,
        execution: str,
        outcome: Outcome,
        reason: str,
        now: float,
        *,
        details: Mapping[str, Any] | None = None,
        function_name: str | None = None,
        alias: str | None = None,
        event_pending: bool = True,
    ) -> OutcomeResult:
        record = self.records.setdefault(
            execution,
            {
                "kind": "deployment",
                "executionArn": execution,
                "functionName": function_name,
                "alias": alias,
            },
        )
        if record.get("outcome"):
            return ledger_domain.outcome_found(record)
        fields = ledger_domain.outcome_attributes(
            outcome, reason, now, details=details, event_pending=event_pending
        )
        record.update(fields)
        if event_pending:  # in the sweep's view until the event is sent
            record["openPk"] = ledger_domain.OPEN
            record.setdefault(
                "openSk", ledger_domain.open_deployment_sk(fields["finishedAt"], execution)
            )
        else:
            record.pop("openPk", None)
            record.pop("openSk", None)
        return OutcomeResult(
            recorded=True, outcome=outcome, reason=reason, event_pending=event_pending
        )

    def outcome_event_sent(self, execution: str) -> None:
        record = self.records.get(execution)
        if record is not None and record.get("outcome"):
            for name in (ledger_domain.OUTCOME_EVENT_PENDING, "openPk", "openSk"):
                record.pop(name, None)

    def find_unfinished(self) -> list[OpenItem]:
        """The `Open` index: every lock, and every record still carrying `openPk`."""
        locks = [
            OpenItem(
                kind="lock",
                execution_arn=lock.owner,
                function_name=lock.function_name,
                alias=lock.alias,
            )
            for lock in self.locks.values()
        ]
        records = [
            OpenItem.from_item(record) for record in self.records.values() if record.get("openPk")
        ]
        return locks + records

    def put_signal(self, execution: str, action: str, by: str, now: float) -> Signal:
        """As the adapter: only a recorded deployment without an outcome takes a signal."""
        record = self.records.get(execution)
        if record is None or record.get("outcome"):
            raise ledger_domain.signal_refused(execution, SignalAction(action), record)
        signal = Signal(
            execution_arn=execution,
            action=SignalAction(action),
            by=by,
            at=now,
            id=f"s{len(self._signals.get(execution, []))}",
        )
        self._signals.setdefault(execution, []).append(signal)
        return signal

    def signals(self, execution: str) -> list[Signal]:
        return list(self._signals.get(execution, []))


class ListEvents:
    def __init__(self) -> None:
        self.sent: list[DeploymentEvent] = []

    def emit(self, event: DeploymentEvent) -> bool:
        self.sent.append(event)
        return True
