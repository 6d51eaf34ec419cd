"""The ledger's item shapes and decisions, pure: locks, leases, history, operator signals;
the events' shapes; the reconciler's decisions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollout.domain import ledger
from rollout.domain import reconcile as reconcile_domain
from rollout.domain.errors import AliasBusy, InvalidInput, PreflightFailed
from rollout.domain.events import DeploymentEvent, DetailType, event_for
from rollout.domain.ledger import (
    Directive,
    LockItem,
    LockResult,
    Outcome,
    Signal,
    SignalAction,
    fold_signals,
)
from rollout.domain.rollout import AliasSnapshot, Deployment, StepRecord

T0 = 1_800_000_000.0
ME = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:me"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:other"


def _lock(owner: str = OTHER, expires: float = T0 + 60) -> LockItem:
    return LockItem(function_name="orders-api", alias="live", owner=owner, lease_expires_at=expires)


def _signal(action: str, at: float, by: str = "alice", sid: str | None = None) -> Signal:
    return Signal(
        execution_arn=ME, action=SignalAction(action), by=by, at=at, id=sid or f"{action}{at}"
    )


def _deployment(**overrides: Any) -> Deployment:
    raw: dict[str, Any] = {
        "execution_id": ME,
        "function_name": "orders-api",
        "alias": "live",
        "stable_version": "1",
        "target_version": "2",
        "plan": [{"percent": 10.0, "bakeSeconds": 60}, {"percent": 100.0, "bakeSeconds": 0}],
        "poll_interval_seconds": 20,
        "started_at": "2027-01-15T08:00:00.000+00:00",
    }
    raw.update(overrides)
    return Deployment(**raw)


# --- the lock ----------------------------------------------------------------------------


def test_lock_is_takeable_when_absent_expired_or_ours_and_not_otherwise() -> None:
    assert ledger.takeable(None, ME, T0)
    assert ledger.takeable(_lock(expires=T0 - 1), ME, T0)
    assert ledger.takeable(_lock(owner=ME), ME, T0)
    assert not ledger.takeable(_lock(), ME, T0)
    # the lease still holds at its last second, as `leaseExpiresAt < :now` says
    assert not ledger.takeable(_lock(expires=T0), ME, T0)


def test_lock_item_has_the_key_owner_lease_and_open_index_keys() -> None:
    item = ledger.lock_item("orders-api", "live", ME, 900, T0 + 0.2)

    assert item["pk"] == "LOCK#orders-api:live"
    assert item["sk"] == "LOCK"
    assert item["owner"] == ME
    assert item["leaseExpiresAt"] == 1_800_000_901  # rounded up: never shorter than asked
    assert item["expiresAt"] > item["leaseExpiresAt"]  # TTL only collects garbage, later
    assert item["openPk"] == "OPEN"
    assert item["openSk"].startswith("lock#")


def test_lease_is_renewed_once_half_of_it_is_gone() -> None:
    assert not ledger.should_renew(T0 + 900, T0, 900)
    assert not ledger.should_renew(T0 + 451, T0, 900)
    assert ledger.should_renew(T0 + 449, T0, 900)
    assert ledger.should_renew(T0 - 5, T0, 900)  # already expired: renew (if still ours)


def test_lease_outlives_two_missed_polls() -> None:
    assert ledger.lease_seconds_for(30) == 900
    assert ledger.lease_seconds_for(303) == 3 * 303 + 60


def test_refusal_names_the_running_execution_and_how_to_wait() -> None:
    result = LockResult(acquired=False, owner=OTHER, lease_expires_at=int(T0) + 60)

    refused = ledger.busy_error(result, "orders-api", "live", wait=False)
    waiting = ledger.busy_error(result, "orders-api", "live", wait=True)

    assert type(refused) is PreflightFailed
    assert OTHER in str(refused)
    assert '"onBusy": "wait"' in str(refused)
    assert isinstance(waiting, AliasBusy)  # retried by the state machine, by name


# --- history -----------------------------------------------------------------------------


def test_deployment_item_holds_input_plan_versions_and_index_keys() -> None:
    item = ledger.deployment_item(_deployment(), {"functionName": "orders-api"}, T0)

    assert item["pk"] == f"DEPLOYMENT#{ME}"
    assert item["sk"] == "DEPLOYMENT"
    assert item["status"] == "RUNNING"
    assert item["input"] == {"functionName": "orders-api"}
    assert item["deployment"]["plan"][0] == {"percent": 10.0, "bakeSeconds": 60}
    assert (item["stableVersion"], item["targetVersion"]) == ("1", "2")
    assert item["aliasKey"] == "orders-api:live"
    assert item["startedAt"] == "2027-01-15T08:00:00.000+00:00"
    assert item["openSk"].startswith("deployment#2027-01-15")


def test_step_items_sort_by_step_number() -> None:
    record = StepRecord(step=3, percent=0.5, bake_seconds=60, shifted_at="t")
    item = ledger.step_item(ME, record, T0, numbers={"newErrors": 2, "newInvocations": 180})

    assert item["sk"] == "STEP#0003"
    assert item["percent"] == 0.5
    assert item["numbers"] == {"newErrors": 2, "newInvocations": 180}
    assert "decidedAt" in item


def test_running_is_not_an_outcome() -> None:
    with pytest.raises(ValueError, match="not an outcome"):
        ledger.outcome_attributes(Outcome.RUNNING, "", T0)


def test_an_outcome_is_written_with_its_event_marked_pending() -> None:
    written = ledger.outcome_attributes(Outcome.PROMOTED, "all steps baked", T0)
    silent = ledger.outcome_attributes(Outcome.REFUSED, "bad input", T0, event_pending=False)

    assert written["outcomeEventPending"] is True
    assert "outcomeEventPending" not in silent


def test_an_outcome_found_recorded_says_whether_its_event_is_still_to_send() -> None:
    pending = ledger.outcome_attributes(Outcome.ROLLED_BACK, "alarm", T0)
    sent = {k: v for k, v in pending.items() if k != "outcomeEventPending"}

    found = ledger.outcome_found(pending)
    assert (found.recorded, found.outcome, found.reason) == (False, Outcome.ROLLED_BACK, "alarm")
    assert found.event_pending
    assert not ledger.outcome_found(sent).event_pending
    assert ledger.outcome_found({}) == ledger.OutcomeResult(recorded=False)


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome.PROMOTED, DetailType.PROMOTED),
        (Outcome.ROLLED_BACK, DetailType.ROLLED_BACK),
        (Outcome.ALIAS_CHANGED, DetailType.ALIAS_CHANGED),
        (Outcome.REFUSED, DetailType.FAILED),
        (Outcome.FAILED, DetailType.FAILED),
        (Outcome.UNRESOLVED, DetailType.FAILED),
    ],
)
def test_each_outcome_is_announced_by_one_event_type(outcome: Outcome, kind: DetailType) -> None:
    assert ledger.outcome_event_type(outcome) is kind


def test_record_is_assembled_from_its_partition_in_order() -> None:
    meta = ledger.deployment_item(_deployment(), {"alias": "live"}, T0)
    step2 = ledger.step_item(
        ME, StepRecord(step=2, percent=100, bake_seconds=0, shifted_at="b"), T0
    )
    step1 = ledger.step_item(
        ME, StepRecord(step=1, percent=10, bake_seconds=60, shifted_at="a"), T0
    )
    late = ledger.signal_item(ME, SignalAction.RESUME, "bob", T0 + 5, "b")
    early = ledger.signal_item(ME, SignalAction.PAUSE, "bob", T0 + 1, "a")

    record = ledger.record_from_items([late, step2, meta, early, step1])

    assert record is not None
    assert [s.step for s in record.steps] == [1, 2]
    assert [s.action for s in record.signals] == [SignalAction.PAUSE, SignalAction.RESUME]
    assert not record.finished
    assert record.as_deployment() == _deployment()
    assert ledger.record_from_items([step1]) is None


def test_signal_sort_keys_follow_time() -> None:
    first = ledger.signal_item(ME, SignalAction.PAUSE, "a", 999.999, "z")
    second = ledger.signal_item(ME, SignalAction.RESUME, "a", 1000.0, "a")

    assert first["sk"] < second["sk"]


def test_unknown_action_is_refused_with_a_suggestion() -> None:
    assert ledger.parse_action(" Pause ") is SignalAction.PAUSE
    with pytest.raises(InvalidInput, match="did you mean 'abort'"):
        ledger.parse_action("abrot")


# --- operator signals --------------------------------------------------------------------


def test_no_signals_means_proceed() -> None:
    view = fold_signals([], T0)

    assert view.directive is Directive.PROCEED
    assert view.paused_seconds == 0
    assert not view.approved


def test_open_pause_stops_the_clock_until_now() -> None:
    view = fold_signals([_signal("pause", T0 + 10)], now=T0 + 40)

    assert view.directive is Directive.PAUSED
    assert view.paused
    assert view.paused_since == T0 + 10
    assert view.paused_seconds == 30
    assert view.reason.startswith("paused by alice at ")


def test_pause_then_resume_adds_the_pause_to_the_bake() -> None:
    signals = [_signal("pause", T0 + 10), _signal("resume", T0 + 25)]

    view = fold_signals(signals, now=T0 + 100)

    assert view.directive is Directive.PROCEED
    assert not view.paused
    assert view.paused_seconds == 15
    assert ledger.bake_remaining(T0, 60, view.paused_seconds, T0 + 60) == 15


def test_paused_seconds_count_only_within_the_current_step() -> None:
    # Given a pause from T0+10 to T0+40 and a step that started at T0+30
    signals = [_signal("pause", T0 + 10), _signal("resume", T0 + 40), _signal("pause", T0 + 50)]

    view = fold_signals(signals, now=T0 + 60, since=T0 + 30)

    # Then 10 s of the first pause and the 10 s of the open one count
    assert view.paused_seconds == 20


def test_a_second_pause_and_a_stray_resume_change_nothing() -> None:
    signals = [
        _signal("resume", T0 + 1),
        _signal("pause", T0 + 10),
        _signal("pause", T0 + 20),
        _signal("resume", T0 + 30),
        _signal("resume", T0 + 35),
    ]

    view = fold_signals(signals, now=T0 + 100)

    assert view.paused_seconds == 20
    assert view.directive is Directive.PROCEED


def test_abort_wins_over_promote_whatever_the_order() -> None:
    for order in (("abort", "promote"), ("promote", "abort")):
        signals = [_signal(order[0], T0 + 1, by="a"), _signal(order[1], T0 + 2, by="b")]
        view = fold_signals(signals, now=T0 + 3)
        assert view.directive is Directive.ABORT
        assert view.reason.startswith("aborted by ")


def test_promote_ends_a_pause_and_counts_as_approval() -> None:
    signals = [_signal("pause", T0 + 1), _signal("promote", T0 + 2, by="carol")]

    view = fold_signals(signals, now=T0 + 10)

    assert view.directive is Directive.PROMOTE
    assert view.approved
    assert view.by == "carol"


def test_approve_passes_the_gate_without_changing_the_bake() -> None:
    view = fold_signals([_signal("approve", T0 + 1)], now=T0 + 10)

    assert view.approved
    assert view.directive is Directive.PROCEED


def test_signal_stamped_in_the_future_counts_from_now() -> None:
    # A sender whose clock runs ahead must not make the pause count negative time.
    view = fold_signals([_signal("pause", T0 + 500)], now=T0 + 10)

    assert view.paused_since == T0 + 10
    assert view.paused_seconds == 0


# --- events ------------------------------------------------------------------------------


def test_event_detail_carries_execution_versions_reason_and_weight() -> None:
    event = event_for(_deployment(), DetailType.SHIFTED, "step 1/2", T0, weight_percent=10.0)

    detail = event.detail()

    assert detail["executionArn"] == ME
    assert (detail["functionName"], detail["alias"]) == ("orders-api", "live")
    assert (detail["stableVersion"], detail["targetVersion"]) == ("1", "2")
    assert detail["reason"] == "step 1/2"
    assert detail["weightPercent"] == 10.0
    json.dumps(detail)  # EventBridge takes it as JSON text


def test_traffic_shifted_without_weight_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="weight"):
        event_for(_deployment(), DetailType.SHIFTED, "oops", T0)
    paused = DeploymentEvent(
        detail_type=DetailType.PAUSED,
        execution_arn=ME,
        function_name="f",
        alias="a",
        reason="paused by alice",
        time="t",
    )
    assert "weightPercent" not in paused.detail()


# --- the reconciler's decisions ------------------------------------------------------------


def _status_change(status: str, **detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": ME,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:TrafficShift",
            "status": status,
            "input": json.dumps({"functionName": "orders-api", "alias": "live"}),
            **detail,
        },
    }


def test_status_change_event_is_parsed_with_its_input() -> None:
    change = reconcile_domain.parse_status_change(_status_change("ABORTED", error=None))

    assert change is not None
    assert change.status == "ABORTED"
    assert change.input == {"functionName": "orders-api", "alias": "live"}
    assert reconcile_domain.parse_status_change({"detail-type": "Scheduled Event"}) is None
    unreadable = reconcile_domain.parse_status_change(_status_change("FAILED", input="not json"))
    assert unreadable is not None
    assert unreadable.input is None


def test_identity_comes_from_the_input_even_with_a_function_arn() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"

    assert reconcile_domain.identity_from_input(
        {"functionName": arn, "alias": "live", "targetVersion": 7}
    ) == (
        "orders-api",
        "live",
        "7",
    )
    assert reconcile_domain.identity_from_input({"functionName": "f", "alias": "a"}) == (
        "f",
        "a",
        None,
    )
    assert reconcile_domain.identity_from_input({"alias": "a"}) is None
    assert reconcile_domain.identity_from_input(None) is None


@pytest.mark.parametrize(
    ("primary", "weights", "target", "stable"),
    [
        ("1", {"2": 0.1}, "2", "1"),  # split exactly as SetWeight routes: provably ours
        ("1", {"3": 0.1}, "2", None),  # another version in the split: not ours
        ("2", {}, "2", None),  # the target at 100%: the stable version is unknowable
        ("1", {"2": 0.1}, None, None),  # publish: true and no record: target unknown
    ],
)
def test_deployment_is_inferred_only_when_the_alias_proves_it(
    primary: str, weights: dict[str, float], target: str | None, stable: str | None
) -> None:
    alias = AliasSnapshot(function_version=primary, additional_weights=weights, revision_id="r")

    found = reconcile_domain.inferred_deployment(ME, "orders-api", "live", target, alias, T0)

    assert (found.stable_version if found else None) == stable


def test_endings_map_to_outcomes_and_events() -> None:
    common: dict[str, Any] = {
        "function_name": "f",
        "alias": "live",
        "stable_version": "1",
        "target_version": "2",
        "alias_now": "version 1 (100%)",
    }
    restored = reconcile_domain.ending(
        reconcile_domain.Reconciled.RESTORED, "ABORTED", None, None, **common
    )
    foreign = reconcile_domain.ending(
        reconcile_domain.Reconciled.FOREIGN, "ABORTED", None, None, **common
    )
    refused = reconcile_domain.ending(
        reconcile_domain.Reconciled.CLEAN, "FAILED", "InvalidInput", "bad", **common
    )
    rolled = reconcile_domain.ending(
        reconcile_domain.Reconciled.CLEAN, "FAILED", "DeploymentRolledBack", "x", **common
    )
    timed = reconcile_domain.ending(
        reconcile_domain.Reconciled.CLEAN, "TIMED_OUT", None, None, **common
    )

    assert restored[:2] == (Outcome.ROLLED_BACK, DetailType.ROLLED_BACK)
    assert "restored version 1" in restored[2]
    assert foreign[:2] == (Outcome.ALIAS_CHANGED, DetailType.ALIAS_CHANGED)
    assert refused[:2] == (Outcome.REFUSED, DetailType.FAILED)
    assert rolled[:2] == (Outcome.ROLLED_BACK, DetailType.ROLLED_BACK)
    assert timed[:2] == (Outcome.FAILED, DetailType.FAILED)
    assert timed[2].startswith("execution TIMED_OUT")
