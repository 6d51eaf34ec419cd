"""The reconciler with its real adapters on moto: Lambda, DynamoDB, Step Functions, EventBridge."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rollout.adapters import aws
from rollout.adapters import events as events_module
from rollout.adapters.events import Events
from rollout.adapters.executions import Executions
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.adapters.ledger import Ledger, table_definition
from rollout.application import reconcile
from rollout.domain.errors import AliasChangedConcurrently
from rollout.domain.ledger import OpenItem, Outcome
from rollout.domain.reconcile import ExecutionInfo, Reconciled
from rollout.domain.rollout import AliasSnapshot, Deployment
from rollout.handlers import reconcile as handler_module

TABLE = "trafficshift-ledger"
T0 = 1_800_000_000.0
CONTEXT = SimpleNamespace(
    function_name="trafficshift-reconcile",
    function_version="$LATEST",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:trafficshift-reconcile",
    memory_limit_in_mb=256,
    aws_request_id="req-1",
    log_group_name="/aws/lambda/trafficshift-reconcile",
    log_stream_name="s",
    get_remaining_time_in_millis=lambda: 30_000,
)


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture
def cloud() -> Iterator[SimpleNamespace]:
    """orders-api with versions 1, 2, 3; alias live on 1 with 30% on 2; a state machine; the
    ledger table; a rule that copies trafficshift events into a queue."""
    with mock_aws():
        aws.client.cache_clear()
        events_module._client.cache_clear()
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="orders", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda")
        lam.create_function(
            FunctionName="orders-api",
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip("def handler(e, c):\n    return 1\n")},
        )
        for n in (1, 2, 3):
            if n > 1:
                lam.update_function_code(
                    FunctionName="orders-api", ZipFile=_zip(f"def handler(e, c):\n    return {n}\n")
                )
            lam.publish_version(FunctionName="orders-api")
        lam.create_alias(
            FunctionName="orders-api",
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
        )
        ddb = boto3.client("dynamodb")
        ddb.create_table(**table_definition(TABLE))
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="TrafficShift",
            roleArn=role,
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        eb = boto3.client("events")
        eb.put_rule(Name="ours", EventPattern='{"source": ["trafficshift"]}')
        eb.put_targets(
            Rule="ours", Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}]
        )
        ledger = Ledger(TABLE)
        ports = reconcile.Ports(
            functions=LambdaFunctions(),
            ledger=ledger,
            executions=Executions(),
            events=Events(),
        )
        yield SimpleNamespace(
            lam=lam, sfn=sfn, sqs=sqs, queue=queue, machine=machine, ledger=ledger, ports=ports
        )
        aws.client.cache_clear()
        events_module._client.cache_clear()


def _start(cloud: SimpleNamespace, name: str, **request: Any) -> str:
    body = {"functionName": "orders-api", "alias": "live", "targetVersion": "2", **request}
    return str(
        cloud.sfn.start_execution(stateMachineArn=cloud.machine, name=name, input=json.dumps(body))[
            "executionArn"
        ]
    )


def _deployment(execution: str, alias: str = "live") -> Deployment:
    return Deployment(
        execution_id=execution,
        function_name="orders-api",
        alias=alias,
        stable_version="1",
        target_version="2",
        plan=[{"percent": 30.0, "bakeSeconds": 60}, {"percent": 100.0, "bakeSeconds": 0}],
        poll_interval_seconds=20,
        started_at="2027-01-15T08:00:00.000+00:00",
    )


def _rolling(cloud: SimpleNamespace, name: str, alias: str = "live") -> str:
    """An execution that recorded its deployment and holds the alias's lock."""
    execution = _start(cloud, name, alias=alias)
    cloud.ledger.record_deployment_started(_deployment(execution, alias), {"alias": alias}, T0)
    assert cloud.ledger.acquire_lock("orders-api", alias, execution, 900, T0).acquired
    return execution


def _stopped(cloud: SimpleNamespace, execution: str) -> str:
    cloud.sfn.stop_execution(executionArn=execution)
    return execution


def _status_change(cloud: SimpleNamespace, execution: str, status: str = "ABORTED") -> dict:
    described = cloud.sfn.describe_execution(executionArn=execution)
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": cloud.machine,
            "name": described["name"],
            "status": status,
            "input": described["input"],
            "error": None,
            "cause": None,
        },
    }


def _alias(cloud: SimpleNamespace, name: str = "live") -> tuple[str, dict[str, float]]:
    found = cloud.lam.get_alias(FunctionName="orders-api", Name=name)
    return found["FunctionVersion"], (found.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    ) or {}


def _events(cloud: SimpleNamespace) -> list[dict[str, Any]]:
    found = cloud.sqs.receive_message(QueueUrl=cloud.queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_stopped_execution_that_left_the_alias_split_is_restored_and_unlocked(
    cloud: SimpleNamespace,
) -> None:
    # Given an execution stopped from the console with 30% on version 2
    execution = _stopped(cloud, _rolling(cloud, "one"))

    # When the status change reaches the reconciler
    report = reconcile.on_status_change(
        _status_change(cloud, execution), ports=cloud.ports, now=T0 + 100
    )

    # Then the alias serves version 1 only, the lock is free, the outcome is recorded
    assert report is not None
    assert report.action is Reconciled.RESTORED
    assert _alias(cloud) == ("1", {})
    assert report.lock_released
    assert cloud.ledger.lock("orders-api", "live") is None
    record = cloud.ledger.deployment(execution)
    assert record is not None
    assert record.outcome == "ROLLED_BACK"
    assert "restored version 1" in record.reason
    assert record.details["executionStatus"] == "ABORTED"
    # and the event says so
    (event,) = _events(cloud)
    assert event["detail-type"] == "Deployment Rolled Back"
    assert event["detail"]["executionArn"] == execution
    assert event["detail"]["reason"] == record.reason
    assert cloud.ledger.find_unfinished() == []


def test_alias_someone_else_moved_is_left_alone_and_reported(cloud: SimpleNamespace) -> None:
    execution = _rolling(cloud, "one")
    # Someone points the alias at version 3 during the rollout, then the rollout is stopped
    cloud.lam.update_alias(
        FunctionName="orders-api",
        Name="live",
        FunctionVersion="3",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    _stopped(cloud, execution)

    report = reconcile.on_status_change(
        _status_change(cloud, execution), ports=cloud.ports, now=T0 + 100
    )

    assert report is not None
    assert report.action is Reconciled.FOREIGN
    assert _alias(cloud)[0] == "3"
    assert report.lock_released  # the lock is ours to free, the alias is not ours to touch
    assert cloud.ledger.deployment(execution).outcome == "ALIAS_CHANGED"  # type: ignore[union-attr]
    (event,) = _events(cloud)
    assert event["detail-type"] == "Alias Changed Concurrently"
    assert "version 3" in event["detail"]["reason"]


def test_second_call_changes_nothing_and_emits_nothing(cloud: SimpleNamespace) -> None:
    execution = _stopped(cloud, _rolling(cloud, "one"))
    change = _status_change(cloud, execution)
    reconcile.on_status_change(change, ports=cloud.ports, now=T0 + 100)
    revision = cloud.lam.get_alias(FunctionName="orders-api", Name="live")["RevisionId"]
    assert len(_events(cloud)) == 1

    again = reconcile.on_status_change(change, ports=cloud.ports, now=T0 + 200)

    assert again is not None
    assert again.action is Reconciled.FINISHED
    assert again.event is None
    assert cloud.lam.get_alias(FunctionName="orders-api", Name="live")["RevisionId"] == revision
    assert _events(cloud) == []
    assert cloud.ledger.deployment(execution).outcome == "ROLLED_BACK"  # type: ignore[union-attr]


def test_an_outcome_recorded_with_its_event_pending_gets_the_event_sent_once(
    cloud: SimpleNamespace,
) -> None:
    # Given a Promote that recorded PROMOTED and died before emitting, then the execution
    # was stopped (the lock is still held)
    execution = _rolling(cloud, "one")
    cloud.ledger.record_deployment_outcome(execution, Outcome.PROMOTED, "all steps baked", T0)
    _stopped(cloud, execution)
    change = _status_change(cloud, execution)

    # When the reconciler finds the finished deployment, twice
    first = reconcile.on_status_change(change, ports=cloud.ports, now=T0 + 100)
    again = reconcile.on_status_change(change, ports=cloud.ports, now=T0 + 200)

    # Then it sent the recorded outcome's event once, and did not touch the alias
    assert first is not None
    assert again is not None
    assert (first.action, first.event) == (Reconciled.FINISHED, "Deployment Promoted")
    assert (again.action, again.event) == (Reconciled.FINISHED, None)
    (event,) = _events(cloud)
    assert event["detail-type"] == "Deployment Promoted"
    assert event["detail"]["reason"] == "all steps baked"
    assert _alias(cloud) == ("1", {"2": 0.3})  # a recorded outcome is not reconciled again
    record = cloud.ledger.deployment(execution)
    assert record is not None
    assert not record.outcome_event_pending
    assert first.lock_released


class _Succeeded(Executions):
    """Step Functions says these executions succeeded (moto, as set up here, runs none)."""

    def __init__(self, *succeeded: str) -> None:
        super().__init__()
        self._succeeded = set(succeeded)

    def describe(self, execution_arn: str) -> ExecutionInfo:
        found = super().describe(execution_arn)
        if execution_arn not in self._succeeded:
            return found
        return found.model_copy(update={"status": "SUCCEEDED"})


class _StaleOpenIndex(Ledger):
    """The Open index still lists entries just removed from it (a GSI is eventually
    consistent)."""

    def __init__(self, *stale: OpenItem) -> None:
        super().__init__(TABLE)
        self._stale = list(stale)

    def find_unfinished(self) -> list[OpenItem]:
        return super().find_unfinished() + self._stale


def test_a_sweep_sends_a_pending_outcome_event_once_and_leaves_the_alias_alone(
    cloud: SimpleNamespace,
) -> None:
    # Given a Promote that recorded PROMOTED and freed the lock, but whose emit failed; the
    # task then succeeded, and so did the execution (no status change reaches the reconciler)
    pending = _rolling(cloud, "pending")
    recorded = cloud.ledger.record_deployment_outcome(
        pending, Outcome.PROMOTED, "all steps baked", T0
    )
    assert recorded.event_pending
    assert cloud.ledger.release_lock("orders-api", "live", pending)
    # and a Revert on beta that emitted its event and cleared the marker, as it normally does,
    # which an eventually consistent index still lists
    sent = _rolling(cloud, "sent", alias="beta")
    cloud.ledger.record_deployment_outcome(sent, Outcome.ROLLED_BACK, "alarm", T0)
    cloud.ledger.outcome_event_sent(sent)
    cloud.ledger.release_lock("orders-api", "beta", sent)
    stale = OpenItem(
        kind="deployment", execution_arn=sent, function_name="orders-api", alias="beta"
    )
    ports = dataclasses.replace(
        cloud.ports, ledger=_StaleOpenIndex(stale), executions=_Succeeded(pending, sent)
    )
    revision = cloud.lam.get_alias(FunctionName="orders-api", Name="live")["RevisionId"]
    assert [i.execution_arn for i in cloud.ledger.find_unfinished()] == [pending]

    # When the sweep runs, twice
    first = reconcile.sweep(ports=ports, now=T0 + 300)
    events_after_first = _events(cloud)
    again = reconcile.sweep(ports=ports, now=T0 + 600)

    # Then the recorded outcome's event went out once, and the cleared one not again
    assert first.errors == again.errors == []
    assert {(r.execution_arn, r.action, r.event) for r in first.reconciled} == {
        (pending, Reconciled.FINISHED, "Deployment Promoted"),
        (sent, Reconciled.FINISHED, None),
    }
    (event,) = events_after_first
    assert event["detail-type"] == "Deployment Promoted"
    assert event["detail"]["executionArn"] == pending
    assert event["detail"]["reason"] == "all steps baked"
    assert [(r.execution_arn, r.event) for r in again.reconciled] == [(sent, None)]
    assert _events(cloud) == []
    # and the marker is cleared, the record out of the sweep's view, the alias untouched
    record = cloud.ledger.deployment(pending)
    assert record is not None
    assert (record.outcome, record.outcome_event_pending) == ("PROMOTED", False)
    assert cloud.ledger.find_unfinished() == []
    assert _alias(cloud) == ("1", {"2": 0.3})
    assert cloud.lam.get_alias(FunctionName="orders-api", Name="live")["RevisionId"] == revision


def test_without_a_record_the_input_and_the_alias_prove_the_deployment(
    cloud: SimpleNamespace,
) -> None:
    # Given an execution that split the alias but never wrote its record
    execution = _stopped(cloud, _start(cloud, "norecord"))

    report = reconcile.reconcile_execution(
        execution, status="ABORTED", ports=cloud.ports, now=T0 + 100
    )

    assert report.action is Reconciled.RESTORED
    assert (report.stable_version, report.target_version) == ("1", "2")
    assert _alias(cloud) == ("1", {})
    record = cloud.ledger.deployment(execution)
    assert record is not None
    assert (record.function_name, record.alias, record.outcome) == (
        "orders-api",
        "live",
        "ROLLED_BACK",
    )


def test_without_a_record_an_unprovable_split_is_left_alone(cloud: SimpleNamespace) -> None:
    # publish: true and no record: the target is unknown, so nothing proves the split is ours
    execution = _stopped(cloud, _start(cloud, "published", targetVersion=None, publish=True))

    report = reconcile.reconcile_execution(
        execution, status="ABORTED", ports=cloud.ports, now=T0 + 100
    )

    assert report.action is Reconciled.UNKNOWN
    assert _alias(cloud) == ("1", {"2": 0.3})
    assert cloud.ledger.deployment(execution).outcome == "UNRESOLVED"  # type: ignore[union-attr]
    (event,) = _events(cloud)
    assert event["detail-type"] == "Deployment Failed"


def test_other_state_machines_and_successes_are_ignored(cloud: SimpleNamespace) -> None:
    execution = _stopped(cloud, _rolling(cloud, "one"))
    change = _status_change(cloud, execution)
    other = {**change, "detail": {**change["detail"], "stateMachineArn": "arn:other"}}
    succeeded = {**change, "detail": {**change["detail"], "status": "SUCCEEDED"}}

    for event in (other, succeeded, {"detail-type": "Scheduled Event"}):
        assert (
            reconcile.on_status_change(
                event, ports=cloud.ports, now=T0, state_machine_arn=cloud.machine
            )
            is None
        )
    assert _alias(cloud) == ("1", {"2": 0.3})


def test_lock_taken_over_by_another_execution_is_not_released(cloud: SimpleNamespace) -> None:
    # Given ONE's lease expired and TWO holds the lock now; ONE is then stopped
    one = _start(cloud, "one")
    cloud.ledger.record_deployment_started(_deployment(one), {}, T0)
    cloud.ledger.acquire_lock("orders-api", "live", one, 60, T0)
    two = _start(cloud, "two")
    cloud.ledger.acquire_lock("orders-api", "live", two, 900, T0 + 61)
    _stopped(cloud, one)

    report = reconcile.reconcile_execution(one, status="ABORTED", ports=cloud.ports, now=T0 + 70)

    assert not report.lock_released
    assert cloud.ledger.lock("orders-api", "live").owner == two  # type: ignore[union-attr]


def test_an_execution_a_newer_one_replaced_never_has_the_alias_restored(
    cloud: SimpleNamespace,
) -> None:
    # Given ONE's lease expired and TWO took the alias over, rolling out the same version 2
    # (the alias at 30% on 2, as the fixture has it, is TWO's doing now); ONE is then stopped
    one = _start(cloud, "one")
    cloud.ledger.record_deployment_started(_deployment(one), {}, T0)
    cloud.ledger.acquire_lock("orders-api", "live", one, 60, T0)
    two = _start(cloud, "two")
    cloud.ledger.acquire_lock("orders-api", "live", two, 900, T0 + 61)
    _stopped(cloud, one)

    # When the reconciler closes ONE
    report = reconcile.reconcile_execution(one, status="ABORTED", ports=cloud.ports, now=T0 + 70)

    # Then TWO's alias is untouched, the lock stays TWO's, and ONE's outcome names TWO
    assert report.action is Reconciled.SUPERSEDED
    assert _alias(cloud) == ("1", {"2": 0.3})
    assert cloud.ledger.lock("orders-api", "live").owner == two  # type: ignore[union-attr]
    record = cloud.ledger.deployment(one)
    assert record is not None
    assert record.outcome == "FAILED"
    assert f"{two} holds orders-api:live now" in record.reason


def test_an_execution_whose_lock_is_free_has_the_alias_restored(cloud: SimpleNamespace) -> None:
    # Given ONE recorded its deployment, its lock is gone (released, or never written), and
    # the alias still routes to its pair
    one = _start(cloud, "one")
    cloud.ledger.record_deployment_started(_deployment(one), {}, T0)
    _stopped(cloud, one)

    report = reconcile.reconcile_execution(one, status="ABORTED", ports=cloud.ports, now=T0 + 70)

    # Then the reconciler restores the stable version, as Revert would have
    assert report.action is Reconciled.RESTORED
    assert _alias(cloud) == ("1", {})


def test_sweep_reconciles_ended_executions_and_skips_running_ones(cloud: SimpleNamespace) -> None:
    # Given a running rollout on "live" and a stopped one on "beta" that left it split
    cloud.lam.create_alias(
        FunctionName="orders-api",
        Name="beta",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    running = _rolling(cloud, "running")
    stopped = _stopped(cloud, _rolling(cloud, "stopped", alias="beta"))
    # and a lock whose execution Step Functions no longer knows
    gone = cloud.machine.replace(":stateMachine:", ":execution:") + ":gone"
    cloud.lam.create_alias(FunctionName="orders-api", Name="gamma", FunctionVersion="1")
    cloud.ledger.acquire_lock("orders-api", "gamma", gone, 900, T0)

    swept = reconcile.sweep(ports=cloud.ports, now=T0 + 100)

    assert swept.errors == []
    assert {(r.execution_arn, r.action) for r in swept.reconciled} == {
        (stopped, Reconciled.RESTORED),
        (gone, Reconciled.CLEAN),
    }
    assert _alias(cloud, "beta") == ("1", {})
    assert _alias(cloud, "live") == ("1", {"2": 0.3})  # the running rollout's own business
    assert cloud.ledger.lock("orders-api", "live").owner == running  # type: ignore[union-attr]
    assert cloud.ledger.lock("orders-api", "gamma") is None
    assert sorted((i.kind, i.execution_arn) for i in cloud.ledger.find_unfinished()) == [
        ("deployment", running),
        ("lock", running),
    ]
    # A second sweep finds nothing left to do
    assert reconcile.sweep(ports=cloud.ports, now=T0 + 200).reconciled == []


def test_handler_reconciles_a_status_change_with_its_environment(
    cloud: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("STATE_MACHINE_ARN", cloud.machine)
    execution = _stopped(cloud, _rolling(cloud, "one"))

    result = handler_module.handler(_status_change(cloud, execution), CONTEXT)  # type: ignore[arg-type]

    assert result["action"] == "restored"
    assert result["lockReleased"] is True
    assert _alias(cloud) == ("1", {})
    assert handler_module.handler({"detail-type": "Scheduled Event"}, CONTEXT)["reconciled"] == []  # type: ignore[arg-type]


class _MovedOnFirstWrite:
    """An alias that someone else moves between our read and our first write."""

    def __init__(self) -> None:
        self.alias = AliasSnapshot(
            function_version="1", additional_weights={"2": 0.3}, revision_id="r1"
        )
        self.writes = 0

    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
        return self.alias

    def update_alias(self, function_name: str, alias: str, **kwargs: Any) -> AliasSnapshot:
        self.writes += 1
        if self.writes == 1:
            self.alias = AliasSnapshot(function_version="3", revision_id="r2")
            raise AliasChangedConcurrently("UpdateAlias: stale RevisionId")
        raise AssertionError("a second write would clobber someone else's change")


def test_alias_moved_between_read_and_write_is_read_again_and_left_alone(
    cloud: SimpleNamespace,
) -> None:
    execution = _stopped(cloud, _rolling(cloud, "one"))
    functions = _MovedOnFirstWrite()
    ports = reconcile.Ports(
        functions=functions,
        ledger=cloud.ledger,
        executions=cloud.ports.executions,
        events=cloud.ports.events,
    )

    report = reconcile.reconcile_execution(execution, status="ABORTED", ports=ports, now=T0)

    assert report.action is Reconciled.FOREIGN
    assert functions.writes == 1


@pytest.mark.parametrize(
    ("owner", "allowed"),
    [(None, True), ("arn:one", True), ("arn:two", False)],
)
def test_may_restore_only_for_the_lock_holder_or_a_free_lock(
    owner: str | None, allowed: bool
) -> None:
    from rollout.domain.ledger import LockItem
    from rollout.domain.reconcile import may_restore

    lock = (
        None
        if owner is None
        else LockItem(function_name="f", alias="live", owner=owner, lease_expires_at=0)
    )
    # An expired lease (0) of another execution still means it took the alias after ours
    assert may_restore(lock, "arn:one") is allowed
