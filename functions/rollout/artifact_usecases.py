"""The use cases of deploying an uploaded zip: the trigger, UpdateCode and PublishArtifact.

Kept apart from the rollout's tasks because they run before a rollout
exists: they end either in Prepare's input, the console's contract with a `targetVersion`,
or in an error that Revert turns into the execution's Error and Cause, with nothing moved.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field

from rollout.application.ports import CodePort, ObjectsPort, WorkflowPort
from rollout.domain import artifact as domain
from rollout.domain import budget
from rollout.domain.artifact import (
    ArtifactSource,
    ArtifactState,
    CodeUpdate,
    Defaults,
)
from rollout.domain.errors import FunctionNotReady, InvalidInput, NotFound


class ArtifactSettings(BaseModel):
    """What the construct configures, read from the environment when the handler runs."""

    model_config = ConfigDict(frozen=True)

    bucket: str = ""  # UpdateCode's: the only bucket it deploys from
    defaults: Defaults = Field(default_factory=Defaults)
    code_update_timeout_seconds: int = Field(default=600, ge=1)
    # With the construct's code_signing: the profile version every target must enforce.
    signing_profile_version_arn: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ArtifactSettings:
        env = os.environ if environ is None else environ
        strategy_text = env.get("TRAFFICSHIFT_DEFAULT_STRATEGY", "Canary10Percent5Minutes")
        strategy: Any = (
            json.loads(strategy_text) if strategy_text.lstrip().startswith("{") else strategy_text
        )
        return cls(
            bucket=env.get("TRAFFICSHIFT_ARTIFACT_BUCKET", ""),
            defaults=Defaults(
                alias=env.get("TRAFFICSHIFT_DEFAULT_ALIAS", "live"),
                strategy=strategy,
                poll_interval_seconds=int(
                    env.get("TRAFFICSHIFT_DEFAULT_POLL_INTERVAL_SECONDS", "30")
                ),
            ),
            code_update_timeout_seconds=int(
                env.get("TRAFFICSHIFT_CODE_UPDATE_TIMEOUT_SECONDS", "600")
            ),
            signing_profile_version_arn=env.get("TRAFFICSHIFT_SIGNING_PROFILE_VERSION_ARN", ""),
        )


# --- the trigger ------------------------------------------------------------------------


def start_from_upload(
    event: Mapping[str, Any], *, workflow: WorkflowPort, state_machine_arn: str
) -> dict[str, Any]:
    """S3 "Object Created" (via EventBridge) -> the one execution this object version names.

    Every delivered upload starts its execution, good or bad: the execution validates it and
    fails with the problem named, so every upload has one place to look.
    """
    detail = event.get("detail") or {}
    bucket = str((detail.get("bucket") or {}).get("name", ""))
    obj = detail.get("object") or {}
    key = str(obj.get("key", ""))
    version_id = str(obj.get("version-id") or "null")
    if not bucket or not key:
        raise ValueError(f"not an S3 Object Created event: {json.dumps(event)[:500]}")
    name = domain.execution_name(bucket, key, version_id)
    payload = {"artifact": {"bucket": bucket, "key": key, "versionId": version_id}}
    arn, started = workflow.start(state_machine_arn, name, payload)
    return {"executionArn": arn, "started": started, **payload}


# --- UpdateCode --------------------------------------------------------------------------


def update_code(
    event: Mapping[str, Any],
    *,
    objects: ObjectsPort,
    functions: CodePort,
    workflow: WorkflowPort,
    settings: ArtifactSettings,
    now: float,
) -> dict[str, Any]:
    """Validate the upload, then replace $LATEST's code with it; publish nothing yet.

    Everything that can be refused is refused before UpdateFunctionCode, so a bad upload
    changes nothing: not the alias, not $LATEST.
    """
    raw = event.get("input")
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            "input",
            f"must be a JSON object, got {type(raw).__name__}",
            'start the execution with {"artifact": {"bucket": ..., "key": ..., "versionId": ...}}',
        )
    source = domain.parse_source(raw.get("artifact"))
    if not settings.bucket:
        raise RuntimeError("TRAFFICSHIFT_ARTIFACT_BUCKET is not set: the construct sets it")
    if source.bucket != settings.bucket:
        raise InvalidInput(
            "artifact.bucket",
            f"{source.bucket!r} is not this control plane's artifact bucket",
            f"upload to s3://{settings.bucket}/{domain.KEY_CONVENTION}",
        )
    domain.function_of_key(source.key)  # the key first: its problem is the one to name
    source, info = _head(objects, source)
    manifest = domain.parse_manifest(info.metadata.get(domain.MANIFEST_METADATA_KEY))
    parsed, _ = domain.resolve_request(
        {**raw, "artifact": source.wire()}, manifest=manifest, defaults=settings.defaults
    )
    function = parsed.function_name
    domain.check_object_size(info.size)

    me = str(event.get("executionId", ""))
    if me:
        others = domain.rivals(
            function,
            me=me,
            my_start=_epoch(event.get("executionStartTime"), default=now),
            running=workflow.running(_state_machine_of(me)),
        )
        if others:
            raise domain.refuse_for(function, others)

    try:
        code = functions.configuration(function)
    except NotFound:
        raise InvalidInput(
            "functionName",
            f"no Lambda function is named {function!r} in this account and region "
            f"(from the key {source.key!r})",
            f"create the function first, or upload to an existing function's folder "
            f"({domain.KEY_CONVENTION})",
        ) from None
    domain.check_updatable(function, code)
    if settings.signing_profile_version_arn:
        domain.check_code_signing(
            function, functions.code_signing(function), settings.signing_profile_version_arn
        )
    if code.last_update_status == "InProgress":
        raise FunctionNotReady(f"{function} is being updated; waiting before replacing its code")

    with tempfile.TemporaryFile() as archive:
        objects.download(source.bucket, source.key, source.version_id, archive)
        archive.seek(0)
        domain.check_zip(archive, info.size)

    updated = functions.update_from_s3(
        function,
        bucket=source.bucket,
        key=source.key,
        version_id=source.version_id,
        revision_id=code.revision_id,
    )
    ready = updated.last_update_status in ("Successful", "")
    update = CodeUpdate(
        code_sha256=updated.code_sha256,
        started_at=now,
        wait_seconds=0 if ready else domain.update_wait_seconds(0),
    )
    request = parsed.request.to_wire()
    request.pop("artifact", None)
    return ArtifactState(request=request, artifact=source, update=update).wire()


def _head(objects: ObjectsPort, source: ArtifactSource) -> tuple[ArtifactSource, Any]:
    """The object version, whose key may come URL-encoded (as S3's notifications encode it)."""
    candidates = [source.key]
    if unquote_plus(source.key) != source.key:
        candidates.append(unquote_plus(source.key))
    for key in candidates:
        try:
            info = objects.head(source.bucket, key, source.version_id)
        except NotFound:
            continue
        return source.model_copy(update={"key": key}), info
    raise InvalidInput(
        "artifact",
        f"there is no object s3://{source.bucket}/{source.key} with version {source.version_id!r}",
        "give the key and version id that S3 returned for the upload",
    )


# --- PublishArtifact ----------------------------------------------------------------------


def publish_artifact(
    event: Mapping[str, Any], *, functions: CodePort, settings: ArtifactSettings, now: float
) -> dict[str, Any]:
    """Publish the uploaded code once Lambda has applied it, or ask for another wait.

    Returns Prepare's input (the request with `targetVersion`) when published, else the same
    state with the next `update.waitSeconds`.
    """
    state = ArtifactState.model_validate(event["state"])
    function = str(state.request["functionName"])
    code = functions.configuration(function)
    following = domain.next_update_check(
        function,
        state.update,
        code,
        now=now,
        timeout_seconds=settings.code_update_timeout_seconds,
    )
    if following is not None:
        # The WaitForCode loop's share of the history budget: its waits stretch so the
        # construct's code_update_timeout is covered within CODE_MAX_POLLS looks.
        remaining = settings.code_update_timeout_seconds - (now - state.update.started_at)
        wait = budget.code_wait(
            following.wait_seconds,
            polls=following.polls,
            remaining_seconds=remaining,
            steady_seconds=domain.update_wait_seconds(following.polls + 1_000),
        )
        following = following.model_copy(update={"wait_seconds": min(wait, max(1, remaining))})
        return state.model_copy(update={"update": following}).wire()
    a = state.artifact
    description = f"trafficshift upload s3://{a.bucket}/{a.key} ({a.version_id})"
    version = functions.publish(function, state.update.code_sha256, description[-256:])
    return domain.request_for_prepare(state.request, version)


# --- helpers ------------------------------------------------------------------------------


def _state_machine_of(execution_arn: str) -> str:
    # arn:aws:states:<region>:<account>:execution:<state machine>:<execution>
    head, _, _ = execution_arn.rpartition(":")
    return head.replace(":execution:", ":stateMachine:", 1)


def _epoch(value: Any, *, default: float) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return default
    return default
