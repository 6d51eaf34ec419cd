"""Lambda: replace a function's code from S3, watch the update, publish the result."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rollout.adapters.aws import client, translated
from rollout.domain.artifact import CodeSigning, CodeState
from rollout.domain.errors import FunctionNotReady, NotFound, PreflightFailed

__all__ = ["FunctionCode"]


def _not_found(exc: ClientError) -> Exception:
    return NotFound(str(exc))


def _busy(exc: ClientError) -> Exception:
    # "The operation cannot be performed at this time. An update is in progress for
    # resource: ..." (Lambda's mid-update rule): wait and try again.
    return FunctionNotReady(str(exc))


def _changed(exc: ClientError) -> Exception:
    # A stale RevisionId: someone changed the function between our read and our update.
    return FunctionNotReady(f"the function changed while it was read: {exc}")


def _code_changed(exc: ClientError) -> Exception:
    # PublishVersion's CodeSha256 guard: $LATEST no longer holds the code we uploaded.
    return PreflightFailed(
        f"the function's code changed before it could be published ({exc}); nothing was "
        "published. Upload again when the other change is done"
    )


class FunctionCode:
    def __init__(self, lambda_client: Any | None = None) -> None:
        self._client = lambda_client or client("lambda")

    def configuration(self, function_name: str) -> CodeState:
        with translated("GetFunctionConfiguration", {"ResourceNotFoundException": _not_found}):
            config = self._client.get_function_configuration(FunctionName=function_name)
        return _code_state(config)

    def code_signing(self, function_name: str) -> CodeSigning:
        """The function's code signing config; an empty one when it has none.

        Lambda answers GetFunctionCodeSigningConfig for a function without a config with no
        (or an empty) CodeSigningConfigArn; a config deleted meanwhile counts as none.
        """
        with translated("GetFunctionCodeSigningConfig", {"ResourceNotFoundException": _not_found}):
            attached = self._client.get_function_code_signing_config(FunctionName=function_name)
        arn = str(attached.get("CodeSigningConfigArn") or "")
        if not arn:
            return CodeSigning()
        try:
            with translated("GetCodeSigningConfig", {"ResourceNotFoundException": _not_found}):
                config = self._client.get_code_signing_config(CodeSigningConfigArn=arn)
        except NotFound:
            return CodeSigning()
        found = config.get("CodeSigningConfig") or {}
        return CodeSigning(
            config_arn=arn,
            allowed_publishers=tuple(
                (found.get("AllowedPublishers") or {}).get("SigningProfileVersionArns") or ()
            ),
            untrusted_artifact_on_deployment=str(
                (found.get("CodeSigningPolicies") or {}).get("UntrustedArtifactOnDeployment")
                or "Warn"  # Lambda's default when the policy is not given
            ),
        )

    def update_from_s3(
        self, function_name: str, *, bucket: str, key: str, version_id: str, revision_id: str
    ) -> CodeState:
        """UpdateFunctionCode from one object version, refused if the function changed since
        `revision_id` was read."""
        request: dict[str, Any] = {
            "FunctionName": function_name,
            "S3Bucket": bucket,
            "S3Key": key,
            "S3ObjectVersion": version_id,
        }
        if revision_id:
            request["RevisionId"] = revision_id
        with translated(
            "UpdateFunctionCode",
            {
                "ResourceNotFoundException": _not_found,
                "ResourceConflictException": _busy,
                "PreconditionFailedException": _changed,
            },
        ):
            return _code_state(self._client.update_function_code(**request))

    def publish(self, function_name: str, code_sha256: str, description: str) -> str:
        """Publish $LATEST only if it still holds `code_sha256`."""
        with translated(
            "PublishVersion",
            {
                "ResourceNotFoundException": _not_found,
                "ResourceConflictException": _busy,
                "InvalidParameterValueException": _code_changed,
            },
        ):
            published = self._client.publish_version(
                FunctionName=function_name, CodeSha256=code_sha256, Description=description
            )
        return str(published["Version"])


def _code_state(config: dict[str, Any]) -> CodeState:
    return CodeState(
        code_sha256=str(config.get("CodeSha256", "")),
        revision_id=str(config.get("RevisionId", "")),
        package_type=str(config.get("PackageType", "Zip")),
        state=str(config.get("State", "Active")),
        last_update_status=str(config.get("LastUpdateStatus", "Successful")),
        last_update_status_reason=str(config.get("LastUpdateStatusReason", "")),
        last_update_status_reason_code=str(config.get("LastUpdateStatusReasonCode", "")),
    )
