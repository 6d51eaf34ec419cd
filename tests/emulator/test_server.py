"""Server mode: `python -m trafficshift.emulator.server` serves the emulator over HTTP."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from emulator_helpers import HERE, SMALL_TEMPLATE

REPO = HERE.parent.parent
STARTUP_TIMEOUT = 30.0


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """The server in a subprocess, with the small template; yields its ready line."""
    template = tmp_path / "template.json"
    template.write_text(json.dumps(SMALL_TEMPLATE))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "functions"), str(REPO), str(HERE)]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    argv = [sys.executable, "-m", "trafficshift.emulator.server", "--port", "0"]
    argv += ["--template", str(template), "--routing-seed", "1"]
    stderr = (tmp_path / "stderr.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=REPO
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        try:
            ready = json.loads(lines.get(timeout=STARTUP_TIMEOUT))
        except (queue.Empty, json.JSONDecodeError):
            process.kill()
            process.wait(5)
            pytest.fail(f"server did not start: {(tmp_path / 'stderr.log').read_text()[-2000:]}")
        yield process, ready
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        stderr.close()


def test_serve_prints_endpoint_and_serves_boto3_clients(server: Any) -> None:
    process, ready = server

    # Then the ready line names the endpoint, region and state machine
    assert ready["endpointUrl"].startswith("http://127.0.0.1:")
    assert ready["region"] == "us-east-1"
    assert ready["stateMachineArn"].endswith(":stateMachine:TrafficShift-Machine")

    # When boto3 clients use the endpoint
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=ready["endpointUrl"],
            region_name=ready["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    lam, sfn = client("lambda"), client("stepfunctions")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    invoked = lam.invoke(FunctionName="TrafficShift-DoubleFn", Payload=b'{"value": 4}')
    execution_arn = sfn.start_execution(
        stateMachineArn=ready["stateMachineArn"], input='{"value": 3}'
    )["executionArn"]
    deadline = time.monotonic() + 10
    while (execution := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # Then the deployed functions are there, handlers run inside the server, and so does
    # the state machine
    assert names == {"TrafficShift-DoubleFn", "reject-orders"}
    assert json.loads(invoked["Payload"].read())["value"] == 8
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])["value"] == 6

    # When it gets SIGTERM
    process.send_signal(signal.SIGTERM)

    # Then it stops cleanly, having printed nothing else on stdout
    assert process.wait(10) == 0
    assert process.stdout.read() == ""
