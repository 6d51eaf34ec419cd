"""SnapStart functions on the emulator: their new versions are Pending for a while, as on AWS.

AWS: a version published from a function with `SnapStart: {ApplyOn: PublishedVersions}` is
`Pending` until Lambda has snapshotted it, then `Active` or `Failed` (Lambda guide:
"Activating and managing Lambda SnapStart",
https://docs.aws.amazon.com/lambda/latest/dg/snapstart-activate.html). A `publish: true`
rollout and an upload both publish such a version and must wait for it; one that fails is
refused with Lambda's reason, the alias untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Rollout

from trafficshift.emulator import fidelity
from trafficshift.emulator.sample import sample_code_zip
from trafficshift.upload import execution_arn, upload_artifact

pytestmark = pytest.mark.e2e

SNAPSHOT_SECONDS = 0.8


@pytest.fixture
def snap_start(rollout: Rollout) -> Iterator[Rollout]:
    """The sample function (versions 1 and 2, live -> 1) with SnapStart turned on: the
    versions published from now on are Pending for SNAPSHOT_SECONDS."""
    fidelity.set_snapshot_duration(SNAPSHOT_SECONDS)
    try:
        rollout.lam.update_function_configuration(
            FunctionName=rollout.function, SnapStart={"ApplyOn": "PublishedVersions"}
        )
        yield rollout
    finally:
        fidelity.set_snapshot_duration(3.0)
        fidelity.set_snapshot_failure(None)


def _failed_tasks(rollout: Rollout, arn: str) -> list[str]:
    return [
        details["error"]
        for event in rollout.history(arn)
        for key, details in event.items()
        if key.endswith("FailedEventDetails") and isinstance(details, dict)
    ]


def _versions(rollout: Rollout) -> list[str]:
    listed = rollout.lam.list_versions_by_function(FunctionName=rollout.function)["Versions"]
    return [v["Version"] for v in listed if v["Version"] != "$LATEST"]


def test_a_publish_rollout_of_a_snap_start_function_waits_for_its_version_and_promotes(
    snap_start: Rollout,
) -> None:
    # When a publish: true rollout starts: Prepare publishes version 3, which is Pending
    arn = snap_start.start(snap_start.request(targetVersion=None, publish=True))
    result = snap_start.wait(arn, timeout=60)

    # Then Prepare waited for it (FunctionNotReady, retried), published it once, promoted it
    assert result["status"] == "SUCCEEDED", result
    assert "FunctionNotReady" in _failed_tasks(snap_start, arn)
    assert _versions(snap_start) == ["1", "2", "3"]
    assert snap_start.routing() == ("3", {})


def test_an_upload_to_a_snap_start_function_waits_for_its_version_and_promotes(
    snap_start: Rollout, tmp_path: Path
) -> None:
    # When a zip is uploaded: PublishArtifact publishes version 3, Pending
    cloud = snap_start.cloud
    zipped = tmp_path / "build-3.zip"
    zipped.write_bytes(sample_code_zip("3"))
    uploaded = upload_artifact(
        cloud.client("s3"),
        cloud.artifact_bucket,
        zipped,
        snap_start.function,
        {"strategy": "AllAtOnce", "pollIntervalSeconds": 1, "analysis": {"enabled": False}},
    )
    arn = execution_arn(cloud.state_machine_arn, uploaded["executionName"])
    result = snap_start.wait(arn, timeout=60)

    # Then Prepare waited for it and the alias serves it
    assert result["status"] == "SUCCEEDED", result
    assert "FunctionNotReady" in _failed_tasks(snap_start, arn)
    assert json.loads(result["output"])["targetVersion"] == "3"
    assert snap_start.routing() == ("3", {})


def test_a_snap_start_version_that_failed_is_refused_with_its_reason_and_the_alias_untouched(
    snap_start: Rollout,
) -> None:
    # Given snapshots that fail (the initialization code raised)
    fidelity.set_snapshot_failure("Init error: No module named 'orders'", code="FunctionError")
    before = (snap_start.routing(), snap_start.revision())

    # When a publish: true rollout starts
    result = snap_start.wait(
        snap_start.start(snap_start.request(targetVersion=None, publish=True)), timeout=60
    )

    # Then it waited while the version was Pending, then refused it with Lambda's reason
    assert result["status"] == "FAILED", result
    assert result["error"] == "PreflightFailed", result
    reason = "is Failed (Lambda: FunctionError: Init error: No module named 'orders')"
    assert reason in result["cause"]
    # and the alias is exactly as it was
    assert (snap_start.routing(), snap_start.revision()) == before

    # And the lock is free: the next rollout (of version 2, Active) starts and promotes
    fidelity.set_snapshot_failure(None)
    assert snap_start.run()["status"] == "SUCCEEDED"
    assert snap_start.routing() == ("2", {})
