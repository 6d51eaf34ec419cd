"""Lambda control-plane calls: aliases, versions, publishing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rollout.adapters.aws import client, translated
from rollout.domain.errors import FunctionNotReady, NotFound
from rollout.domain.rollout import AliasSnapshot, VersionInfo


def _not_found(exc: Exception) -> Exception:
    return NotFound(str(exc))


def _not_ready(exc: Exception) -> Exception:
    # 409 ResourceConflictException: the function is being updated ("An update is in
    # progress for resource") or is not Active yet ("currently in the following state:
    # Pending"); Lambda guide "Lambda function states". It passes: the state machine retries.
    return FunctionNotReady(str(exc))


_WRITE_ERRORS: dict[str, Callable[[ClientError], Exception]] = {
    "ResourceNotFoundException": _not_found,
    "ResourceConflictException": _not_ready,
}


class LambdaFunctions:
    def __init__(self, lambda_client: Any | None = None) -> None:
        self._client = lambda_client or client("lambda")

    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
        with translated("GetAlias", {"ResourceNotFoundException": _not_found}):
            found = self._client.get_alias(FunctionName=function_name, Name=alias)
        return _alias(found)

    def get_version(self, function_name: str, version: str) -> VersionInfo:
        with translated("GetFunctionConfiguration", {"ResourceNotFoundException": _not_found}):
            config = self._client.get_function_configuration(
                FunctionName=function_name, Qualifier=version
            )
        return VersionInfo(
            version=str(config.get("Version", version)),
            code_sha256=config.get("CodeSha256", ""),
            role=config.get("Role", ""),
            dead_letter_target=(config.get("DeadLetterConfig") or {}).get("TargetArn"),
            state=config.get("State", "Active"),
            last_update_status=config.get("LastUpdateStatus", "Successful"),
            state_reason=config.get("StateReason", ""),
            state_reason_code=config.get("StateReasonCode", ""),
            last_update_status_reason=config.get("LastUpdateStatusReason", ""),
        )

    def publish_version(self, function_name: str, code_sha256: str, description: str) -> str:
        """Publish $LATEST, guarded so that only the code we looked at can be published."""
        with translated("PublishVersion", _WRITE_ERRORS):
            published = self._client.publish_version(
                FunctionName=function_name, CodeSha256=code_sha256, Description=description
            )
        return str(published["Version"])

    def update_alias(
        self,
        function_name: str,
        alias: str,
        *,
        primary: str,
        additional: dict[str, float],
        revision_id: str,
    ) -> AliasSnapshot:
        """Set the alias's routing, refused by Lambda if the alias changed since revision_id."""
        with translated("UpdateAlias", _WRITE_ERRORS):
            updated = self._client.update_alias(
                FunctionName=function_name,
                Name=alias,
                FunctionVersion=primary,
                RoutingConfig={"AdditionalVersionWeights": additional},
                RevisionId=revision_id,
            )
        return _alias(updated)


def _alias(found: dict[str, Any]) -> AliasSnapshot:
    # After a promote, RoutingConfig comes back as {"AdditionalVersionWeights": {}} or not
    # at all, depending on who answers (moto drops it): both mean "no split".
    weights = (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return AliasSnapshot(
        function_version=str(found["FunctionVersion"]),
        additional_weights={str(k): float(v) for k, v in weights.items()},
        revision_id=str(found.get("RevisionId", "")),
    )
