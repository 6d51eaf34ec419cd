"""SnapStart's versions are not ready at once: `snap_start_versions_are_pending`, pinned.

AWS sources: Lambda developer guide, "Activating and managing Lambda SnapStart"
(https://docs.aws.amazon.com/lambda/latest/dg/snapstart-activate.html, "Lambda SnapStart
and function states") and "Lambda function states"
(https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html): a version published
from a function with `SnapStart: {ApplyOn: PublishedVersions}` is `Pending` while Lambda
initializes the code and snapshots it, then `Active` (or `Failed`); "Lambda does not invoke
a function during pending state". Invoke's answer then: 409 ResourceConflictException "The
operation cannot be performed at this time. The function is currently in the following
state: Pending" (remotion-dev/remotion#1186; aws/serverless-application-model#2356).

Given / When / Then, one behaviour per test; snapshots take 0.3 s here.
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

SNAPSHOT_SECONDS = 0.3
SNAP_START = {"ApplyOn": "PublishedVersions"}


@pytest.fixture(autouse=True)
def quick_snapshots() -> Iterator[None]:
    fidelity.set_snapshot_duration(SNAPSHOT_SECONDS)
    try:
        yield
    finally:
        fidelity.set_snapshot_duration(3.0)
        fidelity.set_snapshot_failure(None)


def _create(lam: Any, role_arn: str, name: str = "f", **extra: Any) -> str:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": returns("v1")},
        **extra,
    )
    return name


def _state(lam: Any, name: str, qualifier: str) -> dict[str, Any]:
    config = lam.get_function_configuration(FunctionName=name, Qualifier=qualifier)
    return {k: config.get(k) for k in ("State", "StateReasonCode", "StateReason", "SnapStart")}


def test_snap_start_is_kept_as_given_on_create(lam: Any, role_arn: str) -> None:
    # Given a function created with SnapStart on published versions
    name = _create(lam, role_arn, SnapStart=SNAP_START)

    # Then $LATEST reports it (API_SnapStartResponse: OptimizationStatus is a version's)
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"] == {
        "ApplyOn": "PublishedVersions",
        "OptimizationStatus": "Off",
    }


def test_a_version_published_with_snap_start_is_pending_then_active(
    lam: Any, role_arn: str
) -> None:
    # Given a SnapStart function
    name = _create(lam, role_arn, SnapStart=SNAP_START)

    # When a version is published
    published = lam.publish_version(FunctionName=name)

    # Then it is Pending (StateReasonCode Creating) until its snapshot exists, then Active
    # with SnapStart on ("Activating and managing Lambda SnapStart")
    assert published["State"] == "Pending"
    assert _state(lam, name, published["Version"])["StateReasonCode"] == "Creating"
    lam.get_waiter("published_version_active").wait(
        FunctionName=name,
        Qualifier=published["Version"],
        WaiterConfig={"Delay": 0.1, "MaxAttempts": 50},
    )
    assert _state(lam, name, published["Version"]) == {
        "State": "Active",
        "StateReasonCode": None,
        "StateReason": None,
        "SnapStart": {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"},
    }


def test_snap_start_turned_on_by_update_applies_to_the_next_version(
    lam: Any, role_arn: str
) -> None:
    # Given a function without SnapStart, turned on later (the guide's CLI steps)
    name = _create(lam, role_arn)
    lam.update_function_configuration(FunctionName=name, SnapStart=SNAP_START)

    # When a version is published, then it is Pending
    assert lam.publish_version(FunctionName=name)["State"] == "Pending"


def test_a_version_without_snap_start_is_active_at_once(lam: Any, role_arn: str) -> None:
    name = _create(lam, role_arn)
    assert lam.publish_version(FunctionName=name)["State"] == "Active"


def test_invoking_a_pending_version_fails_with_resource_conflict(lam: Any, role_arn: str) -> None:
    # Given a version still Pending
    name = _create(lam, role_arn, SnapStart=SNAP_START)
    version = lam.publish_version(FunctionName=name)["Version"]

    # When it is invoked, Lambda refuses: 409 ResourceConflictException ("Lambda function
    # states": "Lambda does not invoke a function during pending state")
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert refused.value.response["Error"]["Message"] == (
        "The operation cannot be performed at this time. The function is currently in the "
        "following state: Pending"
    )

    # And once Active it runs
    time.sleep(SNAPSHOT_SECONDS + 0.05)
    answer = lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    assert json.loads(answer["Payload"].read())["value"] == "v1"


def test_invoking_an_alias_that_routes_to_a_pending_version_fails(lam: Any, role_arn: str) -> None:
    # Given an alias whose only version is still Pending
    name = _create(lam, role_arn, SnapStart=SNAP_START)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)

    # Then an invoke through the alias is refused as the version's is
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"


def test_a_version_whose_snapshot_fails_ends_failed_with_its_reason(
    lam: Any, role_arn: str
) -> None:
    # Given snapshots that fail (the initialization code raised, say)
    fidelity.set_snapshot_failure("Init error: boom", code="FunctionError")
    name = _create(lam, role_arn, SnapStart=SNAP_START)

    # When a version is published and its Pending time is over
    version = lam.publish_version(FunctionName=name)["Version"]
    time.sleep(SNAPSHOT_SECONDS + 0.05)

    # Then it is Failed with Lambda's StateReason and StateReasonCode, and is not invoked
    state = _state(lam, name, version)
    assert (state["State"], state["StateReasonCode"], state["StateReason"]) == (
        "Failed",
        "FunctionError",
        "Init error: boom",
    )
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"


def test_publishing_unchanged_code_again_returns_the_same_version_still_pending(
    lam: Any, role_arn: str
) -> None:
    # Given a version just published, Pending
    name = _create(lam, role_arn, SnapStart=SNAP_START)
    first = lam.publish_version(FunctionName=name)

    # When the same code is published again (a retried task), no new version is made, and
    # its snapshot is not restarted ("Lambda doesn't publish a version if the function's
    # configuration and code haven't changed since the last version": configuration-versions)
    time.sleep(SNAPSHOT_SECONDS / 2)
    again = lam.publish_version(FunctionName=name)
    assert (again["Version"], again["State"]) == (first["Version"], "Pending")
    time.sleep(SNAPSHOT_SECONDS / 2 + 0.05)
    assert _state(lam, name, first["Version"])["State"] == "Active"
