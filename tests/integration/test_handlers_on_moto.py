"""The real handlers, with their real adapters, against moto's Lambda and CloudWatch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from handler_support import CONTEXT, code_zip
from moto import mock_aws

from rollout.adapters import aws
from rollout.adapters.events import _client as _events_client
from rollout.adapters.ledger import Ledger, table_definition
from rollout.domain.errors import AliasBusy, InvalidInput, PreflightFailed
from rollout.handlers import check, prepare, promote, revert, set_weight

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:test"


_zip = code_zip


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    with mock_aws():
        aws.client.cache_clear()  # clients are per container; each test is a new account
        _events_client.cache_clear()
        monkeypatch.setenv("TABLE_NAME", "ledger")
        boto3.client("dynamodb").create_table(**table_definition("ledger"))
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
        lam.publish_version(FunctionName="orders-api")  # 1
        lam.update_function_code(
            FunctionName="orders-api", ZipFile=_zip("def handler(e, c):\n    return 2\n")
        )
        lam.publish_version(FunctionName="orders-api")  # 2
        lam.create_alias(FunctionName="orders-api", Name="live", FunctionVersion="1")
        cw = boto3.client("cloudwatch")
        cw.put_metric_alarm(
            AlarmName="orders-errors",
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        yield SimpleNamespace(lam=lam, cw=cw, ledger=Ledger("ledger"))
        aws.client.cache_clear()
        _events_client.cache_clear()


def _input(**overrides: Any) -> dict[str, Any]:
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "2",
        "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 0},
        "alarms": ["orders-errors"],
        "pollIntervalSeconds": 1,
        "analysis": {"enabled": False},
    }
    raw.update(overrides)
    return {"input": raw, "executionId": EXECUTION}


def _alias(lam: Any) -> dict[str, Any]:
    found = lam.get_alias(FunctionName="orders-api", Name="live")
    found.pop("ResponseMetadata")
    return found


def _routing(lam: Any) -> tuple[str, dict[str, float]]:
    alias = lam.get_alias(FunctionName="orders-api", Name="live")
    return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    ) or {}


def test_prepare_resolves_stable_and_target_without_touching_the_alias(cloud: Any) -> None:
    before = _alias(cloud.lam)

    state = prepare.handler(_input(), CONTEXT)

    assert state["deployment"]["stableVersion"] == "1"
    assert state["deployment"]["targetVersion"] == "2"
    assert state["cursor"]["revisionId"] == before["RevisionId"]
    assert _alias(cloud.lam) == before


def test_prepare_with_publish_publishes_the_current_code(cloud: Any) -> None:
    cloud.lam.update_function_code(
        FunctionName="orders-api", ZipFile=_zip("def handler(e, c):\n    return 3\n")
    )

    state = prepare.handler(_input(targetVersion=None, publish=True), CONTEXT)

    assert state["deployment"]["targetVersion"] == "3"
    assert state["deployment"]["published"] is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"functionName": "no-such-function"}, "functionName"),
        ({"alias": "missing"}, "alias"),
        ({"targetVersion": "42"}, "targetVersion"),
        ({"alarms": ["no-such-alarm"]}, "alarms[0]"),
        ({"targetVersion": "1"}, "targetVersion"),
    ],
)
def test_prepare_refuses_what_does_not_exist_or_is_already_live(
    cloud: Any, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        prepare.handler(_input(**overrides), CONTEXT)

    assert caught.value.field == field
    assert _routing(cloud.lam) == ("1", {})


def test_prepare_refuses_while_an_alarm_is_already_in_alarm(cloud: Any) -> None:
    cloud.cw.set_alarm_state(AlarmName="orders-errors", StateValue="ALARM", StateReason="test")

    with pytest.raises(PreflightFailed, match="already in ALARM"):
        prepare.handler(_input(), CONTEXT)


def test_set_weight_check_promote_walk_the_alias_to_the_new_version(cloud: Any) -> None:
    state = prepare.handler(_input(), CONTEXT)
    seen = []
    while True:
        state = set_weight.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
        seen.append(_routing(cloud.lam))
        state = check.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
        if state["cursor"]["decision"] != "advance":
            break

    assert state["cursor"]["decision"] == "promote"
    outcome = promote.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    assert seen == [("1", {"2": 0.1}), ("2", {})]
    assert outcome["outcome"] == "PROMOTED"
    assert [s["percent"] for s in outcome["steps"]] == [10, 100]
    assert _routing(cloud.lam) == ("2", {})


def test_check_fails_when_the_alarm_fires_and_revert_restores_the_stable_version(
    cloud: Any,
) -> None:
    state = prepare.handler(_input(), CONTEXT)
    state = set_weight.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    cloud.cw.set_alarm_state(AlarmName="orders-errors", StateValue="ALARM", StateReason="errors")

    state = check.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    failure = revert.handler({"state": state, "executionId": EXECUTION}, CONTEXT)

    assert state["cursor"]["decision"] == "fail"
    assert failure["error"] == "DeploymentRolledBack"
    assert "alarm orders-errors in ALARM" in failure["cause"]
    assert _routing(cloud.lam) == ("1", {})


def test_revert_after_invalid_input_changes_nothing_and_keeps_the_error(cloud: Any) -> None:
    before = _alias(cloud.lam)
    caught = {"Error": "InvalidInput", "Cause": json.dumps({"errorMessage": "alias: x. Fix: y"})}

    failure = revert.handler({"state": {**_input()["input"], "error": caught}}, CONTEXT)

    assert failure == {"error": "InvalidInput", "cause": "alias: x. Fix: y"}
    assert _alias(cloud.lam) == before


def test_revert_leaves_an_alias_that_someone_else_moved(cloud: Any) -> None:
    state = prepare.handler(_input(), CONTEXT)
    state = set_weight.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    cloud.lam.publish_version(FunctionName="orders-api")
    cloud.lam.update_function_code(FunctionName="orders-api", ZipFile=_zip("x = 3\n"))
    three = cloud.lam.publish_version(FunctionName="orders-api")["Version"]
    cloud.lam.update_alias(
        FunctionName="orders-api",
        Name="live",
        FunctionVersion=three,
        RoutingConfig={"AdditionalVersionWeights": {}},
    )

    failure = revert.handler(
        {"state": {**state, "error": {"Error": "RuntimeError", "Cause": "boom"}}}, CONTEXT
    )

    assert failure["error"] == "AliasChangedConcurrently"
    assert _routing(cloud.lam)[0] == three


# --- the ledger: lock, history, signals -------------------------------------------------

OTHER = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:other"


def test_prepare_takes_the_alias_and_a_second_start_is_refused_naming_the_first(
    cloud: Any,
) -> None:
    prepare.handler(_input(), CONTEXT)

    with pytest.raises(PreflightFailed, match=EXECUTION):
        prepare.handler({**_input(), "executionId": OTHER}, CONTEXT)
    with pytest.raises(AliasBusy):
        prepare.handler({**_input(onBusy="wait"), "executionId": OTHER}, CONTEXT)
    lock = cloud.ledger.lock("orders-api", "live")
    assert lock is not None
    assert lock.owner == EXECUTION


def test_promote_records_the_outcome_and_frees_the_alias(cloud: Any) -> None:
    state = prepare.handler(_input(strategy="AllAtOnce"), CONTEXT)
    state = set_weight.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    state = check.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    promote.handler({"state": state, "executionId": EXECUTION}, CONTEXT)

    record = cloud.ledger.deployment(EXECUTION)
    assert record is not None
    assert record.outcome == "PROMOTED"
    assert [s.percent for s in record.steps] == [100]
    assert cloud.ledger.lock("orders-api", "live") is None


def test_an_abort_signal_fails_the_next_check_and_revert_restores(cloud: Any) -> None:
    state = prepare.handler(_input(), CONTEXT)
    state = set_weight.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    cloud.ledger.put_signal(EXECUTION, "abort", "alice", 1.0)

    state = check.handler({"state": state, "executionId": EXECUTION}, CONTEXT)
    failure = revert.handler({"state": state, "executionId": EXECUTION}, CONTEXT)

    assert state["cursor"]["decision"] == "fail"
    assert "aborted by alice" in failure["cause"]
    assert _routing(cloud.lam) == ("1", {})
    record = cloud.ledger.deployment(EXECUTION)
    assert record is not None
    assert record.outcome == "ROLLED_BACK"
    assert cloud.ledger.lock("orders-api", "live") is None


def test_a_refused_start_is_recorded_and_leaves_the_holders_lock(cloud: Any) -> None:
    prepare.handler(_input(), CONTEXT)
    caught = {"Error": "PreflightFailed", "Cause": json.dumps({"errorMessage": "busy"})}

    revert.handler({"state": {**_input()["input"], "error": caught}, "executionId": OTHER}, CONTEXT)

    record = cloud.ledger.deployment(OTHER)
    assert record is not None
    assert record.outcome == "REFUSED"
    lock = cloud.ledger.lock("orders-api", "live")
    assert lock is not None
    assert lock.owner == EXECUTION
