"""Powertools in the handlers: EMF rollout metrics, and log lines keyed by function, alias
and the execution (correlation id). The real handlers against moto."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from handler_support import CONTEXT, code_zip
from moto import mock_aws

from rollout.adapters import aws
from rollout.adapters.events import _client as _events_client
from rollout.adapters.ledger import table_definition
from rollout.domain.errors import InvalidInput
from rollout.handlers import _runtime, check, prepare, promote, revert, set_weight

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:observed"


_zip = code_zip


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        aws.client.cache_clear()
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
        lam.publish_version(FunctionName="orders-api")
        lam.update_function_code(
            FunctionName="orders-api", ZipFile=_zip("def handler(e, c):\n    return 2\n")
        )
        lam.publish_version(FunctionName="orders-api")
        lam.create_alias(FunctionName="orders-api", Name="live", FunctionVersion="1")
        yield
        aws.client.cache_clear()
        _events_client.cache_clear()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the handlers' Logger writes (its stream is bound when it is created)."""
    sink = io.StringIO()
    handler = _runtime.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(sink)
    yield sink
    handler.setStream(previous)


def _request(strategy: Any) -> dict[str, Any]:
    return {
        "input": {
            "functionName": "orders-api",
            "alias": "live",
            "targetVersion": "2",
            "strategy": strategy,
            "pollIntervalSeconds": 1,
            "analysis": {"enabled": False},
        },
        "executionId": EXECUTION,
    }


def _task(state: dict[str, Any]) -> dict[str, Any]:
    return {"state": state, "executionId": EXECUTION}


def _emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def _counted(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in records if name in r]


def test_a_promoted_rollout_counts_started_steps_and_promoted(
    cloud: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a two-step plan with no bake
    state = prepare.handler(_request({"type": "canary", "percent": 10, "bakeSeconds": 0}), CONTEXT)
    # When it runs to the end
    for _ in range(2):
        state = set_weight.handler(_task(state), CONTEXT)
        state = check.handler(_task(state), CONTEXT)
    promote.handler(_task(state), CONTEXT)

    # Then each count is one EMF record in the TrafficShift namespace, by service
    records = _emf(capsys.readouterr().out)
    assert [r["RolloutsStarted"] for r in _counted(records, "RolloutsStarted")] == [[1.0]]
    assert [r["RolloutsPromoted"] for r in _counted(records, "RolloutsPromoted")] == [[1.0]]
    steps = _counted(records, "StepDuration")
    assert [r["step"] for r in steps] == [1, 2]
    assert all(r["StepDuration"][0] >= 0 for r in steps)
    for record in records:
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "TrafficShift"
        assert directive["Dimensions"] == [["service"]]
        assert record["service"] == "trafficshift"
    assert steps[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "StepDuration", "Unit": "Seconds"}
    ]


def test_a_check_that_keeps_baking_publishes_nothing_and_warns_nothing(
    cloud: None, capsys: pytest.CaptureFixture[str]
) -> None:
    state = prepare.handler(
        _request({"type": "canary", "percent": 10, "bakeSeconds": 600}), CONTEXT
    )
    state = set_weight.handler(_task(state), CONTEXT)
    capsys.readouterr()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state = check.handler(_task(state), CONTEXT)

    assert state["cursor"]["decision"] == "continue"
    assert _emf(capsys.readouterr().out) == []


def test_a_reverted_rollout_counts_rolled_back_and_a_refusal_counts_nothing(
    cloud: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a rollout at 10% whose Check failed
    state = prepare.handler(_request({"type": "canary", "percent": 10, "bakeSeconds": 0}), CONTEXT)
    state = set_weight.handler(_task(state), CONTEXT)
    state["cursor"]["decision"] = "fail"
    # When it is reverted
    revert.handler(_task(state), CONTEXT)
    # And an input is refused at Prepare, then goes through Revert as the Catch does
    bad = _request("Canary10Percent7Minutes")
    with pytest.raises(InvalidInput):
        prepare.handler(bad, CONTEXT)
    caught = {**bad["input"], "error": {"Error": "InvalidInput", "Cause": "strategy"}}
    revert.handler(_task(caught), CONTEXT)

    # Then one rollout started, and that one rolled back
    records = _emf(capsys.readouterr().out)
    assert len(_counted(records, "RolloutsStarted")) == 1
    (rolled_back,) = _counted(records, "RolloutsRolledBack")
    assert rolled_back["error"] == "DeploymentRolledBack"
    assert rolled_back["action"] == "restore"


def test_log_lines_carry_the_function_alias_and_execution(
    cloud: None, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    state = prepare.handler(_request({"type": "canary", "percent": 10, "bakeSeconds": 0}), CONTEXT)
    set_weight.handler(_task(state), CONTEXT)
    # A later invocation in the same container, whose input names no function, keeps none
    other = {"input": "not an object", "executionId": "other"}
    with pytest.raises(InvalidInput):
        prepare.handler(other, CONTEXT)

    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    ours = [line for line in lines if line.get("correlation_id") == EXECUTION]
    assert {line["message"] for line in ours} >= {"deployment prepared", "traffic shifted"}
    for line in ours:
        assert (line["function"], line["alias"]) == ("orders-api", "live")
    keys = _runtime.logger.get_current_keys()
    assert "function" not in keys
    assert "alias" not in keys
    assert keys.get("correlation_id") == "other"


def test_the_namespace_is_read_when_the_handler_runs(
    cloud: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function environment applied after the handler modules were imported (as the
    # emulator does)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Elsewhere")

    prepare.handler(_request({"type": "canary", "percent": 10, "bakeSeconds": 0}), CONTEXT)

    (record,) = _emf(capsys.readouterr().out)
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Elsewhere"


def test_a_metric_that_cannot_be_published_never_fails_the_task(
    cloud: None, logs: io.StringIO, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Given no metrics namespace at all
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")

    # When a task that counts runs / Then it still returns its state, and says what it lost
    state = prepare.handler(_request({"type": "canary", "percent": 10, "bakeSeconds": 0}), CONTEXT)

    assert state["deployment"]["targetVersion"] == "2"
    assert _emf(capsys.readouterr().out) == []
    assert "could not publish the rollout metrics" in logs.getvalue()
    # and nothing is left over for the next invocation
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "TrafficShift")
    set_weight.handler(_task(state), CONTEXT)
    assert _emf(capsys.readouterr().out) == []
