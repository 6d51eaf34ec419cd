"""The ports: the only declarations of what the use cases need from the outside.

Every adapter (rollout.adapters) and every fake (tests) conforms; tests/unit/test_ports.py
holds each against its Protocol, so mypy proves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol

from rollout.domain import analysis as analysis_domain
from rollout.domain import rollout as domain
from rollout.domain.artifact import CodeSigning, CodeState, RunningExecution
from rollout.domain.events import DeploymentEvent
from rollout.domain.ledger import (
    DeploymentRecord,
    LockItem,
    LockResult,
    OpenItem,
    Outcome,
    OutcomeResult,
    Signal,
)
from rollout.domain.reconcile import ExecutionInfo
from rollout.domain.rollout import (
    AlarmState,
    AliasSnapshot,
    StepRecord,
    VersionInfo,
)


class FunctionsPort(Protocol):
    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot: ...
    def get_version(self, function_name: str, version: str) -> VersionInfo: ...
    def publish_version(self, function_name: str, code_sha256: str, description: str) -> str: ...
    def update_alias(
        self,
        function_name: str,
        alias: str,
        *,
        primary: str,
        additional: dict[str, float],
        revision_id: str,
    ) -> AliasSnapshot: ...


class LedgerPort(Protocol):
    """The ledger table (see adapters.ledger.Ledger): lock, history, operator signals."""

    def acquire_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult: ...
    def renew_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult: ...
    def release_lock(self, function_name: str, alias: str, execution: str) -> bool: ...
    def lock(self, function_name: str, alias: str) -> LockItem | None: ...
    def record_deployment_started(
        self, deployment: domain.Deployment, request_input: Mapping[str, Any], now: float
    ) -> bool: ...
    def record_deployment_step(
        self,
        execution: str,
        record: StepRecord,
        now: float,
        *,
        numbers: Mapping[str, Any] | None = None,
    ) -> None: ...
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
    ) -> OutcomeResult: ...
    def outcome_event_sent(self, execution: str) -> None: ...
    def signals(self, execution: str) -> list[Signal]: ...


class EventsPort(Protocol):
    """Deployment events (adapters.events.Events): never raises."""

    def emit(self, event: DeploymentEvent) -> bool: ...


class AlarmsPort(Protocol):
    def states(self, names: Sequence[str]) -> dict[str, AlarmState]: ...


class MetricsPort(Protocol):
    @property
    def period_seconds(self) -> int: ...

    def per_minute(
        self, function_name: str, alias: str, versions: Sequence[str], start: float, end: float
    ) -> dict[str, analysis_domain.MinuteSeries]: ...

    def alias_traffic(
        self, function_name: str, alias: str, start: float, end: float
    ) -> tuple[int, int]: ...


class HookPort(Protocol):
    def invoke(self, reference: str, context: dict[str, Any]) -> tuple[str | None, bytes]: ...


class ApprovalPort(Protocol):
    def request_approval(
        self, execution: str, task_token: str, now: float, timeout_seconds: int
    ) -> None: ...


class ReconcilerLedgerPort(Protocol):
    """The ledger as the reconciler uses it: records it finds, not a rollout's own."""

    def deployment(self, execution: str) -> DeploymentRecord | None: ...
    def release_lock(self, function_name: str, alias: str, execution: str) -> bool: ...
    def lock(self, function_name: str, alias: str) -> LockItem | None: ...
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
    ) -> OutcomeResult: ...
    def outcome_event_sent(self, execution: str) -> None: ...
    def find_unfinished(self) -> list[OpenItem]: ...


class ExecutionsPort(Protocol):
    def describe(self, execution_arn: str) -> ExecutionInfo: ...


class ObjectsPort(Protocol):
    def head(self, bucket: str, key: str, version_id: str) -> Any: ...
    def download(self, bucket: str, key: str, version_id: str, into: IO[bytes]) -> None: ...


class CodePort(Protocol):
    def configuration(self, function_name: str) -> CodeState: ...
    def code_signing(self, function_name: str) -> CodeSigning: ...
    def update_from_s3(
        self, function_name: str, *, bucket: str, key: str, version_id: str, revision_id: str
    ) -> CodeState: ...
    def publish(self, function_name: str, code_sha256: str, description: str) -> str: ...


class WorkflowPort(Protocol):
    def start(
        self, state_machine_arn: str, name: str, payload: dict[str, Any]
    ) -> tuple[str, bool]: ...
    def running(self, state_machine_arn: str) -> list[RunningExecution]: ...
