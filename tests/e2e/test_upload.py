"""Deploy by uploading: S3 -> EventBridge -> the trigger -> one execution, on the emulator.

The synthesized template's bucket, rules and trigger; moto's S3 sends the "Object Created"
event, EventBridge's rules deliver it (fidelity patch), and the real handlers do the rest.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from e2e_support import AliasRecorder, Rollout

from rollout.domain.artifact import MANIFEST_METADATA_KEY, code_sha256, execution_name
from trafficshift.emulator import fidelity
from trafficshift.emulator.logs import handler_logs_to
from trafficshift.emulator.sample import sample_code_zip
from trafficshift.upload import execution_arn, upload_artifact

pytestmark = pytest.mark.e2e

FAST = {
    "strategy": {"type": "linear", "percent": 50, "intervalSeconds": 0},
    "pollIntervalSeconds": 1,
    "analysis": {"enabled": False},
}


class Uploads:
    """Uploads to the emulated artifact bucket, and the executions they start."""

    def __init__(self, rollout: Rollout, tmp_path: Path) -> None:
        self.rollout = rollout
        self.cloud = rollout.cloud
        self.s3 = rollout.cloud.client("s3")
        self.sfn = rollout.cloud.client("stepfunctions")
        self.bucket = rollout.cloud.artifact_bucket
        self.tmp_path = tmp_path

    def zip_file(self, build: str) -> Path:
        path = self.tmp_path / f"build-{build}.zip"
        path.write_bytes(sample_code_zip(build))
        return path

    def upload(self, build: str, manifest: dict[str, Any] | None = FAST) -> dict[str, Any]:
        return upload_artifact(
            self.s3, self.bucket, self.zip_file(build), self.rollout.function, manifest
        )

    def put(self, key: str, body: bytes, manifest_text: str | None = None) -> str:
        """A raw PutObject; returns the name of the execution it must start."""
        metadata = {MANIFEST_METADATA_KEY: manifest_text} if manifest_text is not None else {}
        put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=metadata)
        return execution_name(self.bucket, key, put["VersionId"])

    def arn(self, name: str) -> str:
        return execution_arn(self.cloud.state_machine_arn, name)

    def wait(self, name: str, timeout: float = 30) -> dict[str, Any]:
        return self.rollout.wait(self.arn(name), timeout=timeout)

    def executions_named(self, prefix: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.cloud.state_machine_arn
        )
        return [e for page in pages for e in page["executions"] if e["name"].startswith(prefix)]

    def latest_sha(self) -> str:
        lam = self.rollout.lam
        return str(lam.get_function_configuration(FunctionName=self.rollout.function)["CodeSha256"])

    def versions(self) -> list[str]:
        listed = self.rollout.lam.list_versions_by_function(FunctionName=self.rollout.function)
        return [v["Version"] for v in listed["Versions"]]


@pytest.fixture
def uploads(rollout: Rollout, tmp_path: Path) -> Uploads:
    return Uploads(rollout, tmp_path)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _corrupt_zip() -> bytes:
    data = bytearray(_zip({"app.py": b"def handler(event, context):\n    return 1\n" * 20}))
    data[40] ^= 0xFF  # inside the first member's compressed data: its CRC no longer matches
    return bytes(data)


# -- the healthy path -------------------------------------------------------------------


def test_an_upload_starts_one_execution_that_publishes_the_zip_and_promotes_it(
    uploads: Uploads, alias_updates: AliasRecorder
) -> None:
    # When a team uploads a zip of new code (build 3), with a manifest
    uploaded = uploads.upload("3")

    # Then exactly one execution starts, named after the object version, and promotes
    result = uploads.wait(uploaded["executionName"])
    assert result["status"] == "SUCCEEDED", result
    assert len(uploads.executions_named(uploads.rollout.function)) == 1
    output = json.loads(result["output"])
    assert (output["outcome"], output["stableVersion"], output["targetVersion"]) == (
        "PROMOTED",
        "1",
        "3",
    )
    # a new version whose CodeSha256 is the zip's
    version = uploads.rollout.lam.get_function_configuration(
        FunctionName=uploads.rollout.function, Qualifier="3"
    )
    assert version["CodeSha256"] == uploaded["codeSha256"] == code_sha256(sample_code_zip("3"))
    # traffic shifted step by step, then the alias serves it, running the new code
    assert alias_updates.seen == [("1", {"3": 0.5}), ("3", {})]
    answer = uploads.rollout.lam.invoke(FunctionName=uploads.rollout.function, Qualifier="live")
    assert json.loads(answer["Payload"].read())["build"] == "3"
    assert uploads.rollout.states_entered(uploads.arn(uploaded["executionName"]))[:6] == [
        "Source",
        "UpdateCode",
        "WaitForCode",
        "PublishArtifact",
        "CodePublished",
        "Prepare",
    ]


def test_an_upload_without_manifest_deploys_to_the_default_alias_with_the_default_strategy(
    uploads: Uploads,
) -> None:
    uploaded = uploads.upload("3", manifest=None)
    arn = uploads.arn(uploaded["executionName"])

    uploads.rollout.wait_until_split()

    # Canary10Percent5Minutes to `live`, polling every 30 s: the construct's defaults
    prepared = next(
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in uploads.rollout.history(arn)
        if e.get("stateExitedEventDetails", {}).get("name") == "Prepare"
    )["deployment"]
    assert (prepared["alias"], prepared["pollIntervalSeconds"]) == ("live", 30)
    assert [(s["percent"], s["bakeSeconds"]) for s in prepared["plan"]] == [(10, 300), (100, 0)]
    assert uploads.rollout.routing() == ("1", {"3": 0.1})
    uploads.sfn.stop_execution(executionArn=arn)


# -- duplicates and concurrency ---------------------------------------------------------


def _deliver_again(uploads: Uploads, key: str, version_id: str) -> None:
    """S3 delivers at least once: send the same object's Object Created event again."""
    from moto.s3 import notifications
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    obj = backend.get_object(uploads.bucket, key, version_id=version_id)
    notifications.send_event(
        "123456789012",
        notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT,
        backend.get_bucket(uploads.bucket),
        obj,
    )


def test_the_same_s3_event_delivered_twice_starts_exactly_one_execution(
    uploads: Uploads,
) -> None:
    uploaded = uploads.upload(
        "3", manifest={**FAST, "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 2}}
    )

    # While the execution runs, then after it finished, S3 sends the same event again
    _deliver_again(uploads, uploaded["key"], uploaded["versionId"])
    result = uploads.wait(uploaded["executionName"])
    _deliver_again(uploads, uploaded["key"], uploaded["versionId"])

    assert result["status"] == "SUCCEEDED"
    assert [e["name"] for e in uploads.executions_named(uploads.rollout.function)] == [
        uploaded["executionName"]
    ]
    assert uploads.versions() == ["$LATEST", "1", "2", "3"]


def test_an_upload_while_a_rollout_of_the_function_runs_is_refused_and_clobbers_nothing(
    uploads: Uploads,
) -> None:
    rollout = uploads.rollout
    running = rollout.start(
        rollout.request(strategy={"type": "canary", "percent": 10, "bakeSeconds": 30})
    )
    rollout.wait_until_split()
    before = (rollout.routing(), rollout.revision(), uploads.latest_sha(), uploads.versions())

    uploaded = uploads.upload("3")
    result = uploads.wait(uploaded["executionName"])

    assert result["status"] == "FAILED"
    assert result["error"] == "PreflightFailed"
    running_name = running.rsplit(":", 1)[-1]
    assert f"a rollout of {rollout.function} is already running ({running_name})" in result["cause"]
    assert "Upload it again when that rollout has finished" in result["cause"]
    # the running rollout's alias, $LATEST and the versions are as they were
    assert (
        rollout.routing(),
        rollout.revision(),
        uploads.latest_sha(),
        uploads.versions(),
    ) == before
    assert rollout.routing() == ("1", {"2": 0.1})
    assert uploads.sfn.describe_execution(executionArn=running)["status"] == "RUNNING"
    uploads.sfn.stop_execution(executionArn=running)


def test_a_function_whose_update_is_in_progress_is_waited_for_not_failed(
    uploads: Uploads,
) -> None:
    # Given updates that take 1.5 s, as on AWS, and one just started by someone else
    fidelity.set_update_duration(1.5)
    try:
        uploads.rollout.lam.update_function_configuration(
            FunctionName=uploads.rollout.function, Description="someone else's change"
        )
        # When a zip is uploaded meanwhile
        uploaded = uploads.upload("3")
        result = uploads.wait(uploaded["executionName"], timeout=60)
    finally:
        fidelity.set_update_duration(0)

    # Then UpdateCode waited (FunctionNotReady, retried), the Wait loop polled until Lambda
    # had applied the code, and the rollout went on
    assert result["status"] == "SUCCEEDED", result
    history = uploads.rollout.history(uploads.arn(uploaded["executionName"]))
    failures = [
        details["error"]
        for e in history
        for key, details in e.items()
        if key.endswith("FailedEventDetails") and isinstance(details, dict)
    ]
    assert "FunctionNotReady" in failures, [e["type"] for e in history]
    entered = uploads.rollout.states_entered(uploads.arn(uploaded["executionName"]))
    assert entered.count("WaitForCode") >= 2
    assert json.loads(result["output"])["targetVersion"] == "3"


# -- bad uploads: nothing changes, and the execution names the problem ---------------------

BAD_UPLOADS = {
    "unknown function": ("no-such-fn/build.zip", sample_code_zip("3"), None, "functionName: "),
    "manifest is not JSON": (
        "{fn}/build.zip",
        sample_code_zip("3"),
        '{"strategy": "AllAtOnce"',
        "manifest: is not valid JSON",
    ),
    "manifest field is invalid": (
        "{fn}/build.zip",
        sample_code_zip("3"),
        '{"strategy": "Canary10Percent7Minutes"}',
        "manifest.strategy: ",
    ),
    "manifest field is unknown": (
        "{fn}/build.zip",
        sample_code_zip("3"),
        '{"aliass": "live"}',
        "manifest.aliass: is not a field of the manifest",
    ),
    "not a zip": ("{fn}/build.zip", b"#!/bin/sh\necho hi\n", None, "artifact: is not a zip"),
    "empty": ("{fn}/build.zip", b"", None, "artifact: the object is empty"),
    "corrupt": ("{fn}/build.zip", _corrupt_zip(), None, "artifact: the zip is corrupt"),
    "no function folder": ("build.zip", sample_code_zip("3"), None, "artifact.key: "),
    "not .zip": ("{fn}/build.tar.gz", sample_code_zip("3"), None, "artifact.key: "),
    "folder is no function name": (
        "not a function/build.zip",
        sample_code_zip("3"),
        None,
        "artifact.key: its folder 'not a function' is not a Lambda function name",
    ),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS), ids=list(BAD_UPLOADS))
def test_a_bad_upload_changes_nothing_and_fails_its_execution_naming_the_problem(
    uploads: Uploads, tmp_path: Path, case: str
) -> None:
    key, body, manifest, cause = BAD_UPLOADS[case]
    rollout = uploads.rollout
    before = (rollout.routing(), rollout.revision(), uploads.latest_sha(), uploads.versions())
    log = tmp_path / "handler-logs.jsonl"

    with handler_logs_to(log):
        name = uploads.put(key.format(fn=rollout.function), body, manifest)
        result = uploads.wait(name)

    # The execution fails, with InvalidInput and a Cause that names the problem and the fix
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidInput"
    assert result["cause"].startswith(cause), result["cause"]
    assert "Fix: " in result["cause"]
    assert rollout.states_entered(uploads.arn(name)) == [
        "Source",
        "UpdateCode",
        "Revert",
        "RolledBack",
    ]
    # nothing changed: not the alias, not $LATEST, no version
    assert (
        rollout.routing(),
        rollout.revision(),
        uploads.latest_sha(),
        uploads.versions(),
    ) == before
    # and the log says it as clearly
    refused = [
        line
        for line in map(json.loads, log.read_text().splitlines())
        if line.get("message") == "upload refused"
    ]
    assert [line["error"] for line in refused] == ["InvalidInput"]
    assert refused[0]["reason"] == result["cause"]


def test_the_emulated_bucket_is_the_templates_versioned_artifact_bucket(uploads: Uploads) -> None:
    # Each upload is its own object version: the execution name's identity.
    versioning = uploads.s3.get_bucket_versioning(Bucket=uploads.bucket)
    assert versioning["Status"] == "Enabled"


def test_concurrent_duplicate_deliveries_start_one_execution(uploads: Uploads) -> None:
    uploaded = uploads.upload("3")
    threads = [
        threading.Thread(
            target=_deliver_again, args=(uploads, uploaded["key"], uploaded["versionId"])
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    uploads.wait(uploaded["executionName"])
    assert len(uploads.executions_named(uploads.rollout.function)) == 1
