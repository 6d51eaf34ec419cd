"""Chaos, the fast seeded subset (issue 11, section 5; `bench/chaos.py` runs 500).

Each case is one seeded rollout on the emulator with one fault of each kind - a crash before
or after a task's AWS call, throttling, Sandbox.Timedout, StopExecution, someone else's
UpdateAlias, an alarm flip, a brownout - and after it the invariants must hold: the alias on
one version with no routing (or the other party's edit untouched), no lock left, a complete
history record, exactly one outcome event on EventBridge.

And the checker itself: fed a split alias, a lock left behind, a second outcome event, it
names each one.
"""

from __future__ import annotations

import json

import pytest
from e2e_support import Rollout

from rollout.adapters.ledger import Ledger
from rollout.domain.ledger import DeploymentRecord
from trafficshift.emulator.chaos import draw_plans, run_chaos
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.invariants import (
    EventTap,
    Expected,
    Observed,
    observe,
    redeliveries,
    violations,
)

pytestmark = pytest.mark.e2e

# (kind, seed): the seed draws the fault's point, count or moment (see each id). Prepare
# crashing after it sent Deployment Started (crash_after, 3) ended with no outcome event
# until Revert announced a failure before Prepare finished (usecases._record_refusal).
CASES = [
    ("crash_after", 3),  # Prepare crashes after it sent Deployment Started
    ("crash_after", 9),  # SetWeight crashes after it recorded the step
    ("crash_before", 2),  # Revert crashes before it restores the alias (a bad rollout)
    ("throttle", 5),  # Lambda's control plane held to 3 requests/s
    ("timeout", 2),  # Check times out after it read the signals (a bad rollout)
    ("stop", 8),  # StopExecution 0.45 s after the start (mid-bake)
    ("alias_edit", 1),  # a hand deploy of version 3, 0.23 s after the first split
    ("alias_edit", 4),  # a manual rollback to 1, 0.43 s after the first split
    ("alarm_flip", 2),  # ALARM 0.32 s after the first split, OK 0.25 s later
    ("brownout", 1),  # CloudWatch answering after 40 s (past the read timeout), 2 requests
]


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=[f"{k}-{s}" for k, s in CASES])
def test_a_seeded_fault_leaves_every_invariant_holding(
    cloud: LocalCloud, kind: str, seed: int
) -> None:
    # Given one rollout with a fault drawn from the seed
    (plan,) = draw_plans(1, seed, (kind,))

    # When it runs to its end (and the reconciler, or the scheduled sweep, has had its turn)
    (result,) = run_chaos(cloud, [plan]).results

    # Then the fault took effect, and the alias, the lock, the record and the events agree
    assert result.fired, f"the fault never took effect: {plan.detail}"
    assert result.violations == [], f"{plan.detail}: {result.violations}"


def test_every_fault_kind_is_dealt_evenly_and_the_same_seed_draws_the_same_plans() -> None:
    plans = draw_plans(16, seed=7)

    assert sorted(p.kind for p in plans) == sorted(2 * [p.kind for p in draw_plans(8, seed=7)])
    assert plans == draw_plans(16, seed=7)
    assert plans != draw_plans(16, seed=8)


def test_the_checker_names_a_split_alias_a_lock_left_and_a_second_outcome_event(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    # Given a rollout that promoted cleanly: every invariant holds
    tap = EventTap(cloud, name="checker-test")
    execution = rollout.run()["executionArn"]
    expected = Expected(execution, rollout.function, rollout.alias, stable="1", target="2")
    assert violations(expected, observe(cloud, expected, tap)) == []

    # When the alias is split again, a lock is left behind and a second outcome is announced
    rollout.lam.update_alias(
        FunctionName=rollout.function,
        Name=rollout.alias,
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    ledger = Ledger(cloud.ledger_table, cloud.client("dynamodb"))
    assert ledger.acquire_lock(rollout.function, rollout.alias, execution, 900, 0).acquired
    cloud.client("events").put_events(
        Entries=[
            {
                "Source": "trafficshift",
                "DetailType": "Deployment Rolled Back",
                "Detail": json.dumps({"executionArn": execution}),
            }
        ]
    )

    # Then the checker names each of them
    found = violations(expected, observe(cloud, expected, tap))
    assert len(found) == 3, found
    assert found[0] == "alias: left split, version 1 with routing {'2': 0.5}"
    assert found[1] == f"lock: still held (this execution: {execution})"
    assert found[2] == (
        "events: 2 different outcome events, not 1: "
        "['Deployment Promoted', 'Deployment Rolled Back']"
    )


def _record(**fields: object) -> DeploymentRecord:
    base: dict[str, object] = {
        "executionArn": "arn:exec",
        "functionName": "fn",
        "alias": "live",
        "outcome": "PROMOTED",
        "status": "PROMOTED",
        "finishedAt": "2026-01-01T00:00:00.000+00:00",
    }
    return DeploymentRecord.model_validate({**base, **fields})


EXPECTED = Expected("arn:exec", "fn", "live", stable="1", target="2")


def test_the_checker_names_a_clobbered_edit_a_pending_event_and_a_wrong_event_type() -> None:
    # A third party set version 3; the control plane put version 2 back over it, left its
    # event pending, and announced a rollback for a promotion
    edited = Expected("arn:exec", "fn", "live", stable="1", target="2", edited_to=("3", {}))
    observed = Observed(
        status="SUCCEEDED",
        routing=("2", {}),
        lock_owner=None,
        record=_record(outcomeEventPending=True),
        outcome_events=["Deployment Rolled Back"],
    )

    assert violations(edited, observed) == [
        "alias: another party set it to version 3, now version 2 (their edit was clobbered)",
        "record: the PROMOTED event is still pending",
        "events: sent 'Deployment Rolled Back', but the outcome PROMOTED is 'Deployment Promoted'",
    ]


def test_the_checker_names_a_missing_outcome_and_a_claimed_concurrent_change() -> None:
    running = Observed("FAILED", ("1", {}), None, _record(outcome=None, status="RUNNING"), [])
    changed = Observed(
        "FAILED",
        ("1", {}),
        None,
        _record(outcome="ALIAS_CHANGED"),
        ["Alias Changed Concurrently"],
    )

    assert violations(EXPECTED, running) == [
        "record: no outcome recorded (status RUNNING)",
        "events: 0 outcome events, not 1: []",
    ]
    assert violations(EXPECTED, changed) == [
        "record: ALIAS_CHANGED, but nobody else changed the alias"
    ]


def test_the_same_outcome_event_twice_is_a_redelivery_and_none_is_a_violation() -> None:
    # At least once (a task died between its PutEvents and clearing the marker): the same
    # event again is one outcome, counted as redelivered; a deployment never announced is not
    twice = Observed("SUCCEEDED", ("2", {}), None, _record(), 2 * ["Deployment Promoted"])
    never = Observed("SUCCEEDED", ("2", {}), None, _record(), [])

    assert violations(EXPECTED, twice) == []
    assert redeliveries(twice) == 1
    assert violations(EXPECTED, never) == ["events: 0 outcome events, not 1: []"]
