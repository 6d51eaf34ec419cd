"""The real ledger adapter against moto's DynamoDB: locks, leases, history, signals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from rollout.adapters import aws
from rollout.adapters.ledger import Ledger, table_definition
from rollout.domain import ledger as ledger_domain
from rollout.domain.errors import InvalidInput, Throttled
from rollout.domain.ledger import Outcome, SignalAction
from rollout.domain.rollout import Deployment, StepRecord
from trafficshift.emulator import faults

TABLE = "trafficshift-ledger"
T0 = 1_800_000_000.0
ONE = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:one"
TWO = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:two"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        aws.client.cache_clear()
        client = boto3.client("dynamodb", config=NO_RETRIES)
        client.create_table(**table_definition(TABLE))
        yield client
        aws.client.cache_clear()


@pytest.fixture
def ledger(dynamodb: Any) -> Ledger:
    return Ledger(TABLE, dynamodb)


def _deployment(
    execution: str = ONE, started_at: str = "2027-01-15T08:00:00.000+00:00"
) -> Deployment:
    return Deployment(
        execution_id=execution,
        function_name="orders-api",
        alias="live",
        stable_version="1",
        target_version="2",
        plan=[{"percent": 0.5, "bakeSeconds": 60}, {"percent": 100.0, "bakeSeconds": 0}],
        poll_interval_seconds=20,
        alarms=["orders-errors"],
        started_at=started_at,
    )


# --- the lock ----------------------------------------------------------------------------


def test_first_rollout_takes_the_lock(ledger: Ledger) -> None:
    result = ledger.acquire_lock("orders-api", "live", ONE, 900, T0)

    assert result.acquired
    assert result.owner == ONE
    assert result.lease_expires_at == T0 + 900
    assert result.previous_owner is None
    held = ledger.lock("orders-api", "live")
    assert held is not None
    assert held.owner == ONE


def test_second_rollout_is_refused_with_the_owner_named(ledger: Ledger) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 900, T0)

    refused = ledger.acquire_lock("orders-api", "live", TWO, 900, T0 + 10)

    assert not refused.acquired
    assert refused.owner == ONE
    assert refused.lease_expires_at == T0 + 900
    assert ledger.lock("orders-api", "live").owner == ONE  # type: ignore[union-attr]


def test_other_aliases_are_independent(ledger: Ledger) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 900, T0)

    assert ledger.acquire_lock("orders-api", "beta", TWO, 900, T0).acquired
    assert ledger.acquire_lock("billing", "live", TWO, 900, T0).acquired


def test_retried_acquire_by_the_owner_succeeds(ledger: Ledger) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 900, T0)

    again = ledger.acquire_lock("orders-api", "live", ONE, 900, T0 + 5)

    assert again.acquired
    assert again.previous_owner is None
    assert again.lease_expires_at == T0 + 905


def test_expired_lease_is_taken_over_by_the_next_rollout(ledger: Ledger) -> None:
    # Given a rollout that crashed holding the lock
    ledger.acquire_lock("orders-api", "live", ONE, 60, T0)

    # When the next one starts after the lease expired
    result = ledger.acquire_lock("orders-api", "live", TWO, 900, T0 + 61)

    # Then it proceeds, and knows whose lock it took
    assert result.acquired
    assert result.previous_owner == ONE
    assert ledger.lock("orders-api", "live").owner == TWO  # type: ignore[union-attr]


def test_release_only_by_the_owner(ledger: Ledger) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 900, T0)

    assert not ledger.release_lock("orders-api", "live", TWO)
    assert ledger.lock("orders-api", "live") is not None
    assert ledger.release_lock("orders-api", "live", ONE)
    assert ledger.lock("orders-api", "live") is None
    assert not ledger.release_lock("orders-api", "live", ONE)  # already free: nothing to do
    assert ledger.acquire_lock("orders-api", "live", TWO, 900, T0 + 1).acquired


def test_renew_extends_the_owners_lease(ledger: Ledger) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 900, T0)

    renewed = ledger.renew_lock("orders-api", "live", ONE, 900, T0 + 500)

    assert renewed.acquired
    held = ledger.lock("orders-api", "live")
    assert held is not None
    assert held.lease_expires_at == T0 + 1400
    assert held.acquired_at.startswith("2027-01-15")  # the acquisition time is kept
    # and the lease now outlives the time a takeover would have been allowed
    assert not ledger.acquire_lock("orders-api", "live", TWO, 900, T0 + 1000).acquired


def test_renew_after_a_takeover_names_the_new_owner(ledger: Ledger) -> None:
    # Given ONE's lease expired and TWO took the alias
    ledger.acquire_lock("orders-api", "live", ONE, 60, T0)
    ledger.acquire_lock("orders-api", "live", TWO, 900, T0 + 61)

    # When ONE wakes up and renews
    renewed = ledger.renew_lock("orders-api", "live", ONE, 900, T0 + 62)

    # Then it learns it lost the alias, to whom, and TWO keeps it
    assert not renewed.acquired
    assert renewed.owner == TWO
    assert ledger.lock("orders-api", "live").owner == TWO  # type: ignore[union-attr]


def test_renew_retakes_a_vanished_lock(ledger: Ledger, dynamodb: Any) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 900, T0)
    dynamodb.delete_item(
        TableName=TABLE, Key={"pk": {"S": "LOCK#orders-api:live"}, "sk": {"S": "LOCK"}}
    )

    renewed = ledger.renew_lock("orders-api", "live", ONE, 900, T0 + 10)

    assert renewed.acquired
    held = ledger.lock("orders-api", "live")
    assert held is not None
    assert held.owner == ONE
    assert [i.kind for i in ledger.find_unfinished()] == ["lock"]  # back in the sweep's view


def test_throttled_lock_write_becomes_throttled(ledger: Ledger) -> None:
    with (
        faults.inject_error(
            "PutItem", "ProvisionedThroughputExceededException", "slow down", service="dynamodb"
        ),
        pytest.raises(Throttled),
    ):
        ledger.acquire_lock("orders-api", "live", ONE, 900, T0)
    with faults.throttle("DeleteItem", service="dynamodb"), pytest.raises(Throttled):
        ledger.release_lock("orders-api", "live", ONE)


# --- history -----------------------------------------------------------------------------


def test_history_records_input_plan_steps_and_outcome(ledger: Ledger) -> None:
    request = {"functionName": "orders-api", "alias": "live", "strategy": "AllAtOnce"}
    assert ledger.record_deployment_started(_deployment(), request, T0)
    ledger.record_deployment_step(
        ONE,
        StepRecord(step=1, percent=0.5, bake_seconds=60, shifted_at="2027-01-15T08:00:01Z"),
        T0 + 1,
    )
    # a later Check of the same step replaces its decision, with the numbers behind it
    ledger.record_deployment_step(
        ONE,
        StepRecord(
            step=1,
            percent=0.5,
            bake_seconds=60,
            shifted_at="2027-01-15T08:00:01Z",
            checks=3,
            decision="advance",
            reason="baked 60 s",
        ),
        T0 + 61,
        numbers={"newErrors": 0, "newInvocations": 412, "errorRate": 0.0012},
    )
    assert ledger.record_deployment_outcome(
        ONE, Outcome.PROMOTED, "all steps baked", T0 + 70
    ).recorded

    record = ledger.deployment(ONE)

    assert record is not None
    assert record.input == request
    assert record.deployment["plan"][0] == {"percent": 0.5, "bakeSeconds": 60}
    assert (record.stable_version, record.target_version) == ("1", "2")
    assert len(record.steps) == 1
    step = record.steps[0]
    assert (step.checks, step.decision, step.percent) == (3, "advance", 0.5)
    assert step.numbers == {"newErrors": 0, "newInvocations": 412, "errorRate": 0.0012}
    assert record.outcome == "PROMOTED"
    assert record.status == "PROMOTED"
    assert record.finished_at is not None


def test_first_outcome_wins_and_a_late_start_does_not_reopen(ledger: Ledger) -> None:
    ledger.record_deployment_started(_deployment(), {}, T0)
    assert ledger.record_deployment_outcome(ONE, Outcome.ROLLED_BACK, "alarm", T0 + 5).recorded

    assert not ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "late", T0 + 6).recorded
    assert not ledger.record_deployment_started(_deployment(), {}, T0 + 7)
    record = ledger.deployment(ONE)
    assert record is not None
    assert (record.outcome, record.reason) == ("ROLLED_BACK", "alarm")


def test_outcome_is_recorded_with_its_event_pending_until_it_is_sent(ledger: Ledger) -> None:
    # Given a Promote that recorded its outcome and died before emitting
    ledger.record_deployment_started(_deployment(), {}, T0)
    first = ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "all steps baked", T0 + 5)
    assert (first.recorded, first.event_pending) == (True, True)
    assert ledger.deployment(ONE).outcome_event_pending  # type: ignore[union-attr]

    # When its retry records again, it learns the recorded outcome and that its event is due
    retry = ledger.record_deployment_outcome(ONE, Outcome.ROLLED_BACK, "late", T0 + 6)
    assert (retry.recorded, retry.outcome, retry.reason) == (
        False,
        Outcome.PROMOTED,
        "all steps baked",
    )
    assert retry.event_pending

    # Then once the event is sent, a later retry finds nothing to send
    ledger.outcome_event_sent(ONE)
    again = ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "again", T0 + 7)
    assert (again.recorded, again.outcome, again.event_pending) == (False, Outcome.PROMOTED, False)
    record = ledger.deployment(ONE)
    assert record is not None
    assert not record.outcome_event_pending
    assert (record.outcome, record.reason) == ("PROMOTED", "all steps baked")


def test_outcome_recorded_without_an_event_carries_no_marker(ledger: Ledger) -> None:
    written = ledger.record_deployment_outcome(
        TWO,
        Outcome.REFUSED,
        "bad",
        T0,
        function_name="orders-api",
        alias="live",
        event_pending=False,
    )

    assert (written.recorded, written.event_pending) == (True, False)
    assert not ledger.record_deployment_outcome(TWO, Outcome.FAILED, "x", T0 + 1).event_pending


def test_clearing_the_marker_of_an_unknown_deployment_creates_nothing(
    ledger: Ledger, dynamodb: Any
) -> None:
    ledger.outcome_event_sent(ONE)

    assert ledger.deployment(ONE) is None
    assert dynamodb.scan(TableName=TABLE)["Items"] == []


def test_outcome_without_a_start_creates_the_record(ledger: Ledger) -> None:
    assert ledger.record_deployment_outcome(
        TWO, Outcome.REFUSED, "bad input", T0, function_name="orders-api", alias="live"
    ).recorded

    record = ledger.deployment(TWO)
    assert record is not None
    assert (record.function_name, record.alias, record.outcome) == ("orders-api", "live", "REFUSED")
    assert [r.execution_arn for r in ledger.deployments_for("orders-api", "live")] == [TWO]


def test_unfinished_lists_locks_and_open_deployments_until_they_close(ledger: Ledger) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 900, T0)
    ledger.record_deployment_started(_deployment(), {}, T0)

    assert sorted((i.kind, i.execution_arn, i.alias) for i in ledger.find_unfinished()) == [
        ("deployment", ONE, "live"),
        ("lock", ONE, "live"),
    ]

    ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "done", T0 + 1)
    ledger.release_lock("orders-api", "live", ONE)
    # its event is not sent yet: still in the sweep's view
    assert [(i.kind, i.execution_arn) for i in ledger.find_unfinished()] == [("deployment", ONE)]
    ledger.outcome_event_sent(ONE)
    assert ledger.find_unfinished() == []
    assert ledger.deployment(ONE) is not None  # history stays


def _open_keys(dynamodb: Any, execution: str) -> tuple[str | None, str | None]:
    item = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"DEPLOYMENT#{execution}"}, "sk": {"S": "DEPLOYMENT"}}
    )["Item"]
    return (
        item.get("openPk", {}).get("S"),
        item.get("openSk", {}).get("S"),
    )


def test_a_pending_outcome_stays_in_the_open_index_until_its_event_is_sent(
    ledger: Ledger, dynamodb: Any
) -> None:
    # Given a deployment whose outcome was recorded and whose emit failed
    ledger.record_deployment_started(_deployment(), {}, T0)
    ledger.record_deployment_outcome(ONE, Outcome.ROLLED_BACK, "alarm", T0 + 5)

    # Then the sweep still finds it, under the key it had while running
    (found,) = ledger.find_unfinished()
    assert (found.kind, found.execution_arn, found.function_name, found.alias) == (
        "deployment",
        ONE,
        "orders-api",
        "live",
    )
    assert _open_keys(dynamodb, ONE) == ("OPEN", f"deployment#2027-01-15T08:00:00.000+00:00#{ONE}")

    # When the event is sent, the marker and the index entry go in the same write
    ledger.outcome_event_sent(ONE)
    assert ledger.find_unfinished() == []
    assert _open_keys(dynamodb, ONE) == (None, None)
    record = ledger.deployment(ONE)
    assert record is not None
    assert (record.outcome, record.outcome_event_pending) == ("ROLLED_BACK", False)
    # and a late retry of the outcome does not put it back
    assert not ledger.record_deployment_outcome(ONE, Outcome.FAILED, "late", T0 + 9).recorded
    assert ledger.find_unfinished() == []


def test_an_outcome_recorded_without_a_start_is_swept_while_its_event_is_pending(
    ledger: Ledger,
) -> None:
    ledger.record_deployment_outcome(
        TWO, Outcome.FAILED, "died", T0, function_name="orders-api", alias="live"
    )
    ledger.record_deployment_outcome(
        ONE,
        Outcome.REFUSED,
        "bad input",
        T0,
        function_name="orders-api",
        alias="live",
        event_pending=False,  # nothing to announce: never in the sweep's view
    )

    assert [(i.kind, i.execution_arn, i.alias) for i in ledger.find_unfinished()] == [
        ("deployment", TWO, "live")
    ]
    ledger.outcome_event_sent(TWO)
    assert ledger.find_unfinished() == []


def test_deployments_for_an_alias_newest_first(ledger: Ledger) -> None:
    ledger.record_deployment_started(_deployment(ONE, "2027-01-15T08:00:00.000+00:00"), {}, T0)
    ledger.record_deployment_started(_deployment(TWO, "2027-01-16T08:00:00.000+00:00"), {}, T0)

    found = ledger.deployments_for("orders-api", "live")

    assert [r.execution_arn for r in found] == [TWO, ONE]
    assert ledger.deployments_for("orders-api", "beta") == []


# --- signals -----------------------------------------------------------------------------


def test_signals_reach_the_running_deployment_in_order(ledger: Ledger) -> None:
    ledger.record_deployment_started(_deployment(), {}, T0)

    ledger.put_signal(ONE, "pause", "alice", T0 + 10)
    ledger.put_signal(ONE, SignalAction.RESUME, "alice", T0 + 25)
    ledger.put_signal(ONE, "approve", "bob", T0 + 30)

    signals = ledger.signals(ONE)
    assert [(s.action, s.by) for s in signals] == [
        (SignalAction.PAUSE, "alice"),
        (SignalAction.RESUME, "alice"),
        (SignalAction.APPROVE, "bob"),
    ]
    view = ledger_domain.fold_signals(signals, now=T0 + 40)
    assert view.paused_seconds == 15
    assert view.approved
    assert [s.action for s in ledger.deployment(ONE).signals] == [  # type: ignore[union-attr]
        SignalAction.PAUSE,
        SignalAction.RESUME,
        SignalAction.APPROVE,
    ]


def test_signal_to_an_unknown_or_finished_deployment_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match="no deployment is recorded"):
        ledger.put_signal(ONE, "abort", "alice", T0)

    ledger.record_deployment_started(_deployment(), {}, T0)
    ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "done", T0 + 1)
    with pytest.raises(InvalidInput, match=r"already finished \(PROMOTED\)"):
        ledger.put_signal(ONE, "abort", "alice", T0 + 2)
    assert ledger.signals(ONE) == []


def test_unknown_signal_is_refused_before_any_write(ledger: Ledger) -> None:
    ledger.record_deployment_started(_deployment(), {}, T0)

    with pytest.raises(InvalidInput, match="did you mean 'pause'"):
        ledger.put_signal(ONE, "paus", "alice", T0)


def test_approval_token_is_kept_for_approve(ledger: Ledger) -> None:
    assert ledger.approval_token(ONE) is None

    ledger.request_approval(ONE, "token-123", T0, timeout_seconds=3600)

    assert ledger.approval_token(ONE) == "token-123"
