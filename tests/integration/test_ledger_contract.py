"""The ledger's contract: the same tests on the in-memory fake and on the real adapter.

The unit tests run the use cases on `InMemoryLedger`; the e2e tests run them on `Ledger`
(DynamoDB, here moto's). Each test below runs on both, so the fake cannot drift from the
adapter: what the use cases see of a lock, an outcome or a signal is the same on either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from ledger_fake import InMemoryLedger
from moto import mock_aws

from rollout.adapters import aws
from rollout.adapters.ledger import Ledger, table_definition
from rollout.domain.errors import InvalidInput
from rollout.domain.ledger import Outcome, SignalAction
from rollout.domain.rollout import Deployment

TABLE = "trafficshift-ledger"
T0 = 1_800_000_000.0
ONE = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:one"
TWO = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:two"


@pytest.fixture(params=["in-memory", "dynamodb"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "in-memory":
        yield InMemoryLedger()
        return
    with mock_aws():
        aws.client.cache_clear()
        client = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
        client.create_table(**table_definition(TABLE))
        yield Ledger(TABLE, client)
        aws.client.cache_clear()


def _deployment(execution: str = ONE) -> Deployment:
    return Deployment(
        execution_id=execution,
        function_name="orders-api",
        alias="live",
        stable_version="1",
        target_version="2",
        plan=[{"percent": 10.0, "bakeSeconds": 60}, {"percent": 100.0, "bakeSeconds": 0}],
        poll_interval_seconds=20,
        alarms=[],
        started_at="2027-01-15T08:00:00.000+00:00",
    )


def test_a_free_alias_is_taken_and_a_second_execution_is_refused_naming_the_owner(
    ledger: Any,
) -> None:
    first = ledger.acquire_lock("orders-api", "live", ONE, 300, T0)
    second = ledger.acquire_lock("orders-api", "live", TWO, 300, T0 + 1)

    assert first.acquired
    assert first.previous_owner is None
    assert not second.acquired
    assert second.owner == ONE
    assert second.lease_expires_at == first.lease_expires_at
    assert ledger.acquire_lock("orders-api", "live", ONE, 300, T0 + 2).acquired  # ours again


def test_an_expired_lease_is_taken_over_and_says_whose_it_was(ledger: Any) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 300, T0)

    taken = ledger.acquire_lock("orders-api", "live", TWO, 300, T0 + 301)

    assert taken.acquired
    assert taken.previous_owner == ONE
    held = ledger.lock("orders-api", "live")
    assert held is not None
    assert held.owner == TWO


def test_only_the_owner_renews_and_releases_the_lock(ledger: Any) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 300, T0)

    refused = ledger.renew_lock("orders-api", "live", TWO, 300, T0 + 10)
    renewed = ledger.renew_lock("orders-api", "live", ONE, 300, T0 + 10)

    assert not refused.acquired
    assert refused.owner == ONE
    assert renewed.acquired
    assert renewed.lease_expires_at > T0 + 300
    assert ledger.release_lock("orders-api", "live", TWO) is False
    assert ledger.lock("orders-api", "live") is not None
    assert ledger.release_lock("orders-api", "live", ONE) is True
    assert ledger.lock("orders-api", "live") is None


def test_the_first_outcome_wins_and_the_second_finds_it(ledger: Any) -> None:
    ledger.record_deployment_started(_deployment(), {"functionName": "orders-api"}, T0)

    first = ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "healthy", T0 + 60)
    second = ledger.record_deployment_outcome(ONE, Outcome.ROLLED_BACK, "late", T0 + 61)

    assert (first.recorded, first.outcome, first.event_pending) == (True, Outcome.PROMOTED, True)
    assert second.recorded is False
    assert (second.outcome, second.reason, second.event_pending) == (
        Outcome.PROMOTED,
        "healthy",
        True,
    )
    ledger.outcome_event_sent(ONE)
    third = ledger.record_deployment_outcome(ONE, Outcome.FAILED, "later", T0 + 62)
    assert (third.recorded, third.outcome, third.event_pending) == (
        False,
        Outcome.PROMOTED,
        False,
    )


def test_a_started_record_cannot_reopen_a_finished_one(ledger: Any) -> None:
    ledger.record_deployment_outcome(
        ONE,
        Outcome.REFUSED,
        "bad input",
        T0,
        function_name="orders-api",
        alias="live",
        event_pending=False,
    )

    assert ledger.record_deployment_started(_deployment(), {}, T0 + 1) is False


def test_the_sweep_sees_locks_and_records_until_their_outcome_event_is_sent(
    ledger: Any,
) -> None:
    ledger.acquire_lock("orders-api", "live", ONE, 300, T0)
    ledger.record_deployment_started(_deployment(), {}, T0)
    ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "healthy", T0 + 60)
    ledger.release_lock("orders-api", "live", ONE)

    pending = {(item.kind, item.execution_arn) for item in ledger.find_unfinished()}
    ledger.outcome_event_sent(ONE)
    after = ledger.find_unfinished()

    assert pending == {("deployment", ONE)}
    assert after == []


def test_signals_come_back_oldest_first_and_a_finished_deployment_takes_none(
    ledger: Any,
) -> None:
    ledger.record_deployment_started(_deployment(), {}, T0)

    ledger.put_signal(ONE, "pause", "ops@example.com", T0 + 1)
    ledger.put_signal(ONE, "resume", "ops@example.com", T0 + 2)

    assert [(s.action, s.at) for s in ledger.signals(ONE)] == [
        (SignalAction.PAUSE, T0 + 1),
        (SignalAction.RESUME, T0 + 2),
    ]
    ledger.record_deployment_outcome(ONE, Outcome.PROMOTED, "healthy", T0 + 3)
    with pytest.raises(InvalidInput):
        ledger.put_signal(ONE, "abort", "ops@example.com", T0 + 4)
    with pytest.raises(InvalidInput):
        ledger.put_signal(TWO, "abort", "ops@example.com", T0 + 4)
