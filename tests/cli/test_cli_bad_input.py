"""Bad input gives one clear line and the documented exit code, never a traceback:
2 for what the user typed, 3 for AWS or the connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import (
    Served,
    assert_one_line_error,
    bare_server_argv,
    cli_env,
    closed_port,
    run_cli,
    served,
    unique,
)

from trafficshift.emulator.sample import create_sample_function

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def function(server: Served) -> str:
    name = unique("bad-input")
    create_sample_function(server.client("lambda"), name=name, alias="live")
    return name


def _start(server: Served, *args: str) -> list[str]:
    return ["start", *args, "--endpoint-url", server.endpoint_url]


def test_an_unknown_function_is_refused_before_anything_starts(server: Served) -> None:
    result = run_cli(
        *_start(server, "-f", "no-such-fn", "-a", "live", "--version", "2", "-s", "AllAtOnce")
    )

    line = assert_one_line_error(result, 2)
    assert "no Lambda function 'no-such-fn'" in line
    sfn = server.client("stepfunctions")
    started = sfn.list_executions(stateMachineArn=server.ready["stateMachineArn"])["executions"]
    assert not [e for e in started if "no-such-fn" in e["name"]]


def test_an_unknown_alias_says_how_to_create_it(server: Served, function: str) -> None:
    result = run_cli(
        *_start(server, "-f", function, "-a", "prod", "--version", "2", "-s", "AllAtOnce")
    )

    line = assert_one_line_error(result, 2)
    assert f"{function} has no alias 'prod'" in line
    assert "aws lambda create-alias" in line


def test_an_unknown_version_is_refused(server: Served, function: str) -> None:
    result = run_cli(
        *_start(server, "-f", function, "-a", "live", "--version", "42", "-s", "AllAtOnce")
    )

    assert "has no version 42" in assert_one_line_error(result, 2)


def test_a_malformed_json_file_is_refused(server: Served, tmp_path: Path) -> None:
    broken = tmp_path / "deployment.json"
    broken.write_text('{"functionName": "orders-api", "alias": ')

    result = run_cli(*_start(server, str(broken)))

    line = assert_one_line_error(result, 2)
    assert f"{broken} is not valid JSON" in line


def test_a_json_file_that_is_not_an_object_is_refused(server: Served, tmp_path: Path) -> None:
    listed = tmp_path / "deployment.json"
    listed.write_text("[1, 2]")

    assert "must hold a JSON object" in assert_one_line_error(
        run_cli(*_start(server, str(listed))), 2
    )


def test_an_unknown_strategy_is_refused_locally(
    server: Served, function: str, tmp_path: Path
) -> None:
    request = tmp_path / "deployment.json"
    request.write_text(
        json.dumps(
            {
                "functionName": function,
                "alias": "live",
                "targetVersion": "2",
                "strategy": "Canary10Percent7Minutes",
            }
        )
    )

    line = assert_one_line_error(run_cli(*_start(server, str(request))), 2)
    assert "unknown strategy name 'Canary10Percent7Minutes'" in line
    assert "did you mean 'Canary10Percent5Minutes'" in line


def test_a_field_the_contract_does_not_know_is_refused(server: Served, function: str) -> None:
    body = json.dumps(
        {
            "functionName": function,
            "alias": "live",
            "targetVersion": "2",
            "strategy": "AllAtOnce",
            "bakeTime": 5,
        }
    )

    result = run_cli(*_start(server, "-"), input_text=body)

    assert "invalid input: bakeTime" in assert_one_line_error(result, 2)


def test_an_unknown_execution_is_bad_input(server: Served) -> None:
    result = run_cli("status", "never-ran", "--endpoint-url", server.endpoint_url)

    assert "no such execution" in assert_one_line_error(result, 2)


def test_a_missing_argument_is_one_line_and_exit_2() -> None:
    line = assert_one_line_error(run_cli("plan"), 2)
    assert "Missing argument" in line
    assert "trafficshift plan --help" in line


def test_an_emulator_that_cannot_be_reached_is_exit_3() -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = run_cli("list", "--endpoint-url", url)

    line = assert_one_line_error(result, 3)
    assert f"cannot reach {url}" in line
    assert "trafficshift local serve" in line


def test_no_credentials_is_exit_3(tmp_path: Path) -> None:
    # Given no credentials anywhere (and the instance metadata service off, see cli_env)
    env = cli_env(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_REGION="eu-west-1",
    )
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
    ):
        env.pop(name, None)

    result = run_cli("list", env=env)

    assert "no AWS credentials found" in assert_one_line_error(result, 3)


def test_no_region_is_bad_input(tmp_path: Path) -> None:
    env = cli_env(AWS_CONFIG_FILE=str(tmp_path / "none"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        env.pop(name, None)

    assert "no AWS region" in assert_one_line_error(run_cli("list", env=env), 2)


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    stderr = tmp_path_factory.mktemp("bare") / "stderr.log"
    with served(bare_server_argv(), stderr) as running:
        yield running


def test_no_stack_deployed_is_exit_3_and_says_how_to_fix_it(bare_server: Served) -> None:
    result = run_cli("list", "--endpoint-url", bare_server.endpoint_url)

    line = assert_one_line_error(result, 3)
    assert "no TrafficShift stack" in line
    assert "cdk deploy" in line
    assert "TRAFFICSHIFT_STATE_MACHINE_ARN" in line


def test_the_state_machine_can_be_given_instead_of_discovered(server: Served) -> None:
    # Given the state machine's ARN in the environment (no stack lookup needed)
    env = cli_env(TRAFFICSHIFT_STATE_MACHINE_ARN=server.ready["stateMachineArn"])

    result = run_cli("list", "--endpoint-url", server.endpoint_url, "-o", "json", env=env)

    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_debug_shows_the_traceback_behind_the_line() -> None:
    result = run_cli("list", "--endpoint-url", f"http://127.0.0.1:{closed_port()}", "--debug")

    assert result.returncode == 3
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot reach")


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--approval-timeout", "0"], "approval.timeoutSeconds"),
        (["--pre-traffic", "../hooks/smoke"], "hooks.preTraffic"),
        (["-s", "AllAtOnce", "--approval-timeout", "600"], "approval"),
    ],
)
def test_a_bad_approval_or_hook_flag_is_refused_locally_naming_the_field(
    server: Served, function: str, flags: list[str], field: str
) -> None:
    result = run_cli(
        *_start(
            server, "-f", function, "-a", "live", "--version", "2", "-s", "Canary10Percent5Minutes"
        ),
        *flags,
    )

    line = assert_one_line_error(result, 2)
    assert f"invalid input: {field}" in line
    # refused before anything started: the alias still serves version 1 only
    alias = server.client("lambda").get_alias(FunctionName=function, Name="live")
    assert alias["FunctionVersion"] == "1"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
