"""A target version that Lambda is still making ready is waited for; one that failed is refused.

AWS: a version published from a SnapStart function is `Pending` until its snapshot exists,
then `Active` or `Failed` (Lambda guide: "Activating and managing Lambda SnapStart",
https://docs.aws.amazon.com/lambda/latest/dg/snapstart-activate.html; "Lambda function
states", https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html); a function
being updated or not Active yet answers PublishVersion and UpdateAlias with 409
ResourceConflictException. The domain decides (`check_ready`), the adapter translates, and
Prepare on the emulator shows the whole: wait, retry, publish once, keep the lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ledger_fake import InMemoryLedger, ListEvents

from rollout.adapters.alarms import Alarms
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.application import prepare
from rollout.domain import rollout as domain
from rollout.domain.errors import FunctionNotReady, PreflightFailed
from rollout.domain.request import parse_request
from rollout.domain.rollout import AlarmState, AliasSnapshot, VersionInfo
from trafficshift.emulator import fidelity
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.sample import create_sample_function

T0 = 1_800_000_000.0
ROLE = "arn:aws:iam::123456789012:role/orders"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:snap"


def _preflight(target: VersionInfo, **overrides: Any) -> domain.RolloutState:
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": target.version,
        "strategy": "Canary10Percent5Minutes",
        "alarms": ["errors"],
    }
    raw.update(overrides)
    return domain.preflight(
        parse_request(raw),
        alias=AliasSnapshot(function_version="6", revision_id="r1"),
        target=target,
        stable=VersionInfo(version="6", role=ROLE),
        alarms={"errors": AlarmState(name="errors", state="OK")},
        execution_id="arn:exec",
        now=T0,
    )


# -- the decision (domain) ------------------------------------------------------------------


def test_a_pending_version_is_waited_for_not_refused() -> None:
    pending = VersionInfo(
        version="7",
        role=ROLE,
        state="Pending",
        state_reason_code="Creating",
        state_reason="The function is being created.",
    )
    with pytest.raises(FunctionNotReady, match="version 7 of orders-api is Pending") as caught:
        _preflight(pending)
    assert "Creating" in str(caught.value)


def test_a_version_whose_update_is_in_progress_is_waited_for() -> None:
    updating = VersionInfo(version="7", role=ROLE, last_update_status="InProgress")
    with pytest.raises(FunctionNotReady, match="being updated"):
        _preflight(updating)


def test_a_failed_version_is_refused_with_lambdas_state_reason() -> None:
    failed = VersionInfo(
        version="7",
        role=ROLE,
        state="Failed",
        state_reason_code="FunctionError",
        state_reason="Init error: ModuleNotFoundError: No module named 'orders'",
    )
    with pytest.raises(PreflightFailed) as caught:
        _preflight(failed)
    message = str(caught.value)
    assert "version 7 of orders-api is Failed" in message
    assert "FunctionError: Init error: ModuleNotFoundError: No module named 'orders'" in message
    assert "publish a new version" in message


def test_a_failed_last_update_is_refused_with_its_reason() -> None:
    failed = VersionInfo(
        version="7",
        role=ROLE,
        last_update_status="Failed",
        last_update_status_reason="The KMS key is disabled",
    )
    with pytest.raises(PreflightFailed, match=r"is Failed .*The KMS key is disabled"):
        _preflight(failed)


def test_a_pending_version_that_can_never_start_is_refused_at_once_not_waited_for() -> None:
    # Given a Pending version that runs as another role than the stable one
    pending = VersionInfo(version="7", role=ROLE + "-other", state="Pending")

    # Then the permanent refusal comes first: waiting for it would only delay it
    with pytest.raises(Exception, match="role") as caught:
        _preflight(pending)
    assert not isinstance(caught.value, FunctionNotReady)


def test_an_active_version_passes() -> None:
    assert _preflight(VersionInfo(version="7", role=ROLE)).deployment.target_version == "7"


# -- the adapter: Lambda's 409 passes, it is not a failure ------------------------------------


class _Conflicting:
    """A Lambda client whose writes answer 409 ResourceConflictException, as AWS does while
    the function is being updated ("Lambda function states")."""

    def _conflict(self, operation: str) -> ClientError:
        return ClientError(
            {
                "Error": {
                    "Code": "ResourceConflictException",
                    "Message": "The operation cannot be performed at this time. An update is "
                    "in progress for resource: arn:aws:lambda:us-east-1:123456789012:"
                    "function:orders-api",
                },
                "ResponseMetadata": {"HTTPStatusCode": 409},
            },
            operation,
        )

    def publish_version(self, **kwargs: Any) -> Any:
        raise self._conflict("PublishVersion")

    def update_alias(self, **kwargs: Any) -> Any:
        raise self._conflict("UpdateAlias")


def test_a_resource_conflict_on_publish_version_is_function_not_ready() -> None:
    with pytest.raises(FunctionNotReady, match="An update is in progress"):
        LambdaFunctions(_Conflicting()).publish_version("orders-api", "sha", "d")


def test_a_resource_conflict_on_update_alias_is_function_not_ready() -> None:
    with pytest.raises(FunctionNotReady, match="An update is in progress"):
        LambdaFunctions(_Conflicting()).update_alias(
            "orders-api", "live", primary="6", additional={"7": 0.1}, revision_id="r"
        )


# -- Prepare on the emulator: a SnapStart function published with `publish: true` --------------

SNAPSHOT_SECONDS = 0.4


@pytest.fixture
def snap_start_cloud() -> Iterator[tuple[Any, InMemoryLedger]]:
    """A sample function (versions 1 and 2, live -> 1) whose next versions are SnapStart's."""
    fidelity.set_snapshot_duration(SNAPSHOT_SECONDS)
    try:
        with LocalCloud(load_control_plane=False) as cloud:
            lam = cloud.client("lambda")
            create_sample_function(lam, name="orders-api", alias="live")
            lam.update_function_configuration(
                FunctionName="orders-api", SnapStart={"ApplyOn": "PublishedVersions"}
            )
            yield lam, InMemoryLedger()
    finally:
        fidelity.set_snapshot_duration(3.0)
        fidelity.set_snapshot_failure(None)


def _prepare(lam: Any, ledger: InMemoryLedger, execution: str = EXECUTION) -> dict[str, Any]:
    now = time.time()
    return prepare.prepare(
        {
            "functionName": "orders-api",
            "alias": "live",
            "publish": True,
            "strategy": "Canary10Percent5Minutes",
            "analysis": {"enabled": False},
        },
        execution=execution,
        started_at=now,
        functions=LambdaFunctions(lam),
        alarms=Alarms(None),
        ledger=ledger,
        events=ListEvents(),
        now=now,
    ).wire()


def _versions(lam: Any) -> list[str]:
    listed = lam.list_versions_by_function(FunctionName="orders-api")["Versions"]
    return [v["Version"] for v in listed if v["Version"] != "$LATEST"]


def test_prepare_waits_for_a_snap_start_version_publishes_it_once_and_keeps_the_lock(
    snap_start_cloud: tuple[Any, InMemoryLedger],
) -> None:
    lam, ledger = snap_start_cloud

    # When Prepare publishes the new version, which is Pending while Lambda snapshots it
    with pytest.raises(FunctionNotReady, match="version 3 of orders-api is Pending"):
        _prepare(lam, ledger)

    # Then the alias is untouched, and this execution keeps the alias while it waits: a
    # second rollout is refused naming it
    assert lam.get_alias(FunctionName="orders-api", Name="live")["FunctionVersion"] == "1"
    with pytest.raises(PreflightFailed, match=r"is being deployed by .*:snap "):
        _prepare(lam, ledger, execution=EXECUTION + "-other")

    # When the state machine retries Prepare (the same input) once the version is Active
    time.sleep(SNAPSHOT_SECONDS + 0.05)
    state = _prepare(lam, ledger)

    # Then it rolls out version 3, published once: PublishVersion of unchanged code returns
    # the version it published before (Lambda guide: configuration-versions)
    assert state["deployment"]["targetVersion"] == "3"
    assert _versions(lam) == ["1", "2", "3"]
    assert ledger.locks[("orders-api", "live")].owner == EXECUTION


def test_prepare_refuses_a_snap_start_version_that_failed_naming_lambdas_reason(
    snap_start_cloud: tuple[Any, InMemoryLedger],
) -> None:
    lam, ledger = snap_start_cloud
    fidelity.set_snapshot_failure("Init error: No module named 'orders'", code="FunctionError")
    with pytest.raises(FunctionNotReady):
        _prepare(lam, ledger)
    time.sleep(SNAPSHOT_SECONDS + 0.05)

    with pytest.raises(PreflightFailed) as caught:
        _prepare(lam, ledger)

    assert "is Failed (Lambda: FunctionError: Init error: No module named 'orders')" in str(
        caught.value
    )
    assert lam.get_alias(FunctionName="orders-api", Name="live")["FunctionVersion"] == "1"
