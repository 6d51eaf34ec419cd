"""End-to-end (issue 5): the approval gate before 100%, and the pre/post-traffic hooks."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from e2e_support import AliasRecorder, Rollout, eventually

from rollout.adapters.ledger import Ledger
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.sample import create_function_from_source
from trafficshift.signals import send_signal

pytestmark = pytest.mark.e2e

CANARY = {"type": "canary", "percent": 25, "bakeSeconds": 0}


def _ledger(cloud: LocalCloud) -> Ledger:
    return Ledger(cloud.ledger_table, cloud.client("dynamodb"))


def _status(cloud: LocalCloud, execution: str) -> str:
    sfn = cloud.client("stepfunctions")
    return str(sfn.describe_execution(executionArn=execution)["status"])


def _output(finished: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(finished["output"]))


def _at_gate(rollout: Rollout, execution: str) -> None:
    """Wait until the rollout waits at its approval gate (a token is in the ledger)."""
    eventually(lambda: _ledger(rollout.cloud).approval_token(execution) is not None)


def _hook(cloud: LocalCloud, body: str, *, prefix: str = "CodeDeployHook_") -> str:
    """A hook function whose handler runs `body` (the event is `event`)."""
    source = "import json, time\n\ndef handler(event, context):\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    return create_function_from_source(cloud.client("lambda"), name, source)


@pytest.fixture
def sent_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    from rollout.adapters.events import Events

    sent: list[tuple[str, str]] = []
    original = Events.emit

    def spy(self: Events, event: Any) -> bool:
        sent.append((event.detail_type.value, event.reason))
        return original(self, event)

    monkeypatch.setattr(Events, "emit", spy)
    return sent


# --- approval ----------------------------------------------------------------------------


def test_approval_gate_holds_below_100_until_approved_then_promotes(
    cloud: LocalCloud, rollout: Rollout, sent_events: list[tuple[str, str]]
) -> None:
    execution = rollout.start(rollout.request(strategy=CANARY, approval={"timeoutSeconds": 60}))
    _at_gate(rollout, execution)
    time.sleep(2.5)  # several gate waits (1 s each) pass: it keeps waiting

    assert _status(cloud, execution) == "RUNNING"
    assert rollout.routing() == ("1", {"2": 0.25})

    _, answered = send_signal(
        _ledger(cloud), cloud.client("stepfunctions"), execution, "approve", "alice"
    )
    finished = rollout.wait(execution)

    assert answered is True
    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert _output(finished)["approvedBy"] == "alice"
    assert rollout.routing() == ("2", {})
    kinds = [kind for kind, _ in sent_events]
    assert kinds.count("Deployment Awaiting Approval") == 1
    assert kinds.count("Deployment Approved") == 1
    assert kinds.index("Deployment Approved") < kinds.index("Deployment Promoted")
    record = _ledger(cloud).deployment(execution)
    assert record is not None
    assert record.outcome == "PROMOTED"
    assert any("approved by alice" in step.reason for step in record.steps)


def test_a_bare_send_task_success_on_the_gate_token_approves(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    execution = rollout.start(rollout.request(strategy=CANARY, approval=True))
    _at_gate(rollout, execution)
    sfn = cloud.client("stepfunctions")
    # The documented API for tools other than the CLI: the token is in the ledger.
    eventually(lambda: _try_success(sfn, _ledger(cloud).approval_token(execution), "ci-bot"))

    finished = rollout.wait(execution)

    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert _output(finished)["approvedBy"] == "ci-bot"


def _try_success(sfn: Any, token: str | None, by: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        sfn.send_task_success(taskToken=token, output=json.dumps({"approvedBy": by}))
    except ClientError:
        return False  # the gate rotated its token in between: take the new one
    return True


def test_an_approve_signal_in_the_ledger_alone_passes_the_gate_at_the_next_check(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    execution = rollout.start(rollout.request(strategy=CANARY, approval={"timeoutSeconds": 60}))
    _at_gate(rollout, execution)
    # No SendTaskSuccess at all (e.g. a token already rotated): the signal is the record.
    _ledger(cloud).put_signal(execution, "approve", "bob", time.time())

    finished = rollout.wait(execution)

    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert _output(finished)["approvedBy"] == "bob"


def test_no_approval_within_the_timeout_rolls_back(cloud: LocalCloud, rollout: Rollout) -> None:
    finished = rollout.run(strategy=CANARY, approval={"timeoutSeconds": 2})

    assert finished["status"] == "FAILED"
    assert finished["error"] == "DeploymentRolledBack"
    assert "no approval within 2 s" in finished["cause"]
    assert rollout.routing() == ("1", {})
    record = _ledger(cloud).deployment(finished["executionArn"])
    assert record is not None
    assert record.outcome == "ROLLED_BACK"


def test_abort_at_the_approval_gate_reverts_at_once(cloud: LocalCloud, rollout: Rollout) -> None:
    execution = rollout.start(rollout.request(strategy=CANARY, approval={"timeoutSeconds": 600}))
    _at_gate(rollout, execution)

    send_signal(_ledger(cloud), cloud.client("stepfunctions"), execution, "abort", "carol")
    finished = rollout.wait(execution)

    assert finished["status"] == "FAILED"
    assert "aborted by carol" in finished["cause"]
    assert rollout.routing() == ("1", {})


def test_promote_now_at_the_approval_gate_counts_as_approval(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    execution = rollout.start(rollout.request(strategy=CANARY, approval={"timeoutSeconds": 600}))
    _at_gate(rollout, execution)

    send_signal(_ledger(cloud), cloud.client("stepfunctions"), execution, "promote", "dave")
    finished = rollout.wait(execution)

    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert rollout.routing() == ("2", {})


def test_an_alarm_firing_while_waiting_for_approval_reverts(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    cw = cloud.client("cloudwatch")
    alarm = f"{rollout.function}-errors"
    cw.put_metric_alarm(
        AlarmName=alarm,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    execution = rollout.start(
        rollout.request(strategy=CANARY, approval={"timeoutSeconds": 600}, alarms=[alarm])
    )
    _at_gate(rollout, execution)

    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="errors at 25%")
    finished = rollout.wait(execution)

    assert finished["status"] == "FAILED"
    assert f"alarm {alarm} in ALARM" in finished["cause"]
    assert rollout.routing() == ("1", {})


# --- hooks -------------------------------------------------------------------------------


def test_a_failing_pre_traffic_hook_moves_no_traffic(
    cloud: LocalCloud, rollout: Rollout, alias_updates: AliasRecorder
) -> None:
    hook = _hook(cloud, 'raise RuntimeError("smoke test: /health answered 500")')

    finished = rollout.run(hooks={"preTraffic": hook})

    assert finished["status"] == "FAILED"
    assert "preTraffic hook" in finished["cause"]
    assert "smoke test: /health answered 500" in finished["cause"]
    assert alias_updates.seen == []  # not a single UpdateAlias
    assert rollout.routing() == ("1", {})
    states = rollout.states_entered(finished["executionArn"])
    assert "SetWeight" not in states


def test_hooks_that_pass_receive_the_context_and_the_rollout_promotes(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    # Each hook fails unless it got the context it documents: function, versions, weight.
    check = (
        'ctx = event["trafficshift"]\n'
        'assert ctx["functionName"] == "{fn}" and ctx["targetVersion"] == "2", ctx\n'
        'assert ctx["stableVersion"] == "1" and ctx["alias"] == "live", ctx\n'
        'assert ctx["aliasWeightPercent"] == {weight}, ctx\n'
        'return {{"status": "Succeeded"}}'
    )
    pre = _hook(cloud, check.format(fn=rollout.function, weight=0.0))
    post = _hook(cloud, check.format(fn=rollout.function, weight=100.0))

    finished = rollout.run(hooks={"preTraffic": pre, "postTraffic": post})

    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    output = _output(finished)
    assert [(h["phase"], h["function"]) for h in output["hooks"]] == [
        ("preTraffic", pre),
        ("postTraffic", post),
    ]
    states = rollout.states_entered(finished["executionArn"])
    assert states.index("PreTraffic") < states.index("SetWeight")
    assert states.index("PostTraffic") < states.index("Promote")


def test_a_post_traffic_hook_answering_failed_reverts_from_100_percent(
    cloud: LocalCloud, rollout: Rollout, alias_updates: AliasRecorder
) -> None:
    hook = _hook(cloud, 'return {"status": "Failed", "reason": "checkout e2e failed"}')

    finished = rollout.run(hooks={"postTraffic": hook})

    assert finished["status"] == "FAILED"
    assert finished["error"] == "DeploymentRolledBack"
    assert "checkout e2e failed" in finished["cause"]
    assert alias_updates.seen[-2] == ("2", {})  # it had reached 100% ...
    assert alias_updates.seen[-1] == ("1", {})  # ... and is back on the stable version
    assert rollout.routing() == ("1", {})


def test_a_hook_that_takes_longer_than_its_timeout_reverts(
    cloud: LocalCloud, rollout: Rollout
) -> None:
    hook = _hook(cloud, "time.sleep(2.5)\nreturn None")

    finished = rollout.run(hooks={"postTraffic": hook, "timeoutSeconds": 1})

    assert finished["status"] == "FAILED"
    assert "more than hooks.timeoutSeconds=1" in finished["cause"]
    assert rollout.routing() == ("1", {})


def test_a_hook_outside_the_allowed_names_is_refused_before_anything_moves(
    cloud: LocalCloud, rollout: Rollout, alias_updates: AliasRecorder
) -> None:
    hook = _hook(cloud, "return None", prefix="payments-admin-")

    finished = rollout.run(hooks={"preTraffic": hook})

    assert finished["status"] == "FAILED"
    assert finished["error"] == "InvalidInput"
    assert "hooks.preTraffic" in finished["cause"]
    assert "CodeDeployHook_*" in finished["cause"]
    assert alias_updates.seen == []
