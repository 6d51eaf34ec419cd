"""The outcome event is sent at least once: a task that dies between recording the outcome
and emitting its event leaves the ledger's marker set, and the retry sends the event."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_fake import InMemoryLedger, ListEvents

from rollout.application import outcome
from rollout.domain import rollout as domain
from rollout.domain.events import DeploymentEvent
from rollout.domain.ledger import Outcome
from rollout.domain.request import parse_request
from rollout.domain.rollout import AlarmState, AliasSnapshot, RolloutState, VersionInfo

T0 = 1_800_000_000.0
ROLE = "arn:aws:iam::123456789012:role/orders"
EXEC = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"


class RuntimeDied(Exception):
    """Stands for the Lambda runtime exiting: nothing after it runs."""


class DyingEvents:
    def emit(self, event: DeploymentEvent) -> bool:
        raise RuntimeDied


class FailingEvents(ListEvents):
    def emit(self, event: DeploymentEvent) -> bool:
        self.sent.append(event)
        return False  # what adapters.events.Events returns when EventBridge refused it


class StableAlias:
    """The alias is back on the stable version (the first attempt restored it)."""

    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
        return AliasSnapshot(function_version="6", revision_id="r5")


def _promotable() -> RolloutState:
    state = domain.preflight(
        parse_request(
            {
                "functionName": "orders-api",
                "alias": "live",
                "targetVersion": "7",
                "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 60},
                "analysis": {"enabled": False},
            }
        ),
        alias=AliasSnapshot(function_version="6", revision_id="r1"),
        target=VersionInfo(version="7", role=ROLE),
        stable=VersionInfo(version="6", role=ROLE),
        alarms={"errors": AlarmState(name="errors", state="OK")},
        execution_id=EXEC,
        now=T0,
    )
    last = len(state.deployment.plan) - 1
    return domain.begin_step(state, last, "r3", T0 + 60)  # at 100%: Promote moves nothing


def _promote(ledger: InMemoryLedger, events: Any, now: float) -> dict[str, Any]:
    return outcome.promote(
        _promotable(),
        functions=None,  # type: ignore[arg-type]
        ledger=ledger,
        events=events,
        now=now,
    )


def _revert(ledger: InMemoryLedger, events: Any, now: float) -> None:
    raw = {**_promotable().wire(), "error": {"Error": "HookFailed", "Cause": "smoke test failed"}}
    outcome.revert(
        raw,
        functions=StableAlias(),  # type: ignore[arg-type]
        ledger=ledger,
        events=events,
        now=now,
        execution=EXEC,
    )


def test_promote_retried_after_dying_before_its_event_sends_it_once() -> None:
    ledger, events = InMemoryLedger(), ListEvents()
    # Given a Promote that recorded PROMOTED and died before its event went out
    with pytest.raises(RuntimeDied):
        _promote(ledger, DyingEvents(), T0 + 120)
    assert ledger.records[EXEC]["outcomeEventPending"] is True

    # When the state machine retries it, twice
    _promote(ledger, events, T0 + 121)
    _promote(ledger, events, T0 + 122)

    # Then the event went out once, as the ledger recorded it, and the marker is cleared
    assert [(e.detail_type.value, e.weight_percent) for e in events.sent] == [
        ("Deployment Promoted", 100.0)
    ]
    assert events.sent[0].reason == ledger.records[EXEC]["reason"]
    assert "outcomeEventPending" not in ledger.records[EXEC]


def test_promote_that_emitted_is_retried_without_a_second_event() -> None:
    ledger, events = InMemoryLedger(), ListEvents()

    _promote(ledger, events, T0 + 120)
    _promote(ledger, events, T0 + 121)

    assert [e.detail_type.value for e in events.sent] == ["Deployment Promoted"]


def test_revert_retried_after_dying_before_its_event_sends_it_once() -> None:
    ledger, events = InMemoryLedger(), ListEvents()
    with pytest.raises(RuntimeDied):
        _revert(ledger, DyingEvents(), T0 + 120)

    _revert(ledger, events, T0 + 121)
    _revert(ledger, events, T0 + 122)

    assert [e.detail_type.value for e in events.sent] == ["Deployment Rolled Back"]
    assert ledger.records[EXEC]["outcome"] == Outcome.ROLLED_BACK.value
    assert "outcomeEventPending" not in ledger.records[EXEC]


def test_an_event_that_failed_to_send_stays_pending_for_the_next_finder() -> None:
    ledger, failing, events = InMemoryLedger(), FailingEvents(), ListEvents()

    _promote(ledger, failing, T0 + 120)
    assert ledger.records[EXEC]["outcomeEventPending"] is True
    # the sweep sees it too, should no retry come (the task succeeded despite the emit)
    assert [(i.kind, i.execution_arn) for i in ledger.find_unfinished()] == [("deployment", EXEC)]
    _promote(ledger, events, T0 + 121)

    assert [e.detail_type.value for e in events.sent] == ["Deployment Promoted"]
    assert "outcomeEventPending" not in ledger.records[EXEC]
    assert ledger.find_unfinished() == []


def test_a_refusal_before_prepare_finished_records_no_pending_event() -> None:
    ledger, events = InMemoryLedger(), ListEvents()
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "error": {"Error": "InvalidInput", "Cause": "bad"},
    }

    outcome.revert(
        raw,
        functions=None,  # type: ignore[arg-type]
        ledger=ledger,
        events=events,
        now=T0,
        execution=EXEC,
    )

    assert ledger.records[EXEC]["outcome"] == Outcome.REFUSED.value
    assert "outcomeEventPending" not in ledger.records[EXEC]
    assert events.sent == []  # nothing started: a refusal announces nothing


def test_a_deployment_that_failed_before_prepare_finished_announces_it_once() -> None:
    # Given Prepare's runtime died after it sent "Deployment Started" (the chaos run's
    # `crash_after` at Prepare's PutEvents), so the Catch ran Revert with no deployment
    ledger, events = InMemoryLedger(), ListEvents()
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "error": {"Error": "Runtime.ExitError", "Cause": "Runtime exited with error"},
    }

    # When Revert runs, and is retried
    for now in (T0, T0 + 1):
        outcome.revert(
            raw,
            functions=None,  # type: ignore[arg-type]
            ledger=ledger,
            events=events,
            now=now,
            execution=EXEC,
        )

    # Then the failure is recorded and announced once, like every other outcome
    assert ledger.records[EXEC]["outcome"] == Outcome.FAILED.value
    assert [(e.detail_type.value, e.execution_arn, e.target_version) for e in events.sent] == [
        ("Deployment Failed", EXEC, "7")
    ]
    assert "Runtime.ExitError" in events.sent[0].reason
    assert "outcomeEventPending" not in ledger.records[EXEC]
