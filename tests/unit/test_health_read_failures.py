"""A Check that cannot read the alarms or metrics polls again, up to a limit, then reverts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from ledger_fake import InMemoryLedger, ListEvents

from rollout.adapters.aws import translated
from rollout.application import check
from rollout.domain import rollout as domain
from rollout.domain.errors import AccessDenied, InvalidInput, ServiceUnavailable, Throttled
from rollout.domain.request import parse_request
from rollout.domain.rollout import AlarmState, AliasSnapshot, Decision, RolloutState, VersionInfo

T0 = 1_800_000_000.0
ROLE = "arn:aws:iam::123456789012:role/orders"


def _state(**overrides: Any) -> RolloutState:
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 60},
        "alarms": ["errors"],
        "pollIntervalSeconds": 10,
        "analysis": {"enabled": False},
        **overrides,
    }
    state = domain.preflight(
        parse_request(raw),
        alias=AliasSnapshot(function_version="6", revision_id="r1"),
        target=VersionInfo(version="7", role=ROLE),
        stable=VersionInfo(version="6", role=ROLE),
        alarms={"errors": AlarmState(name="errors", state="OK")},
        execution_id="arn:exec",
        now=T0,
    )
    return domain.begin_step(state, 0, "r2", T0)


class FlakyAlarms:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error = failures, error

    def states(self, names: Any) -> dict[str, AlarmState]:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return {"errors": AlarmState(name="errors", state="OK")}


def _check(state: RolloutState, alarms: FlakyAlarms, now: float) -> RolloutState:
    ledger = InMemoryLedger()
    ledger.acquire_lock("orders-api", "live", "arn:exec", 3600, T0)
    out = check.check(
        state,
        alarms=alarms,
        ledger=ledger,
        events=ListEvents(),
        now=now,
    )
    return RolloutState.model_validate(out)


@pytest.mark.parametrize(
    "error", [ServiceUnavailable("DescribeAlarms 503"), Throttled("DescribeAlarms throttled")]
)
def test_a_transient_read_failure_polls_again_instead_of_reverting(error: Exception) -> None:
    checked = _check(_state(), FlakyAlarms(1, error), T0 + 10)

    assert checked.cursor.decision == Decision.CONTINUE
    assert checked.cursor.health_read_failures == 1
    assert "1 of 3 tolerated" in checked.cursor.reason


def test_failures_beyond_the_configured_count_revert() -> None:
    state = _state(maxHealthReadFailures=2)
    alarms = FlakyAlarms(10, ServiceUnavailable("DescribeAlarms 503"))

    decisions = []
    for poll in range(3):
        state = _check(state, alarms, T0 + 10 * (poll + 1))
        decisions.append(state.cursor.decision)

    assert decisions == [Decision.CONTINUE, Decision.CONTINUE, Decision.FAIL]
    assert "could not read the health 3 times in a row" in state.cursor.reason


def test_a_successful_read_resets_the_count() -> None:
    state = _check(_state(), FlakyAlarms(1, ServiceUnavailable("503")), T0 + 10)

    state = _check(state, FlakyAlarms(0, ServiceUnavailable("unused")), T0 + 20)

    assert state.cursor.health_read_failures == 0
    assert state.cursor.decision == Decision.CONTINUE


def test_an_unread_health_never_advances_even_when_the_bake_is_over() -> None:
    checked = _check(_state(), FlakyAlarms(1, ServiceUnavailable("503")), T0 + 600)

    assert checked.cursor.decision == Decision.CONTINUE


def test_server_errors_and_unreachable_endpoints_become_service_unavailable() -> None:
    server_error = ClientError(
        {"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "DescribeAlarms",
    )
    with pytest.raises(ServiceUnavailable), translated("DescribeAlarms"):
        raise server_error
    with pytest.raises(ServiceUnavailable), translated("GetMetricData"):
        raise EndpointConnectionError(endpoint_url="https://monitoring.example")


def test_a_client_error_is_not_mistaken_for_an_outage() -> None:
    denied = ClientError(
        {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "DescribeAlarms",
    )
    with pytest.raises(AccessDenied) as caught, translated("DescribeAlarms"):
        raise denied
    # Not an outage the Check tolerates: it reverts at once.
    assert not isinstance(caught.value, ServiceUnavailable | Throttled)


@pytest.mark.parametrize("bad", [-1, 101, True, "3"])
def test_max_health_read_failures_out_of_range_is_invalid_input(bad: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        _state(maxHealthReadFailures=bad)
    assert caught.value.field == "maxHealthReadFailures"
