"""End-to-end (issue 5): the per-alias lock, operator signals, the reconciler and history."""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_support import Rollout, eventually

from rollout.adapters.ledger import Ledger
from rollout.domain import ledger as shapes
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.sample import source_zip

pytestmark = pytest.mark.e2e

SLOW = {"type": "linear", "percent": 25, "intervalSeconds": 2}


def _ledger(cloud: LocalCloud) -> Ledger:
    tables = cloud.client("dynamodb").list_tables()["TableNames"]
    (name,) = [t for t in tables if "Ledger" in t]
    return Ledger(name, cloud.client("dynamodb"))


def _record(cloud: LocalCloud, execution: str) -> shapes.DeploymentRecord:
    record = _ledger(cloud).deployment(execution)
    assert record is not None
    return record


def test_two_starts_for_one_alias_one_runs_the_other_is_refused_naming_it(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    first = rollout.start(rollout.request(strategy=SLOW))
    rollout.wait_until_split()

    second = rollout.wait(rollout.start(rollout.request()))

    assert second["status"] == "FAILED"
    assert second["error"] == "PreflightFailed"
    assert first in second["cause"]
    assert rollout.wait(first)["status"] == "SUCCEEDED"
    assert rollout.routing() == ("2", {})
    assert _record(cloud, second["executionArn"]).outcome == "REFUSED"


def test_on_busy_wait_runs_after_the_first_rollout_frees_the_alias(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    first = rollout.start(
        rollout.request(strategy={"type": "canary", "percent": 10, "bakeSeconds": 2})
    )
    rollout.wait_until_split()
    second = rollout.start(rollout.request(targetVersion="1", onBusy="wait"))

    assert rollout.wait(first)["status"] == "SUCCEEDED"
    finished = rollout.wait(second, timeout=120)

    # it waited for the alias, then rolled version 1 back in
    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert rollout.routing() == ("1", {})


def test_abort_signal_reverts_and_is_recorded(cloud: LocalCloud, rollout: Rollout) -> None:
    execution = rollout.start(rollout.request(strategy=SLOW))
    rollout.wait_until_split()
    eventually(lambda: _ledger(cloud).deployment(execution) is not None)

    _ledger(cloud).put_signal(execution, "abort", "alice", time.time())
    finished = rollout.wait(execution)

    assert finished["status"] == "FAILED"
    assert "aborted by alice" in finished["cause"]
    assert rollout.routing() == ("1", {})
    record = _record(cloud, execution)
    assert record.outcome == "ROLLED_BACK"
    assert [s.action.value for s in record.signals] == ["abort"]
    assert _ledger(cloud).lock(rollout.function, rollout.alias) is None


def test_promote_now_skips_the_remaining_steps_and_is_recorded(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    execution = rollout.start(
        rollout.request(strategy={"type": "linear", "percent": 10, "intervalSeconds": 60})
    )
    rollout.wait_until_split()
    eventually(lambda: _ledger(cloud).deployment(execution) is not None)

    _ledger(cloud).put_signal(execution, "promote", "bob", time.time())
    finished = rollout.wait(execution)

    assert finished["status"] == "SUCCEEDED"
    assert rollout.routing() == ("2", {})
    record = _record(cloud, execution)
    assert record.outcome == "PROMOTED"
    assert "promoted now by bob" in record.reason
    assert len(record.steps) == 1  # 9 of the 10 steps were skipped


def test_pause_stops_the_bake_clock_and_resume_restarts_it(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    execution = rollout.start(
        rollout.request(strategy={"type": "canary", "percent": 10, "bakeSeconds": 2})
    )
    rollout.wait_until_split()
    eventually(lambda: _ledger(cloud).deployment(execution) is not None)
    ledger = _ledger(cloud)
    ledger.put_signal(execution, "pause", "carol", time.time())

    time.sleep(4)  # twice the bake: without the pause it would have been promoted
    assert rollout.routing()[1] == {"2": 0.1}

    ledger.put_signal(execution, "resume", "carol", time.time())
    finished = rollout.wait(execution)
    assert finished["status"] == "SUCCEEDED"
    assert rollout.routing() == ("2", {})


def test_stop_execution_mid_shift_the_reconciler_restores_and_frees_the_lock(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    execution = rollout.start(rollout.request(strategy=SLOW))
    rollout.wait_until_split()
    eventually(lambda: _ledger(cloud).deployment(execution) is not None)

    cloud.client("stepfunctions").stop_execution(executionArn=execution, error="console")

    eventually(lambda: rollout.routing() == ("1", {}))
    eventually(lambda: _ledger(cloud).lock(rollout.function, rollout.alias) is None)
    assert _record(cloud, execution).outcome == "ROLLED_BACK"


def test_an_expired_lease_after_a_crash_lets_the_next_rollout_proceed(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    crashed = "arn:aws:states:us-east-1:123456789012:execution:gone:crashed"
    ledger = _ledger(cloud)
    taken = ledger.acquire_lock(rollout.function, rollout.alias, crashed, 900, time.time() - 1000)
    assert taken.acquired

    finished = rollout.run()

    assert finished["status"] == "SUCCEEDED"
    assert _record(cloud, finished["executionArn"]).outcome == "PROMOTED"


def test_every_rollout_has_a_complete_history_record(cloud: LocalCloud, rollout: Rollout) -> None:
    finished = rollout.run()

    record = _record(cloud, finished["executionArn"])
    assert record.outcome == "PROMOTED"
    assert record.input["functionName"] == rollout.function
    assert record.deployment["plan"]
    assert [s.percent for s in record.steps] == [25, 50, 75, 100]
    assert all(s.decision in ("advance", "promote") for s in record.steps)
    assert record.finished_at


def test_alias_changed_by_someone_else_mid_shift_stops_without_clobbering(
    cloud: LocalCloud, rollout: Rollout, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rollout.adapters.events import Events

    sent: list[str] = []
    original = Events.emit

    def spy(self: Events, event: Any) -> bool:
        sent.append(event.detail_type.value)
        return original(self, event)

    monkeypatch.setattr(Events, "emit", spy)
    execution = rollout.start(rollout.request(strategy=SLOW))
    rollout.wait_until_split()
    # someone deploys version 3 by hand while the rollout bakes
    rollout.lam.update_function_code(FunctionName=rollout.function, ZipFile=source_zip("x = 3\n"))
    eventually(
        lambda: (
            rollout.lam.get_function_configuration(FunctionName=rollout.function)[
                "LastUpdateStatus"
            ]
            == "Successful"
        )
    )
    published = rollout.lam.publish_version(FunctionName=rollout.function)["Version"]
    rollout.lam.update_alias(
        FunctionName=rollout.function,
        Name=rollout.alias,
        FunctionVersion=published,
        RoutingConfig={"AdditionalVersionWeights": {}},
    )

    finished = rollout.wait(execution)

    assert finished["status"] == "FAILED"
    assert finished["error"] == "AliasChangedConcurrently"
    assert rollout.routing() == (published, {})
    assert _record(cloud, execution).outcome == "ALIAS_CHANGED"
    assert "Alias Changed Concurrently" in sent
