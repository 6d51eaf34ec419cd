"""`promote`, `abort`, `pause` and `resume`: operator signals written to the ledger table,
against `trafficshift local serve` in a subprocess (the table found from the stack output)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cli_support import Served, assert_one_line_error, cli_env, closed_port, run_cli, unique

from trafficshift.emulator.sample import create_sample_function

pytestmark = pytest.mark.e2e

# A bake far longer than any of these tests: only a signal ends it in time.
LONG = {"type": "canary", "percent": 10, "bakeSeconds": 60}
SHORT_BAKE = 3
SHORT = {"type": "canary", "percent": 10, "bakeSeconds": SHORT_BAKE}


def _start(server: Served, strategy: dict[str, Any]) -> tuple[str, str]:
    """A rollout of version 2 behind `live`, mid-step when this returns: (function, ARN)."""
    function = unique("sig")
    create_sample_function(server.client("lambda"), name=function, alias="live")
    started = run_cli(
        "start",
        "-f",
        function,
        "-a",
        "live",
        "--version",
        "2",
        "-s",
        json.dumps(strategy),
        "--no-analysis",  # no simulated traffic here: the alarms (none) alone judge
        "--poll-interval",
        "1",
        "-o",
        "json",
        env=cli_env(server.endpoint_url),
    )
    assert started.returncode == 0, started.stderr
    arn = json.loads(started.stdout)["executionArn"]
    _eventually(lambda: bool(_routing(server, function)[1]), what=f"{function}:live split")
    return function, arn


def _routing(server: Served, function: str) -> tuple[str, dict[str, float]]:
    alias = server.client("lambda").get_alias(FunctionName=function, Name="live")
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return alias["FunctionVersion"], weights


def _eventually(predicate: Any, *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s: {what}")


def _finished(server: Served, arn: str, timeout: float = 30) -> dict[str, Any]:
    sfn = server.client("stepfunctions")
    described: dict[str, Any] = {}

    def done() -> bool:
        described.update(sfn.describe_execution(executionArn=arn))
        return described["status"] != "RUNNING"

    _eventually(done, what=f"{arn} finished", timeout=timeout)
    return described


def _signal(server: Served, action: str, execution: str, *extra: str) -> dict[str, Any]:
    sent = run_cli(action, execution, "-o", "json", *extra, env=cli_env(server.endpoint_url))
    assert sent.returncode == 0, (sent.stdout, sent.stderr)
    assert sent.stderr == ""
    result: dict[str, Any] = json.loads(sent.stdout)
    return result


def test_abort_reverts_the_rollout_to_the_stable_version(server: Served) -> None:
    # Given a rollout of version 2 baking at 10% for a minute
    function, arn = _start(server, LONG)

    # When the operator aborts it by its ARN
    sent = _signal(server, "abort", arn, "--by", "alice")

    # Then the signal is recorded for that execution, and it reverts at its next poll
    assert (sent["executionArn"], sent["action"], sent["by"]) == (arn, "abort", "alice")
    assert sent["table"]
    finished = _finished(server, arn)
    assert finished["status"] == "FAILED"
    assert finished["error"] == "DeploymentRolledBack"
    assert "aborted by alice" in finished["cause"]
    assert _routing(server, function) == ("1", {})


def test_promote_goes_to_100_percent_now_and_a_finished_rollout_refuses_signals(
    server: Served,
) -> None:
    # Given a rollout of version 2 baking at 10% for a minute
    function, arn = _start(server, LONG)
    began = time.monotonic()

    # When the operator promotes it by its execution name, with the default sender
    sent = _signal(server, "promote", arn.rsplit(":", 1)[-1])

    # Then it promotes within a few polls, long before the bake would have ended
    assert (sent["executionArn"], sent["action"]) == (arn, "promote")
    assert sent["by"]  # the caller's identity
    finished = _finished(server, arn)
    assert finished["status"] == "SUCCEEDED"
    assert time.monotonic() - began < 30
    assert _routing(server, function) == ("2", {})

    # And a signal to the finished rollout is bad input: one line, exit 2
    late = run_cli("abort", arn, env=cli_env(server.endpoint_url))
    line = assert_one_line_error(late, 2)
    assert "already finished" in line


def test_pause_holds_the_step_and_resume_lets_it_go_on(server: Served) -> None:
    # Given a rollout of version 2 baking at 10% for 3 s
    function, arn = _start(server, SHORT)
    env = cli_env(server.endpoint_url)

    # When the operator pauses it (text output) ...
    paused = run_cli("pause", arn, "--by", "carol", env=env)
    paused_at = time.monotonic()
    assert paused.returncode == 0, paused.stderr
    assert "sent pause" in paused.stdout

    # ... then the step's decisions say paused, and it holds past its bake
    def says_paused() -> bool:
        status = run_cli("status", arn, "-o", "json", env=env)
        return str(json.loads(status.stdout).get("reason") or "").startswith("paused by carol")

    _eventually(says_paused, what="a Check that says paused", timeout=15)
    time.sleep(max(0.0, paused_at + SHORT_BAKE + 1 - time.monotonic()))
    assert _routing(server, function) == ("1", {"2": 0.1})

    # ... and resumes it
    _signal(server, "resume", arn, "--by", "carol")
    held = time.monotonic() - paused_at

    # Then it goes on and promotes; the pause moved the end of the bake
    finished = _finished(server, arn)
    assert finished["status"] == "SUCCEEDED"
    assert _routing(server, function) == ("2", {})
    took = (finished["stopDate"] - finished["startDate"]).total_seconds()
    assert took > SHORT_BAKE + held - 1, (took, held)


def test_an_unknown_execution_is_bad_input(server: Served) -> None:
    result = run_cli("pause", unique("no-such-rollout"), env=cli_env(server.endpoint_url))

    line = assert_one_line_error(result, 2)
    assert "no deployment is recorded" in line


def test_a_missing_table_is_an_aws_error(server: Served) -> None:
    result = run_cli(
        "abort", unique("rollout"), "--table", "no-such-table", env=cli_env(server.endpoint_url)
    )

    line = assert_one_line_error(result, 3)
    assert "no-such-table" in line


def test_an_unreachable_endpoint_is_an_aws_error() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    arn = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:x"

    result = run_cli("resume", arn, "--table", "ledger", "--by", "me", env=cli_env(endpoint))

    line = assert_one_line_error(result, 3)
    assert "cannot reach" in line


def test_approve_passes_the_approval_gate_at_once(server: Served) -> None:
    # Given a rollout that waits at its approval gate (10%, bake 0) for up to 10 minutes
    function = unique("gate")
    create_sample_function(server.client("lambda"), name=function, alias="live")
    env = cli_env(server.endpoint_url)
    started = run_cli(
        "start",
        "-f",
        function,
        "-a",
        "live",
        "--version",
        "2",
        "-s",
        json.dumps({"type": "canary", "percent": 10, "bakeSeconds": 0}),
        "--no-analysis",
        "--poll-interval",
        "5",
        "--approval-timeout",
        "600",
        "-o",
        "json",
        env=env,
    )
    assert started.returncode == 0, started.stderr
    arn = json.loads(started.stdout)["executionArn"]

    def waiting() -> bool:
        status = run_cli("status", arn, "-o", "json", env=env)
        return "waiting for approval" in str(json.loads(status.stdout).get("reason") or "")

    _eventually(waiting, what="the rollout waiting for approval", timeout=20)
    assert _routing(server, function) == ("1", {"2": 0.1})

    # When the operator approves it
    began = time.monotonic()
    sent = _signal(server, "approve", arn, "--by", "erin")

    # Then the waiting gate is answered (no poll to wait for), and it promotes
    assert (sent["action"], sent["by"], sent["answeredApprovalGate"]) == ("approve", "erin", True)
    finished = _finished(server, arn)
    assert finished["status"] == "SUCCEEDED"
    assert time.monotonic() - began < 5  # the 5 s gate wait did not have to run out
    assert json.loads(finished["output"])["approvedBy"] == "erin"
    assert _routing(server, function) == ("2", {})
