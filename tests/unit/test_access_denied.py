"""IAM refusing the control plane a function (in tag mode: an untagged function) is refused
at pre-flight with the fix, before anything moves; a hook it may not invoke fails the hook."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from ledger_fake import InMemoryLedger, ListEvents

from rollout.adapters.aws import translated
from rollout.adapters.hooks import HookInvoker
from rollout.application import prepare
from rollout.domain.errors import AccessDenied, HookFailed, PreflightFailed
from rollout.domain.rollout import AliasSnapshot, VersionInfo

_DENIED = {
    "Error": {
        "Code": "AccessDeniedException",
        "Message": "User: arn:aws:sts::123456789012:assumed-role/PrepareRole/x is not "
        "authorized to perform: lambda:GetAlias on resource: "
        "arn:aws:lambda:us-east-1:123456789012:function:orders-api:live",
    },
    "ResponseMetadata": {"HTTPStatusCode": 403},
}


@pytest.mark.parametrize("code", ["AccessDeniedException", "AccessDenied"])
def test_an_iam_refusal_becomes_access_denied_naming_the_operation(code: str) -> None:
    error = ClientError({**_DENIED, "Error": {**_DENIED["Error"], "Code": code}}, "GetAlias")

    with pytest.raises(AccessDenied, match=r"^GetAlias was denied"), translated("GetAlias"):
        raise error


class DeniedFunctions:
    """Lambda as IAM shows it to a control plane in tag mode for an untagged function."""

    def __init__(self) -> None:
        self.mutations: list[str] = []

    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
        with translated("GetAlias"):
            raise ClientError(_DENIED, "GetAlias")
        raise AssertionError("unreachable")

    def get_version(self, function_name: str, version: str) -> VersionInfo:
        raise AssertionError("nothing is read after the refusal")

    def publish_version(self, *args: Any) -> str:
        self.mutations.append("publish_version")
        return "3"

    def update_alias(self, *args: Any, **kwargs: Any) -> AliasSnapshot:
        self.mutations.append("update_alias")
        raise AssertionError("no alias is moved")


class NoAlarms:
    def states(self, names: Any) -> dict[str, Any]:
        return {}


def test_an_untagged_function_is_refused_at_preflight_with_the_tag_fix() -> None:
    functions = DeniedFunctions()
    with pytest.raises(PreflightFailed) as caught:
        prepare.prepare(
            {
                "functionName": "orders-api",
                "alias": "live",
                "publish": True,
                "strategy": "Canary10Percent5Minutes",
            },
            execution="arn:exec",
            started_at=1_800_000_000.0,
            functions=functions,  # type: ignore[arg-type]
            alarms=NoAlarms(),  # type: ignore[arg-type]
            ledger=InMemoryLedger(),
            events=ListEvents(),
            now=1_800_000_000.0,
        )
    message = str(caught.value)
    assert "may not read or shift orders-api" in message
    assert "--tags trafficshift:managed=true" in message
    assert functions.mutations == []  # nothing published, nothing shifted


def test_a_denied_function_is_said_to_be_untagged_or_missing_not_only_untagged() -> None:
    # Given a name IAM denies: in tag mode a function that does not exist has no tags, so
    # IAM denies it exactly as an untagged one (the policy's aws:ResourceTag condition)
    with pytest.raises(PreflightFailed) as caught:
        prepare.prepare(
            {
                "functionName": "orders-apx",  # a typo
                "alias": "live",
                "targetVersion": "2",
                "strategy": "AllAtOnce",
            },
            execution="arn:exec",
            started_at=1_800_000_000.0,
            functions=DeniedFunctions(),  # type: ignore[arg-type]
            alarms=NoAlarms(),  # type: ignore[arg-type]
            ledger=InMemoryLedger(),
            events=ListEvents(),
            now=1_800_000_000.0,
        )
    # Then the Cause says both, and to check the name, before the tag fix
    message = str(caught.value)
    assert "orders-apx: it is untagged, or does not exist" in message
    assert "check the name and the region" in message
    assert message.index("does not exist") < message.index("tag-resource")


def test_a_hook_the_control_plane_may_not_invoke_fails_with_the_tag_fix() -> None:
    class DeniedLambda:
        def invoke(self, **kwargs: Any) -> Any:
            raise ClientError(_DENIED, "Invoke")

    with pytest.raises(HookFailed, match="may not invoke the hook CodeDeployHook_x") as caught:
        HookInvoker(30, lambda_client=DeniedLambda()).invoke("CodeDeployHook_x", {})
    assert "tag the hook function" in str(caught.value)
    assert "CodeDeployHook_x: it is untagged, or does not exist" in str(caught.value)
