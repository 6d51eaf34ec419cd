"""`start --wait`, `status`, `list`, `report` and the handlers' metrics, against
`trafficshift local serve` in a subprocess."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    CLI_TIMEOUT,
    REPO,
    Served,
    assert_one_line_error,
    cli_argv,
    cli_env,
    run_cli,
    unique,
)

from trafficshift.emulator.sample import (
    create_sample_function,
    publish_version_with,
    sample_code_zip,
)
from trafficshift.report import embedded_data

pytestmark = pytest.mark.e2e

HEALTHY = {
    "type": "steps",
    "steps": [{"percent": 20, "bakeSeconds": 1}, {"percent": 60, "bakeSeconds": 1}],
}
# Long enough a first step that the test can trip the alarm while the alias is split.
SLOW = {"type": "steps", "steps": [{"percent": 10, "bakeSeconds": 60}]}


def _function(server: Served) -> str:
    name = unique("cli")
    create_sample_function(server.client("lambda"), name=name, alias="live")
    return name


def _wait_until_split(server: Served, function: str, timeout: float = 30) -> None:
    lam = server.client("lambda")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alias = lam.get_alias(FunctionName=function, Name="live")
        if (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{function}:live was never split")


def _recorded_weights(server: Served, execution_arn: str) -> list[float]:
    """The weights SetWeight wrote, straight from the execution history."""
    sfn = server.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    weights = []
    for event in events:
        details = event.get("stateExitedEventDetails") or {}
        if event["type"] == "TaskStateExited" and details.get("name") == "SetWeight":
            weights.append(float(json.loads(details["output"])["cursor"]["weightPercent"]))
    return weights


def test_start_wait_exits_0_when_the_rollout_promotes(server: Served, tmp_path: Path) -> None:
    # Given a function with versions 1 and 2 behind `live`, and the input in a file
    function = _function(server)
    request = tmp_path / "deployment.json"
    request.write_text(
        json.dumps(
            {
                "functionName": function,
                "alias": "live",
                "targetVersion": "2",
                "strategy": HEALTHY,
                "pollIntervalSeconds": 1,
                "analysis": {"enabled": False},
            }
        )
    )

    # When CI starts it and waits, asking for JSON (the state machine found by discovery)
    result = run_cli(
        "start",
        "--no-analysis",  # no simulated traffic in these tests
        str(request),
        "--wait",
        "--interval",
        "0.3",
        "-o",
        "json",
        env=cli_env(server.endpoint_url),
    )

    # Then it exits 0 and the JSON holds the outcome
    assert result.returncode == 0, (result.stdout, result.stderr)
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "promoted"
    assert outcome["status"] == "SUCCEEDED"
    assert (outcome["function"], outcome["alias"]) == (function, "live")
    assert (outcome["stableVersion"], outcome["targetVersion"]) == ("1", "2")
    assert outcome["weightPercent"] == 100
    alias = server.client("lambda").get_alias(FunctionName=function, Name="live")
    assert alias["FunctionVersion"] == "2"


def test_start_wait_exits_1_when_the_rollout_reverts(server: Served) -> None:
    # Given a bad version 3 and an alarm on the alias
    function = _function(server)
    lam, cloudwatch = server.client("lambda"), server.client("cloudwatch")
    bad = publish_version_with(lam, function, error_rate=0.5)
    lam.update_alias(FunctionName=function, Name="live", FunctionVersion="2")
    alarm = f"{function}-errors"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "Resource", "Value": f"{function}:live"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    # When a rollout starts from flags and is followed (text, as in a CI log)
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        cli_argv(
            "start",
            "--no-analysis",  # no simulated traffic in these tests
            "--function",
            function,
            "--alias",
            "live",
            "--version",
            bad,
            "--strategy",
            json.dumps(SLOW),
            "--alarm",
            alarm,
            "--poll-interval",
            "1",
            "--wait",
            "--interval",
            "0.3",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(server.endpoint_url),
        cwd=REPO,
    )
    try:
        # and the alarm fires while the new version has 10% (moto never evaluates alarms:
        # the test plays CloudWatch's part, as the facts say)
        _wait_until_split(server, function)
        cloudwatch.set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="errors on the new version"
        )
        stdout, stderr = process.communicate(timeout=CLI_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()

    # Then it exits 1, says what happened, and the alias is back on version 2 alone
    assert process.returncode == 1, (stdout, stderr)
    assert "step 1/2  weight 10%" in stdout
    assert f"alarm {alarm} in ALARM" in stdout
    assert "reverted" in stdout.splitlines()[-1]
    alias = lam.get_alias(FunctionName=function, Name="live")
    assert alias["FunctionVersion"] == "2"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")

    # And `status` of it (the newest rollout of the function) holds the outcome as JSON
    status = run_cli(
        "status", "--function", function, "-o", "json", env=cli_env(server.endpoint_url)
    )
    assert status.returncode == 1, status.stderr
    snap = json.loads(status.stdout)
    assert snap["outcome"] == "reverted"
    assert snap["error"] == "DeploymentRolledBack"
    assert f"alarm {alarm} in ALARM" in snap["cause"]
    assert snap["weightPercent"] == 0


def test_list_shows_rollouts_of_a_function_newest_first(server: Served) -> None:
    # Given two rollouts of one function (2 then back to... a republished 3) and another's
    function, other = _function(server), _function(server)
    env = cli_env(server.endpoint_url)
    first = run_cli(
        "start",
        "--no-analysis",  # no simulated traffic in these tests
        "-f",
        function,
        "-a",
        "live",
        "--version",
        "2",
        "-s",
        json.dumps(HEALTHY),
        "--poll-interval",
        "1",
        "--wait",
        env=env,
    )
    third = publish_version_with(server.client("lambda"), function, error_rate=0)
    second = run_cli(
        "start",
        "--no-analysis",  # no simulated traffic in these tests
        "-f",
        function,
        "-a",
        "live",
        "--version",
        third,
        "-s",
        "AllAtOnce",
        "--wait",
        "--name",
        unique("second"),
        env=env,
    )
    run_cli(
        "start", "-f", other, "-a", "live", "--version", "2", "-s", "AllAtOnce", "--wait", env=env
    )
    assert first.returncode == second.returncode == 0, (first.stderr, second.stderr)

    # When the history of the function is listed
    listed = run_cli("history", "--function", function, "-o", "json", env=env)

    # Then it has exactly its two rollouts, newest first, each with its outcome and input
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["targetVersion"] for row in rows] == [third, "2"]
    assert [row["outcome"] for row in rows] == ["promoted", "promoted"]
    assert rows[0]["strategy"] == "AllAtOnce"
    assert rows[1]["strategy"] == "steps 20%,60%"
    assert rows[0]["startDate"] >= rows[1]["startDate"]

    # And the text table names them
    table = run_cli("list", "-f", function, env=env)
    assert table.returncode == 0, table.stderr
    assert function in table.stdout
    assert other not in table.stdout


def test_report_writes_a_png_and_a_page_whose_weights_are_the_recorded_ones(
    server: Served, tmp_path: Path
) -> None:
    # Given a promoted rollout and a reverted one
    function = _function(server)
    env = cli_env(server.endpoint_url)
    promoted = run_cli(
        "start",
        "--no-analysis",  # no simulated traffic in these tests
        "-f",
        function,
        "-a",
        "live",
        "--version",
        "2",
        "-s",
        json.dumps(HEALTHY),
        "--poll-interval",
        "1",
        "--wait",
        "-o",
        "json",
        env=env,
    )
    assert promoted.returncode == 0, promoted.stderr
    reverted = _reverted_rollout(server, function)

    for execution in (json.loads(promoted.stdout)["executionArn"], reverted):
        # When a report is written for it
        result = run_cli("report", execution, "--out", str(tmp_path), "-o", "json", env=env)

        # Then there is a PNG and a self-contained page whose data are the history's
        assert result.returncode == 0, result.stderr
        files = json.loads(result.stdout)
        png, page = Path(files["png"]), Path(files["html"])
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        html = page.read_text()
        assert "<svg" in html
        assert "<script src" not in html
        assert "<link" not in html
        data = embedded_data(html)
        shifted = [w["percent"] for w in data["weights"] if w["source"] == "SetWeight"]
        assert shifted == _recorded_weights(server, execution)
        times = [w["t"] for w in data["weights"]]
        assert times == sorted(times)

    # And the reverted one ends at 0% with the failing decision marked
    assert [w["percent"] for w in data["weights"]] == [10.0, 0.0]
    assert [m["decision"] for m in data["decisions"]] == ["fail", "reverted"]
    assert data["execution"]["outcome"] == "reverted"


def test_the_handlers_publish_their_rollout_metrics_as_emf(server: Served) -> None:
    # Given rollouts have run on this server (the other tests of this module, or this one)
    function = _function(server)
    result = run_cli(
        "start",
        "--no-analysis",  # no simulated traffic in these tests
        "-f",
        function,
        "-a",
        "live",
        "--version",
        "2",
        "-s",
        json.dumps(HEALTHY),
        "--poll-interval",
        "1",
        "--wait",
        env=cli_env(server.endpoint_url),
    )
    assert result.returncode == 0, result.stderr

    # Then the server's output (CloudWatch Logs on AWS) has EMF records for them
    records = _emf_records(server.stderr())
    names = {
        m["Name"] for r in records for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]
    }
    assert {"RolloutsStarted", "RolloutsPromoted", "StepDuration"} <= names
    started = [r for r in records if "RolloutsStarted" in r and r.get("function") == function]
    assert len(started) == 1
    assert started[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TrafficShift"
    assert started[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    steps = [r for r in records if "StepDuration" in r]
    assert all(r["StepDuration"][0] >= 0 for r in steps)


def _reverted_rollout(server: Served, function: str) -> str:
    lam, cloudwatch = server.client("lambda"), server.client("cloudwatch")
    bad = publish_version_with(lam, function, error_rate=0.5)
    alarm = f"{function}-errors"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    started = run_cli(
        "start",
        "--no-analysis",  # no simulated traffic in these tests
        "-f",
        function,
        "-a",
        "live",
        "--version",
        bad,
        "-s",
        json.dumps(SLOW),
        "--alarm",
        alarm,
        "--poll-interval",
        "1",
        "-o",
        "json",
        env=cli_env(server.endpoint_url),
    )
    assert started.returncode == 0, started.stderr
    execution = json.loads(started.stdout)["executionArn"]
    _wait_until_split(server, function)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    watched = run_cli("watch", execution, "--interval", "0.3", env=cli_env(server.endpoint_url))
    assert watched.returncode == 1, (watched.stdout, watched.stderr)
    return str(execution)


def code_sha256(code: bytes) -> str:
    """What Lambda reports as a version's CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def _emf_records(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            records.append(json.loads(line))
    return records


def test_local_upload_rolls_the_zip_out_and_wait_exits_0(server: Served, tmp_path: Path) -> None:
    # Given a function and a zip of new code for it
    function = _function(server)
    build = tmp_path / "build-7.zip"
    build.write_bytes(sample_code_zip("7"))

    # When it is uploaded to the emulator's artifact bucket, with a manifest, and followed
    result = run_cli(
        "local", "upload", str(build), "--function", function,
        "--manifest", json.dumps(
            {"alias": "live", "pollIntervalSeconds": 1, "analysis": {"enabled": False}}
        ),
        "--strategy", json.dumps(HEALTHY), "--wait", "--interval", "0.3", "-o", "json",
        env=cli_env(server.endpoint_url),
    )  # fmt: skip

    # Then the upload's own execution promoted a new version built from that zip
    assert result.returncode == 0, (result.stdout, result.stderr)
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "promoted"
    assert outcome["stableVersion"] == "1"
    lam = server.client("lambda")
    live = lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"]
    assert live == outcome["targetVersion"] not in ("1", "2")
    config = lam.get_function_configuration(FunctionName=function, Qualifier=live)
    assert config["CodeSha256"] == code_sha256(build.read_bytes())


def test_local_upload_refuses_an_unknown_function(server: Served, tmp_path: Path) -> None:
    build = tmp_path / "build.zip"
    build.write_bytes(sample_code_zip("8"))

    result = run_cli(
        "local", "upload", str(build), "--function", "no-such-fn",
        env=cli_env(server.endpoint_url),
    )  # fmt: skip

    assert_one_line_error(result, 2)
