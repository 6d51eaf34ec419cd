"""End-to-end (issue 11.2): a week-long pause on the emulator's virtual clock ends by the
pause policy (docs/decisions.md), well inside Step Functions' 25,000 history events."""

from __future__ import annotations

import pytest
from e2e_support import Rollout, eventually

from rollout.adapters.ledger import Ledger
from trafficshift.emulator.clock import virtual_clock
from trafficshift.emulator.cloud import LocalCloud

pytestmark = pytest.mark.e2e

WEEK = 7 * 24 * 3600


def _ledger(cloud: LocalCloud) -> Ledger:
    tables = cloud.client("dynamodb").list_tables()["TableNames"]
    (name,) = [t for t in tables if "Ledger" in t]
    return Ledger(name, cloud.client("dynamodb"))


def test_a_rollout_paused_for_a_week_ends_by_the_pause_policy_not_the_history_limit(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    with virtual_clock(held=True) as clock:
        # Given a canary paused by an operator in its first bake, never resumed
        start = clock.now()
        execution = rollout.start(
            rollout.request(
                strategy={"type": "canary", "percent": 10, "bakeSeconds": 7200},
                # hourly, to keep the test short: the default 30 s over a week is shown on
                # the domain (tests/unit/test_history_budget.py)
                pollIntervalSeconds=3600,
                analysis={"enabled": False},
            )
        )
        rollout.wait_until_split()  # the first Bake waits for the clock
        eventually(lambda: _ledger(cloud).deployment(execution) is not None)
        _ledger(cloud).put_signal(execution, "pause", "carol", clock.now())
        clock.release()
        # When the emulator's days pass
        finished = rollout.wait(execution, timeout=60)
        elapsed = clock.now() - start
    # Then the pause held for more than a week, and then reverted naming the policy
    assert finished["status"] == "FAILED", finished
    assert finished["error"] == "DeploymentRolledBack"
    assert "paused by carol for" in finished["cause"]
    assert "longer than this execution can wait" in finished["cause"]
    assert WEEK < elapsed < 8 * 24 * 3600
    assert rollout.routing() == ("1", {})
    # and the execution's history stayed well within Step Functions' 25,000 events
    events = cloud.client("stepfunctions").get_execution_history(executionArn=execution)["events"]
    assert len(events) < 25_000 - 2_500
