"""A task that crashes, times out or is throttled part-way, then is retried or caught: the
deployment still ends with exactly one outcome.

Each fault hits a real handler on the emulator right after one of its AWS calls succeeded
(`faults.handler_fault`), so the retry or the Catch finds that call's effect: an alias
already shifted, an outcome already recorded. Every case must end with one outcome
(promoted or rolled back) that the execution, the alias, the ledger and the events agree
on: the alias on one version with no routing, the lock released, the history closed, one
outcome event.

Also the scheduled sweep, which the emulator never fires by itself: an execution stopped
while its status-change event is lost is cleaned up by the next "Scheduled Event".
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from e2e_support import Rollout, eventually, scheduled_event, task_function

from rollout.adapters.events import Events
from rollout.adapters.ledger import Ledger
from rollout.domain import ledger as shapes
from trafficshift.emulator import faults
from trafficshift.emulator.cloud import LocalCloud

pytestmark = pytest.mark.e2e

OUTCOME_EVENTS = {"Deployment Promoted", "Deployment Rolled Back", "Deployment Failed"}
OUTCOME_EVENTS |= {"Alias Changed Concurrently"}
SLOW = {"type": "linear", "percent": 25, "intervalSeconds": 2}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every deployment event the handlers emit: (execution ARN, detail-type)."""
    emitted: list[tuple[str, str]] = []
    original = Events.emit

    def spy(self: Events, event: Any) -> bool:
        emitted.append((event.execution_arn, event.detail_type.value))
        return bool(original(self, event))

    monkeypatch.setattr(Events, "emit", spy)
    return emitted


def _ledger(cloud: LocalCloud) -> Ledger:
    return Ledger(cloud.ledger_table, cloud.client("dynamodb"))


def _alarm(rollout: Rollout) -> str:
    name = f"{rollout.function}-errors"
    rollout.cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": rollout.function}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    return name


def _task_errors(rollout: Rollout, execution: str) -> list[str]:
    """The Error of every failed task attempt in the history, in order."""
    return [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in rollout.history(execution)
        if "lambdaFunctionFailedEventDetails" in e
    ]


def _assert_one_outcome(
    rollout: Rollout,
    execution: str,
    sent: list[tuple[str, str]],
    *,
    promoted: bool,
) -> shapes.DeploymentRecord:
    """Execution, alias, lock, ledger and events all tell the same single outcome."""
    finished = rollout.wait(execution, timeout=60)
    if promoted:
        assert finished["status"] == "SUCCEEDED", finished.get("cause")
        assert json.loads(finished["output"])["outcome"] == "PROMOTED"
        assert rollout.routing() == ("2", {})
    else:
        assert finished["status"] == "FAILED"
        assert finished["error"] == "DeploymentRolledBack", finished.get("cause")
        assert rollout.routing() == ("1", {})
    ledger = _ledger(rollout.cloud)
    assert ledger.lock(rollout.function, rollout.alias) is None
    record = ledger.deployment(execution)
    assert record is not None
    assert record.outcome == ("PROMOTED" if promoted else "ROLLED_BACK")
    assert record.finished_at
    assert record.steps
    assert record.steps[0].step == 1
    outcome_events = [kind for arn, kind in sent if arn == execution and kind in OUTCOME_EVENTS]
    expected = "Deployment Promoted" if promoted else "Deployment Rolled Back"
    assert outcome_events == [expected]
    return record


def test_set_weight_crashing_after_it_moved_the_alias_is_rolled_back_once(
    rollout: Rollout, sent: list[tuple[str, str]]
) -> None:
    set_weight = task_function(rollout.cloud, "SetWeight")
    # Given SetWeight's runtime dies right after the UpdateAlias of step 2 landed
    with faults.handler_fault(set_weight, after="UpdateAlias", how="crash", skip=1) as fault:
        execution = rollout.start(rollout.request())
        record = _assert_one_outcome(rollout, execution, sent, promoted=False)

    # Then the Catch's Revert found the alias at 50% (not the 25% its input said) and
    # restored it: the one outcome is a rollback
    assert fault.fired == 1
    assert _task_errors(rollout, execution) == ["Runtime.ExitError"]
    assert rollout.states_entered(execution).count("Revert") == 1
    assert record.outcome == "ROLLED_BACK"
    # And the Cause says what the revert undid, from the alias it read: 50%, not 25%
    assert "version 2 had reached 50% of traffic" in rollout.wait(execution)["cause"]


def test_set_weight_throttled_after_it_moved_the_alias_is_retried_and_promotes(
    rollout: Rollout, sent: list[tuple[str, str]]
) -> None:
    set_weight = task_function(rollout.cloud, "SetWeight")
    # Given the first SetWeight's UpdateAlias lands, then everything it calls is throttled
    # (its ledger write gives up after botocore's retries: Throttled)
    with faults.handler_fault(set_weight, after="UpdateAlias", how="throttle") as fault:
        execution = rollout.start(rollout.request())
        record = _assert_one_outcome(rollout, execution, sent, promoted=True)

    # Then the state machine's Retry ran SetWeight again with the RevisionId from before its
    # own write; it found the alias already at 25% and went on, instead of taking its own
    # write for someone else's and reverting a healthy rollout
    assert fault.fired == 1
    assert _task_errors(rollout, execution) == ["Throttled"]
    assert [s.percent for s in record.steps] == [25, 50, 75, 100]
    assert "Revert" not in rollout.states_entered(execution)


def test_check_timing_out_is_rolled_back_once(
    rollout: Rollout, sent: list[tuple[str, str]]
) -> None:
    check = task_function(rollout.cloud, "Check")
    # Given the first Check's read of the operator signals outlives the function's Timeout
    with faults.handler_fault(check, after="Query", service="dynamodb", how="timeout") as fault:
        execution = rollout.start(rollout.request())
        _assert_one_outcome(rollout, execution, sent, promoted=False)

    # Then Lambda reported Sandbox.Timedout, the Catch reverted, and the Cause says why
    assert fault.fired == 1
    assert _task_errors(rollout, execution) == ["Sandbox.Timedout"]
    cause = rollout.wait(execution)["cause"]
    assert "Sandbox.Timedout" in cause
    assert "Task timed out after 60.00 seconds" in cause  # the rollout tasks' Timeout


def test_promote_now_crashing_after_it_moved_the_alias_is_retried_and_promotes(
    rollout: Rollout, sent: list[tuple[str, str]]
) -> None:
    promote = task_function(rollout.cloud, "Promote")
    execution = rollout.start(
        rollout.request(strategy={"type": "linear", "percent": 10, "intervalSeconds": 60})
    )
    rollout.wait_until_split()
    eventually(lambda: _ledger(rollout.cloud).deployment(execution) is not None)
    # Given an operator's promote-now at 10%, and Promote's runtime dying right after its
    # UpdateAlias put the new version on 100%
    with faults.handler_fault(promote, after="UpdateAlias", how="crash") as fault:
        _ledger(rollout.cloud).put_signal(execution, "promote", "dana", time.time())
        record = _assert_one_outcome(rollout, execution, sent, promoted=True)

    # Then Promote was retried, found the alias already promoted, and finished the job
    assert fault.fired == 1
    assert _task_errors(rollout, execution) == ["Runtime.ExitError"]
    assert "Revert" not in rollout.states_entered(execution)
    assert "promoted now by dana" in record.reason


def test_promote_crashing_after_it_recorded_the_outcome_does_not_undo_the_promotion(
    rollout: Rollout, sent: list[tuple[str, str]]
) -> None:
    promote = task_function(rollout.cloud, "Promote")
    # Given Promote's runtime dies right after the ledger recorded PROMOTED (before it
    # released the lock)
    with faults.handler_fault(promote, after="UpdateItem", service="dynamodb", how="crash"):
        execution = rollout.start(rollout.request())
        finished = rollout.wait(execution, timeout=60)

    # Then the retried Promote converges on the recorded outcome; Revert never runs (it
    # would put version 1 back under a ledger that says promoted)
    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert _task_errors(rollout, execution) == ["Runtime.ExitError"]
    assert "Revert" not in rollout.states_entered(execution)
    assert rollout.routing() == ("2", {})
    ledger = _ledger(rollout.cloud)
    assert ledger.lock(rollout.function, rollout.alias) is None
    record = ledger.deployment(execution)
    assert record is not None
    assert record.outcome == "PROMOTED"
    # And the event is sent exactly once: the crash fell between recording and emitting,
    # and the retry found the outcome recorded with its event still pending, sent it and
    # cleared the marker
    kinds = [kind for arn, kind in sent if arn == execution and kind in OUTCOME_EVENTS]
    assert kinds == ["Deployment Promoted"]
    assert not record.outcome_event_pending


def test_revert_crashing_after_it_restored_the_alias_is_retried_to_one_rollback(
    rollout: Rollout, sent: list[tuple[str, str]]
) -> None:
    revert = task_function(rollout.cloud, "Revert")
    alarm = _alarm(rollout)
    execution = rollout.start(rollout.request(alarms=[alarm], strategy=SLOW))
    rollout.wait_until_split()
    # Given a tripped alarm, and Revert's runtime dying right after its UpdateAlias put
    # version 1 back
    with faults.handler_fault(revert, after="UpdateAlias", how="crash") as fault:
        rollout.cloud.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="errors"
        )
        _assert_one_outcome(rollout, execution, sent, promoted=False)

    # Then Revert's own Retry ran it again: it found the alias restored, recorded the
    # rollback and emitted one event
    assert fault.fired == 1
    assert _task_errors(rollout, execution) == ["Runtime.ExitError"]
    assert f"alarm {alarm} in ALARM" in rollout.wait(execution)["cause"]


def test_a_stop_whose_status_change_is_lost_is_restored_by_the_scheduled_sweep(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    events = cloud.client("events")
    (ended_rule,) = [
        r["Name"]
        for r in events.list_rules()["Rules"]
        if "Step Functions Execution Status Change" in (r.get("EventPattern") or "")
    ]
    execution = rollout.start(rollout.request(strategy=SLOW))
    rollout.wait_until_split()
    eventually(lambda: _ledger(cloud).deployment(execution) is not None)

    # Given the status-change event of a StopExecution never reaches the reconciler
    events.disable_rule(Name=ended_rule)
    try:
        cloud.client("stepfunctions").stop_execution(executionArn=execution, error="console")
        assert rollout.wait(execution)["status"] == "ABORTED"
        time.sleep(0.2)
        assert rollout.routing()[1] == {"2": 0.25}  # left half-shifted (StopExecution skips
        assert _ledger(cloud).lock(rollout.function, rollout.alias) is not None  # Revert)
    finally:
        events.enable_rule(Name=ended_rule)

    # When the schedule fires the reconciler, with EventBridge's scheduled-event payload
    response = cloud.client("lambda").invoke(
        FunctionName=task_function(cloud, "Reconcile"),
        Payload=json.dumps(scheduled_event(cloud)).encode(),
    )
    report = json.loads(response["Payload"].read())

    # Then it restored the stable version, freed the lock and closed the history
    assert "FunctionError" not in response, report
    assert execution in [r["executionArn"] for r in report["reconciled"]]
    assert report["errors"] == []
    assert rollout.routing() == ("1", {})
    assert _ledger(cloud).lock(rollout.function, rollout.alias) is None
    record = _ledger(cloud).deployment(execution)
    assert record is not None
    assert record.outcome == "ROLLED_BACK"
