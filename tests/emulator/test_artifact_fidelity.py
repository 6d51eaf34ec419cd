"""The fidelity patches deploying from an upload needs, pinned with the AWS behaviour.

Given / When / Then, one behaviour per test. `cloud` is a fresh LocalCloud with nothing
deployed; `lam` a Lambda client without retries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import returns

from trafficshift.emulator import fidelity
from trafficshift.emulator.cloud import LocalCloud


def _error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


@pytest.fixture
def function(lam: Any, role_arn: str) -> str:
    lam.create_function(
        FunctionName="f",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": returns("v1")},
    )
    return "f"


@pytest.fixture
def bucket(cloud: LocalCloud) -> str:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    return "artifacts"


@pytest.fixture
def slow_updates() -> Iterator[None]:
    fidelity.set_update_duration(0.4)
    try:
        yield
    finally:
        fidelity.set_update_duration(0)


# -- update_function_code_reads_S3ObjectVersion_and_RevisionId -----------------------------


def test_update_function_code_deploys_the_s3_object_version_it_names(
    cloud: LocalCloud, lam: Any, function: str, bucket: str
) -> None:
    # Given two versions of one key
    s3 = cloud.client("s3")
    first = s3.put_object(Bucket=bucket, Key="f/build.zip", Body=returns("first"))["VersionId"]
    s3.put_object(Bucket=bucket, Key="f/build.zip", Body=returns("second"))

    # When the code is updated from the first, by its version id
    lam.update_function_code(
        FunctionName=function, S3Bucket=bucket, S3Key="f/build.zip", S3ObjectVersion=first
    )

    # Then, as on AWS, the function runs the first version's code, not the newest
    answer = lam.invoke(FunctionName=function)["Payload"].read()
    assert json.loads(answer)["value"] == "first"


def test_update_function_code_from_a_missing_object_version_is_refused_like_aws(
    cloud: LocalCloud, lam: Any, function: str, bucket: str
) -> None:
    cloud.client("s3").put_object(Bucket=bucket, Key="f/build.zip", Body=returns("x"))

    with pytest.raises(ClientError) as refused:
        lam.update_function_code(
            FunctionName=function, S3Bucket=bucket, S3Key="f/build.zip", S3ObjectVersion="nope"
        )

    assert _error_code(refused) == "InvalidParameterValueException"
    assert "NoSuchVersion" in str(refused.value)


def test_update_function_code_with_a_stale_revision_id_is_refused_like_aws(
    lam: Any, function: str
) -> None:
    stale = lam.get_function_configuration(FunctionName=function)["RevisionId"]
    lam.update_function_configuration(FunctionName=function, Description="someone else")

    with pytest.raises(ClientError) as refused:
        lam.update_function_code(FunctionName=function, ZipFile=returns("v2"), RevisionId=stale)

    assert _error_code(refused) == "PreconditionFailedException"


def test_update_function_code_with_the_current_revision_id_updates(lam: Any, function: str) -> None:
    current = lam.get_function_configuration(FunctionName=function)["RevisionId"]

    lam.update_function_code(FunctionName=function, ZipFile=returns("v2"), RevisionId=current)

    assert json.loads(lam.invoke(FunctionName=function)["Payload"].read())["value"] == "v2"


# -- function_updates_take_time -------------------------------------------------------------


def test_updates_are_instant_by_default_as_in_moto(lam: Any, function: str) -> None:
    updated = lam.update_function_code(FunctionName=function, ZipFile=returns("v2"))
    assert updated["LastUpdateStatus"] == "Successful"


@pytest.mark.usefixtures("slow_updates")
def test_an_update_is_in_progress_for_a_while_then_successful(lam: Any, function: str) -> None:
    # When the code is updated
    updated = lam.update_function_code(FunctionName=function, ZipFile=returns("v2"))

    # Then, as on AWS, the update is InProgress, and later Successful
    assert updated["LastUpdateStatus"] == "InProgress"
    config = lam.get_function_configuration(FunctionName=function)
    assert config["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    assert lam.get_function_configuration(FunctionName=function)["LastUpdateStatus"] == (
        "Successful"
    )


@pytest.mark.usefixtures("slow_updates")
@pytest.mark.parametrize(
    "call",
    [
        lambda lam: lam.publish_version(FunctionName="f"),
        lambda lam: lam.update_function_code(FunctionName="f", ZipFile=returns("v3")),
        lambda lam: lam.update_function_configuration(FunctionName="f", Timeout=9),
    ],
    ids=["PublishVersion", "UpdateFunctionCode", "UpdateFunctionConfiguration"],
)
def test_lambda_refuses_changes_while_an_update_is_in_progress_like_aws(
    lam: Any, function: str, call: Any
) -> None:
    lam.update_function_code(FunctionName=function, ZipFile=returns("v2"))

    with pytest.raises(ClientError) as refused:
        call(lam)

    assert _error_code(refused) == "ResourceConflictException"
    assert "An update is in progress for resource: " in str(refused.value)
    time.sleep(0.5)
    call(lam)  # once the update is done, the same call goes through
