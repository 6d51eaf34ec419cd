"""Server mode: an upload through the emulator's HTTP endpoint starts its deployment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from trafficshift.emulator.sample import create_sample_function, sample_code_zip
from trafficshift.emulator.server import RunningServer, start_server
from trafficshift.upload import execution_arn, upload_artifact


@pytest.fixture
def running() -> Iterator[RunningServer]:
    server = start_server(0, routing_seed=1)  # the synthesized control plane
    try:
        yield server
    finally:
        server.stop()


def _client(service: str, info: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["endpointUrl"],
        region_name=info["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_an_upload_to_the_served_artifact_bucket_rolls_out(
    running: RunningServer, tmp_path: Path
) -> None:
    # Given the server's ready line, which names the artifact bucket
    info = running.info()
    assert info["artifactBucket"]
    create_sample_function(_client("lambda", info), name="orders-api")
    build = tmp_path / "build-3.zip"
    build.write_bytes(sample_code_zip("3"))

    # When a client uploads a zip over HTTP (what `trafficshift local upload` does)
    uploaded = upload_artifact(
        _client("s3", info),
        info["artifactBucket"],
        build,
        "orders-api",
        {"strategy": "AllAtOnce", "analysis": {"enabled": False}},
    )

    # Then the execution it names runs to a promotion
    sfn = _client("stepfunctions", info)
    arn = execution_arn(info["stateMachineArn"], uploaded["executionName"])
    deadline = time.monotonic() + 30
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the upload's rollout did not finish"
        time.sleep(0.05)
    assert status == "SUCCEEDED"
