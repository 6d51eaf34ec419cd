"""`trafficshift.upload`: the key, the manifest metadata and the name of the execution."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rollout.domain.artifact import code_sha256, execution_name
from trafficshift.upload import execution_arn, upload_artifact


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="artifacts")
        client.put_bucket_versioning(
            Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"}
        )
        yield client


def test_upload_puts_the_zip_in_the_functions_folder_with_the_manifest(
    s3: Any, tmp_path: Path
) -> None:
    path = tmp_path / "build-42.zip"
    path.write_bytes(b"PK zip bytes")
    manifest = {"strategy": "AllAtOnce", "alarms": ["orders-api-errors"]}

    uploaded = upload_artifact(s3, "artifacts", path, "orders-api", manifest)

    head = s3.head_object(Bucket="artifacts", Key="orders-api/build-42.zip")
    assert json.loads(head["Metadata"]["trafficshift"]) == manifest
    assert uploaded == {
        "bucket": "artifacts",
        "key": "orders-api/build-42.zip",
        "versionId": head["VersionId"],
        "executionName": execution_name("artifacts", "orders-api/build-42.zip", head["VersionId"]),
        "codeSha256": code_sha256(b"PK zip bytes"),
        "size": 12,
    }


def test_upload_without_manifest_sets_no_metadata(s3: Any, tmp_path: Path) -> None:
    path = tmp_path / "build"
    path.write_bytes(b"PK")

    uploaded = upload_artifact(s3, "artifacts", path, "orders-api")

    assert uploaded["key"] == "orders-api/build.zip"
    assert s3.head_object(Bucket="artifacts", Key=uploaded["key"])["Metadata"] == {}


def test_a_manifest_over_s3s_2_kb_of_metadata_is_refused_before_uploading(
    s3: Any, tmp_path: Path
) -> None:
    path = tmp_path / "build.zip"
    path.write_bytes(b"PK")
    alarms = [f"alarm-{i:04d}-with-a-long-name" for i in range(100)]

    with pytest.raises(ValueError, match="S3 allows 2048 bytes of user metadata"):
        upload_artifact(s3, "artifacts", path, "orders-api", {"alarms": alarms})

    assert "Contents" not in s3.list_objects_v2(Bucket="artifacts")


def test_a_function_name_lambda_refuses_is_refused(s3: Any, tmp_path: Path) -> None:
    path = tmp_path / "build.zip"
    path.write_bytes(b"PK")
    with pytest.raises(ValueError, match="is not a Lambda function name"):
        upload_artifact(s3, "artifacts", path, "orders api")


def test_execution_arn_is_the_state_machines_execution() -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:TrafficShift-SM"
    assert execution_arn(machine, "orders-api-abc") == (
        "arn:aws:states:us-east-1:123456789012:execution:TrafficShift-SM:orders-api-abc"
    )
