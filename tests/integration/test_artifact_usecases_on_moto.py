"""The upload use cases with their real adapters, against moto's S3, Lambda and Step Functions.

The state machine around them is tested on the emulator (tests/e2e/test_upload.py); here
each use case is called directly, so each branch is pinned at the lowest layer.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rollout import artifact_usecases as usecases
from rollout.adapters import aws
from rollout.adapters.lambda_code import FunctionCode
from rollout.adapters.s3 import ArtifactObjects
from rollout.adapters.workflow import Workflow
from rollout.domain.analysis import AnalysisConfig
from rollout.domain.artifact import Defaults, RunningExecution, code_sha256, execution_name
from rollout.domain.errors import FunctionNotReady, InvalidInput, PreflightFailed

BUCKET = "artifacts"
SETTINGS = usecases.ArtifactSettings(
    bucket=BUCKET,
    defaults=Defaults(alias="live", strategy="AllAtOnce", poll_interval_seconds=5),
    code_update_timeout_seconds=600,
)
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:orders-api-1"


def _zip(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def handler(e, c):\n    return {body!r}\n")
    return buffer.getvalue()


class NoRollouts:
    """A workflow port with nothing running (the adapter is tested on its own below)."""

    def __init__(self, running: list[RunningExecution] | None = None) -> None:
        self._running = running or []
        self.asked: list[str] = []

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> Any:
        raise AssertionError("UpdateCode starts nothing")

    def running(self, state_machine_arn: str) -> list[RunningExecution]:
        self.asked.append(state_machine_arn)
        return self._running


@pytest.fixture
def cloud() -> Iterator[SimpleNamespace]:
    with mock_aws():
        aws.client.cache_clear()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
        lam = boto3.client("lambda")
        lam.create_function(
            FunctionName="orders-api",
            Runtime="python3.13",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": _zip("v1")},
        )
        yield SimpleNamespace(s3=s3, lam=lam, sfn=boto3.client("stepfunctions"))
        aws.client.cache_clear()


def _upload(cloud: SimpleNamespace, key: str, body: bytes, manifest: str | None = None) -> Any:
    metadata = {"trafficshift": manifest} if manifest is not None else {}
    put = cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)
    return {"bucket": BUCKET, "key": key, "versionId": put["VersionId"]}


def _update(source: dict[str, Any], workflow: Any = None, **extra: Any) -> dict[str, Any]:
    return usecases.update_code(
        {"input": {"artifact": source, **extra}, "executionId": EXECUTION},
        objects=ArtifactObjects(),
        functions=FunctionCode(),
        workflow=workflow or NoRollouts(),
        settings=SETTINGS,
        now=1000.0,
    )


def _latest_sha(cloud: SimpleNamespace) -> str:
    return str(cloud.lam.get_function_configuration(FunctionName="orders-api")["CodeSha256"])


def test_update_code_replaces_latest_with_the_uploaded_version_and_resolves_the_request(
    cloud: SimpleNamespace,
) -> None:
    code = _zip("v2")
    source = _upload(
        cloud, "orders-api/build-2.zip", code, '{"strategy": "Canary10Percent5Minutes"}'
    )

    state = _update(source)

    assert _latest_sha(cloud) == code_sha256(code)
    assert state["update"] == {
        "codeSha256": code_sha256(code),
        "startedAt": 1000.0,
        "polls": 0,
        "waitSeconds": 0,  # moto applies updates at once
    }
    assert state["request"] == {
        "functionName": "orders-api",
        "alias": "live",
        "strategy": "Canary10Percent5Minutes",
        "alarms": [],
        "pollIntervalSeconds": 5,
        "onBusy": "refuse",
        "maxHealthReadFailures": 3,
        "publish": False,
        "analysis": AnalysisConfig().model_dump(by_alias=True, mode="json"),
    }
    assert state["artifact"] == source


@pytest.mark.parametrize(
    ("key", "body", "manifest", "field"),
    [
        ("no-such-function/build.zip", _zip("x"), None, "functionName"),
        ("orders-api/build.zip", b"", None, "artifact"),
        ("orders-api/build.zip", b"PK\x03\x04 not really", None, "artifact"),
        ("orders-api/build.zip", _zip("x"), "{oops", "manifest"),
        ("orders-api/build.zip", _zip("x"), '{"alarms": "one"}', "manifest.alarms"),
        ("build.zip", _zip("x"), None, "artifact.key"),
    ],
)
def test_a_bad_upload_changes_nothing(
    cloud: SimpleNamespace, key: str, body: bytes, manifest: str | None, field: str
) -> None:
    before = _latest_sha(cloud)
    source = _upload(cloud, key, body, manifest)

    with pytest.raises(InvalidInput) as refused:
        _update(source)

    assert refused.value.field == field
    assert _latest_sha(cloud) == before


def test_an_artifact_from_another_bucket_is_refused(cloud: SimpleNamespace) -> None:
    with pytest.raises(InvalidInput) as refused:
        _update({"bucket": "elsewhere", "key": "orders-api/b.zip", "versionId": "v"})
    assert refused.value.field == "artifact.bucket"
    assert "s3://artifacts/" in refused.value.fix


def test_an_object_version_that_does_not_exist_is_refused(cloud: SimpleNamespace) -> None:
    source = _upload(cloud, "orders-api/build.zip", _zip("x"))
    with pytest.raises(InvalidInput, match="there is no object"):
        _update({**source, "versionId": "nonexistent"})


def test_a_url_encoded_key_from_the_event_finds_its_object(cloud: SimpleNamespace) -> None:
    # S3 URL-encodes keys in its notifications ("build 42.zip" -> "build+42.zip").
    source = _upload(cloud, "orders-api/build 42.zip", _zip("v42"))

    state = _update({**source, "key": "orders-api/build+42.zip"})

    assert state["artifact"]["key"] == "orders-api/build 42.zip"
    assert _latest_sha(cloud) == code_sha256(_zip("v42"))


def test_a_running_rollout_of_the_function_refuses_the_upload_before_any_change(
    cloud: SimpleNamespace,
) -> None:
    before = _latest_sha(cloud)
    source = _upload(cloud, "orders-api/build.zip", _zip("x"))
    running = RunningExecution(
        arn="arn:aws:states:us-east-1:123456789012:execution:TrafficShift:console-7",
        name="console-7",
        started_at=1.0,
        function="orders-api",
    )
    workflow = NoRollouts([running])

    with pytest.raises(
        PreflightFailed, match=r"a rollout of orders-api is already running \(console-7\)"
    ):
        _update(source, workflow)

    assert workflow.asked == ["arn:aws:states:us-east-1:123456789012:stateMachine:TrafficShift"]
    assert _latest_sha(cloud) == before


def test_a_function_being_updated_is_waited_for(
    cloud: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _upload(cloud, "orders-api/build.zip", _zip("x"))
    real = FunctionCode.configuration

    def in_progress(self: FunctionCode, name: str) -> Any:
        return real(self, name).model_copy(update={"last_update_status": "InProgress"})

    monkeypatch.setattr(FunctionCode, "configuration", in_progress)

    with pytest.raises(FunctionNotReady):
        _update(source)


def test_publish_artifact_publishes_exactly_the_uploaded_code(cloud: SimpleNamespace) -> None:
    code = _zip("v2")
    state = _update(_upload(cloud, "orders-api/build.zip", code))

    request = usecases.publish_artifact(
        {"state": state}, functions=FunctionCode(), settings=SETTINGS, now=1001.0
    )

    assert request == {
        "functionName": "orders-api",
        "alias": "live",
        "strategy": "AllAtOnce",
        "alarms": [],
        "pollIntervalSeconds": 5,
        "onBusy": "refuse",
        "maxHealthReadFailures": 3,
        "targetVersion": "1",
        "analysis": AnalysisConfig().model_dump(by_alias=True, mode="json"),
    }
    version = cloud.lam.get_function_configuration(FunctionName="orders-api", Qualifier="1")
    assert version["CodeSha256"] == code_sha256(code)


def test_publish_artifact_refuses_code_that_replaced_the_upload(cloud: SimpleNamespace) -> None:
    # Given our update, then someone else's before we publish
    state = _update(_upload(cloud, "orders-api/build.zip", _zip("ours")))
    cloud.lam.update_function_code(FunctionName="orders-api", ZipFile=_zip("theirs"))

    with pytest.raises(PreflightFailed, match="changed while this upload was applied"):
        usecases.publish_artifact(
            {"state": state}, functions=FunctionCode(), settings=SETTINGS, now=1001.0
        )

    assert cloud.lam.list_versions_by_function(FunctionName="orders-api")["Versions"][1:] == []


def test_publish_artifact_asks_for_another_wait_while_the_update_runs(
    cloud: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _update(_upload(cloud, "orders-api/build.zip", _zip("x")))
    real = FunctionCode.configuration
    monkeypatch.setattr(
        FunctionCode,
        "configuration",
        lambda self, name: real(self, name).model_copy(update={"last_update_status": "InProgress"}),
    )

    following = usecases.publish_artifact(
        {"state": state}, functions=FunctionCode(), settings=SETTINGS, now=1003.0
    )

    assert following["update"]["polls"] == 1
    assert following["update"]["waitSeconds"] == 2
    assert "targetVersion" not in following


# -- the trigger and the workflow adapter -------------------------------------------------


def _state_machine(cloud: SimpleNamespace) -> str:
    role = "arn:aws:iam::123456789012:role/sfn"
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    return str(
        cloud.sfn.create_state_machine(
            name="TrafficShift", definition=json.dumps(definition), roleArn=role
        )["stateMachineArn"]
    )


def _s3_event(key: str, version: str) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "version-id": version}},
    }


def test_the_trigger_starts_the_execution_the_upload_names(cloud: SimpleNamespace) -> None:
    machine = _state_machine(cloud)

    started = usecases.start_from_upload(
        _s3_event("orders-api/b.zip", "v1"), workflow=Workflow(), state_machine_arn=machine
    )

    name = execution_name(BUCKET, "orders-api/b.zip", "v1")
    assert started["executionArn"].endswith(f":execution:TrafficShift:{name}")
    execution = cloud.sfn.describe_execution(executionArn=started["executionArn"])
    assert json.loads(execution["input"]) == {
        "artifact": {"bucket": BUCKET, "key": "orders-api/b.zip", "versionId": "v1"}
    }


def test_the_same_event_twice_starts_one_execution(cloud: SimpleNamespace) -> None:
    machine = _state_machine(cloud)
    event = _s3_event("orders-api/b.zip", "v1")

    first = usecases.start_from_upload(event, workflow=Workflow(), state_machine_arn=machine)
    again = usecases.start_from_upload(event, workflow=Workflow(), state_machine_arn=machine)

    assert again["executionArn"] == first["executionArn"]
    assert len(cloud.sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_an_event_that_is_not_an_upload_is_an_error(cloud: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="not an S3 Object Created event"):
        usecases.start_from_upload({"detail": {}}, workflow=Workflow(), state_machine_arn="arn")


def test_settings_come_from_the_environment_the_construct_sets() -> None:
    settings = usecases.ArtifactSettings.from_environ(
        {
            "TRAFFICSHIFT_ARTIFACT_BUCKET": "b",
            "TRAFFICSHIFT_DEFAULT_ALIAS": "prod",
            "TRAFFICSHIFT_DEFAULT_STRATEGY": '{"type": "canary", "percent": 5, "bakeSeconds": 60}',
            "TRAFFICSHIFT_DEFAULT_POLL_INTERVAL_SECONDS": "10",
            "TRAFFICSHIFT_CODE_UPDATE_TIMEOUT_SECONDS": "120",
        }
    )
    assert settings.bucket == "b"
    assert settings.defaults == Defaults(
        alias="prod",
        strategy={"type": "canary", "percent": 5, "bakeSeconds": 60},
        poll_interval_seconds=10,
    )
    assert settings.code_update_timeout_seconds == 120
