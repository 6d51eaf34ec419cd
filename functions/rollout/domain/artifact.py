"""Deploying an uploaded zip: the key convention, the manifest, the execution name, the zip.

Pure functions: no AWS call. The adapters read the object, its metadata and the function's
state; these functions decide what that means, and name every problem as `InvalidInput`
(the upload must be fixed) or `PreflightFailed` (the world is not ready: try again later).

The convention (README, "Deploy by uploading an artifact"):

* the key is ``<function-name>/<anything>.zip``: the folder names the function;
* the manifest is optional object metadata, ``x-amz-meta-trafficshift``, holding the
  console's input contract without ``functionName`` and the target (the upload is the
  target), e.g. ``{"alias": "live", "strategy": "Canary10Percent5Minutes"}``;
* what neither the input nor the manifest gives comes from the construct's defaults.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from rollout.domain.alias_ref import FUNCTION_NAME, function_name_of
from rollout.domain.errors import InvalidInput, PreflightFailed, shown
from rollout.domain.request import DeploymentRequest, ParsedRequest, parse_request

KEY_CONVENTION = "<function-name>/<anything>.zip"
# The rule's EventBridge pattern for the convention (a wildcard: `*` spans `/` as well).
KEY_WILDCARD = "*/*.zip"
# S3 user metadata `x-amz-meta-trafficshift`; boto3's Metadata dict names it without prefix.
MANIFEST_METADATA_KEY = "trafficshift"
MANIFEST_HEADER = f"x-amz-meta-{MANIFEST_METADATA_KEY}"
# S3 limits all user-defined metadata of an object to 2 KB (keys and values, UTF-8).
MAX_METADATA_BYTES = 2048
# The console's fields, but for the function (the key's folder) and the target (the upload).
_NOT_IN_MANIFEST = ("functionName", "targetVersion", "publish", "artifact")
MANIFEST_FIELDS = tuple(
    name
    for name in (f.alias or n for n, f in DeploymentRequest.model_fields.items())
    if name not in _NOT_IN_MANIFEST
)
# Lambda quotas: a deployment package unzips to at most 250 MB (function and layers).
MAX_UNZIPPED_BYTES = 262_144_000
# Step Functions: an execution name has 1-80 characters; these are safe in every console,
# log and ARN (no whitespace, brackets, wildcards, `:` or `/`).
MAX_EXECUTION_NAME = 80
_DIGEST_CHARS = 24  # 96 bits: a collision between two uploads is not a practical concern
_NAME_PREFIX_CHARS = MAX_EXECUTION_NAME - 1 - _DIGEST_CHARS
_KEY_FIX = f"upload the zip to {KEY_CONVENTION}, e.g. orders-api/build-42.zip"
_MANIFEST_FIX = (
    f"set {MANIFEST_HEADER} to a JSON object with any of {', '.join(MANIFEST_FIELDS)}, "
    'e.g. {"alias": "live", "strategy": "Canary10Percent5Minutes"}, or leave it out'
)
_ZIP_FIX = "build the zip again (e.g. `zip -r build.zip .`) and upload it again"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class ArtifactSource(_Model):
    """One object version in the artifact bucket: what an upload deploys."""

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    version_id: str = Field(min_length=1)


class Defaults(_Model):
    """The construct's defaults for what neither the input nor the manifest gives."""

    alias: str = "live"
    strategy: str | dict[str, Any] = "Canary10Percent5Minutes"
    poll_interval_seconds: int = 30


class CodeState(_Model):
    """$LATEST's code and update status, as GetFunctionConfiguration reports them."""

    model_config = ConfigDict(extra="ignore")

    code_sha256: str = ""
    revision_id: str = ""
    package_type: str = "Zip"
    state: str = "Active"
    last_update_status: str = "Successful"
    last_update_status_reason: str = ""
    last_update_status_reason_code: str = ""


class CodeSigning(_Model):
    """A function's code signing config, as GetFunctionCodeSigningConfig and
    GetCodeSigningConfig report it; `config_arn` empty when the function has none."""

    model_config = ConfigDict(extra="ignore")

    config_arn: str = ""
    allowed_publishers: tuple[str, ...] = ()  # signing profile version ARNs
    untrusted_artifact_on_deployment: str = ""  # "Enforce" or "Warn"


class ZipSummary(_Model):
    files: int
    unzipped_bytes: int


class CodeUpdate(_Model):
    """Where the code update stands between UpdateCode and PublishArtifact."""

    code_sha256: str  # what UpdateFunctionCode returned: the only code we may publish
    started_at: float  # epoch seconds, for the timeout
    polls: int = 0
    wait_seconds: int = 0  # the next WaitForCode's length


class ArtifactState(_Model):
    """The state document from UpdateCode to PublishArtifact (then Prepare's input)."""

    request: dict[str, Any]  # the console's input, resolved, without its target
    artifact: ArtifactSource
    update: CodeUpdate


# --- the upload ---------------------------------------------------------------------------


def parse_source(raw: Any) -> ArtifactSource:
    """The input's `artifact` object, or InvalidInput naming what is wrong with it."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            "artifact",
            f"must be a JSON object, got {shown(raw)}",
            'give {"bucket": "...", "key": "<function>/<name>.zip", "versionId": "..."}',
        )
    for field in ("bucket", "key", "versionId"):
        value = raw.get(field)
        if not isinstance(value, str) or not value:
            problem = (
                "is required" if value is None else f"is not a non-empty string: {shown(value)}"
            )
            raise InvalidInput(
                f"artifact.{field}",
                problem,
                "give the bucket, key and version id that S3 returned for the upload",
            )
    extra = sorted(set(raw) - {"bucket", "key", "versionId"})
    if extra:
        raise InvalidInput(
            f"artifact.{extra[0]}",
            "is not a field of artifact",
            "remove it; the fields are bucket, key and versionId",
        )
    return ArtifactSource(bucket=raw["bucket"], key=raw["key"], version_id=raw["versionId"])


def function_of_key(key: str) -> str:
    """The function an artifact key names: `orders-api/build-42.zip` -> `orders-api`."""
    folder, slash, rest = key.partition("/")
    if not slash:
        raise InvalidInput(
            "artifact.key",
            f"{shown(key)} is not inside a function's folder ({KEY_CONVENTION})",
            _KEY_FIX,
        )
    if not FUNCTION_NAME.fullmatch(folder):
        raise InvalidInput(
            "artifact.key",
            f"its folder {shown(folder)} is not a Lambda function name "
            "(1-64 letters, digits, '-' or '_')",
            _KEY_FIX,
        )
    if not rest.endswith(".zip") or rest == ".zip":
        raise InvalidInput(
            "artifact.key",
            f"{shown(key)} does not end in <name>.zip ({KEY_CONVENTION})",
            _KEY_FIX,
        )
    return folder


def execution_name(bucket: str, key: str, version_id: str | None) -> str:
    """The execution an object version starts: the same for the same upload, at most 80
    characters, readable: `<function>-<hash of bucket, key, version>`.

    A second delivery of the same S3 event computes the same name, and Step Functions
    starts nothing new for a name it already has (ExecutionAlreadyExists).
    """
    identity = json.dumps([bucket, key, version_id or "null"], separators=(",", ":"))
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
    folder = key.partition("/")[0]
    prefix = folder if "/" in key and FUNCTION_NAME.fullmatch(folder) else "upload"
    return f"{prefix[:_NAME_PREFIX_CHARS]}-{digest[:_DIGEST_CHARS]}"


def code_sha256(code: bytes) -> str:
    """The CodeSha256 Lambda reports for a zip: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode("ascii")


def parse_manifest(text: str | None) -> dict[str, Any]:
    """The manifest from the object's metadata (None: no manifest)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        where = (
            f" ({exc.msg} at line {exc.lineno} column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise InvalidInput(
            "manifest", f"is not valid JSON{where}: {shown(text)}", _MANIFEST_FIX
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("manifest", f"must be a JSON object, got {shown(value)}", _MANIFEST_FIX)
    for key in value:
        if key in ("targetVersion", "publish", "artifact"):
            raise InvalidInput(
                f"manifest.{key}",
                "cannot be set: the uploaded zip is what is rolled out",
                "remove it from the manifest",
            )
        if key not in (*MANIFEST_FIELDS, "functionName"):
            raise InvalidInput(
                f"manifest.{shown(key) if not isinstance(key, str) else key}",
                "is not a field of the manifest",
                f"remove it; the fields are {', '.join(MANIFEST_FIELDS)}",
            )
    return value


def resolve_request(
    raw_input: Mapping[str, Any], *, manifest: Mapping[str, Any], defaults: Defaults
) -> tuple[ParsedRequest, ArtifactSource]:
    """The console-equivalent request an upload stands for, validated.

    Precedence: the execution's input, then the manifest, then the construct's defaults; the
    function is the key's folder (a `functionName` given anywhere must name the same one).
    """
    source = parse_source(raw_input.get("artifact"))
    function = function_of_key(source.key)
    for origin, given in (
        ("functionName", raw_input.get("functionName")),
        ("manifest.functionName", manifest.get("functionName")),
    ):
        if given is not None and function_name_of(given) != function:
            raise InvalidInput(
                origin,
                f"is {shown(given)} but the artifact's key {shown(source.key)} names {function}",
                f"upload to {function}'s folder only the code of {function}",
            )
    merged: dict[str, Any] = {
        "alias": defaults.alias,
        "strategy": defaults.strategy,
        "pollIntervalSeconds": defaults.poll_interval_seconds,
    }
    merged.update({k: v for k, v in manifest.items() if k != "functionName"})
    merged.update(raw_input)
    merged.setdefault("functionName", function)
    try:
        parsed = parse_request(merged)
    except InvalidInput as exc:
        top = re.split(r"[.\[]", exc.field, maxsplit=1)[0]
        if top in manifest and top not in raw_input:
            raise InvalidInput(f"manifest.{exc.field}", exc.problem, exc.fix) from None
        raise
    return parsed, source


def validate_defaults(defaults: Defaults) -> None:
    """The construct's defaults, checked at synth: every upload would fail on a bad one.

    Raises InvalidInput naming the field, as a request with these values would.
    """
    parse_request(
        {
            "functionName": "any-function",
            "alias": defaults.alias,
            "strategy": defaults.strategy,
            "pollIntervalSeconds": defaults.poll_interval_seconds,
            "publish": True,
        }
    )


def request_for_prepare(request: Mapping[str, Any], version: str) -> dict[str, Any]:
    """What Prepare gets after the publish: the console's input, with the new version."""
    resolved = {k: v for k, v in request.items() if k not in ("artifact", "publish")}
    resolved["targetVersion"] = version
    return resolved


def function_of_input(raw: Any) -> str | None:
    """The function a deployment's execution input is about, if it names one."""
    if not isinstance(raw, Mapping):
        return None
    named = function_name_of(raw.get("functionName"))
    if named:
        return named
    source = raw.get("artifact")
    key = source.get("key") if isinstance(source, Mapping) else None
    if isinstance(key, str):
        folder, slash, _ = key.partition("/")
        return folder if slash and FUNCTION_NAME.fullmatch(folder) else None
    return None


# --- the object ---------------------------------------------------------------------------


def check_object_size(size: int) -> None:
    if size <= 0:
        raise InvalidInput("artifact", "the object is empty (0 bytes)", _ZIP_FIX)
    if size > MAX_UNZIPPED_BYTES:
        raise InvalidInput(
            "artifact",
            f"the object has {size:,} bytes; a Lambda deployment package unzips to at most "
            f"{MAX_UNZIPPED_BYTES:,} bytes (250 MB)",
            "make the package smaller: move dependencies to layers, or use a container image",
        )


def check_zip(archive: IO[bytes], size: int) -> ZipSummary:
    """A zip that Lambda can unzip: not empty, not corrupt, under Lambda's size quota."""
    check_object_size(size)
    try:
        opened = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InvalidInput("artifact", f"is not a zip archive ({exc})", _ZIP_FIX) from None
    with opened:
        members = [info for info in opened.infolist() if not info.is_dir()]
        if not members:
            raise InvalidInput("artifact", "the zip holds no files", _ZIP_FIX)
        unzipped = sum(info.file_size for info in members)
        if unzipped > MAX_UNZIPPED_BYTES:
            raise InvalidInput(
                "artifact",
                f"the zip unzips to {unzipped:,} bytes; Lambda takes at most "
                f"{MAX_UNZIPPED_BYTES:,} bytes (250 MB)",
                "make the package smaller: move dependencies to layers, or use a container image",
            )
        # Checked against the declared sizes first, so a zip bomb is refused unread.
        try:
            bad = opened.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise InvalidInput("artifact", f"the zip is corrupt ({exc})", _ZIP_FIX) from None
        except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
            raise InvalidInput(
                "artifact", f"the zip cannot be read ({exc})", "upload a zip without a password"
            ) from None
        if bad is not None:
            raise InvalidInput(
                "artifact", f"the zip is corrupt: {shown(bad)} fails its CRC check", _ZIP_FIX
            )
    return ZipSummary(files=len(members), unzipped_bytes=unzipped)


# --- the function -------------------------------------------------------------------------


def check_updatable(function: str, code: CodeState) -> None:
    """Refuse what UpdateFunctionCode from S3 cannot do; `FunctionNotReady` is retried."""
    if code.package_type != "Zip":
        raise InvalidInput(
            "artifact",
            f"{function} is a {code.package_type} function; a zip cannot replace its code",
            "deploy container images by publishing a version and giving targetVersion",
        )


def check_code_signing(function: str, signing: CodeSigning, profile_version_arn: str) -> None:
    """With code signing on, deploy only to a function that Lambda will hold to this control
    plane's signing profile: a code signing config that enforces (not warns) and allows the
    profile version. Then an unsigned or foreign-signed upload fails in Lambda's
    UpdateFunctionCode, and this check makes sure that guard is there before anything runs.
    """
    fix = (
        f"attach a code signing config with UntrustedArtifactOnDeployment Enforce that allows "
        f"{profile_version_arn} (the stack's CodeSigningConfigArn output does) to {function}, "
        "then upload the signed zip again"
    )
    problem = ""
    if not signing.config_arn:
        problem = f"{function} has no code signing config"
    elif signing.untrusted_artifact_on_deployment != "Enforce":
        problem = (
            f"the code signing config of {function} ({signing.config_arn}) does not enforce: "
            "its UntrustedArtifactOnDeployment is "
            f"{shown(signing.untrusted_artifact_on_deployment)}"
        )
    elif profile_version_arn not in signing.allowed_publishers:
        problem = (
            f"the code signing config of {function} ({signing.config_arn}) does not allow "
            f"this control plane's signing profile {profile_version_arn}"
        )
    if problem:
        raise PreflightFailed(
            f"code signing: {problem}; this control plane deploys uploads only to functions "
            f"that enforce its signing profile, and nothing was changed. Fix: {fix}"
        )


def update_wait_seconds(polls: int) -> int:
    """How long WaitForCode waits before the next look: 1, 2, 3, 4, then every 5 s."""
    return min(1 + polls, 5)


def next_update_check(
    function: str, update: CodeUpdate, code: CodeState, *, now: float, timeout_seconds: int
) -> CodeUpdate | None:
    """After UpdateFunctionCode: None when the code is ready to publish, else the next wait.

    Raises when it never will be: Lambda failed to apply the code, someone else's update
    replaced ours, or the update is still running after `timeout_seconds`.
    """
    if code.last_update_status == "Failed":
        reason = code.last_update_status_reason or "no reason given"
        if code.last_update_status_reason_code:
            reason += f" ({code.last_update_status_reason_code})"
        raise InvalidInput(
            "artifact", f"Lambda could not apply the code to {function}: {reason}", _ZIP_FIX
        )
    if code.code_sha256 and code.code_sha256 != update.code_sha256:
        raise PreflightFailed(
            f"the code of {function} changed while this upload was applied: $LATEST has "
            f"CodeSha256 {code.code_sha256}, this upload {update.code_sha256}. Another update "
            "replaced it; nothing was published. Upload again when the other change is done"
        )
    if code.last_update_status in ("Successful", ""):
        return None
    waited = now - update.started_at
    if waited >= timeout_seconds:
        raise PreflightFailed(
            f"the code update of {function} is still {code.last_update_status} after "
            f"{math.floor(waited)} s (the limit is {timeout_seconds} s); nothing was published"
        )
    polls = update.polls + 1
    wait = min(update_wait_seconds(polls), max(1, math.ceil(timeout_seconds - waited)))
    return update.model_copy(update={"polls": polls, "wait_seconds": wait})


# --- one rollout per function at a time -----------------------------------------------------


class RunningExecution(_Model):
    model_config = ConfigDict(extra="ignore")

    arn: str
    name: str
    started_at: float  # epoch seconds
    function: str | None = None


def rivals(
    function: str,
    *,
    me: str,
    my_start: float,
    running: Sequence[RunningExecution],
) -> list[RunningExecution]:
    """The running rollouts of `function` that this execution must give way to.

    Only those that started first (ties broken by name): of two uploads that see each
    other, the earlier goes on and the later is refused, never both.
    """
    my_name = me.rsplit(":", 1)[-1]
    return [
        other
        for other in running
        if other.arn != me
        and other.function == function
        and (other.started_at, other.name) < (my_start, my_name)
    ]


def refuse_for(function: str, others: Sequence[RunningExecution]) -> PreflightFailed:
    names = ", ".join(other.name for other in others[:3])
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    return PreflightFailed(
        f"a rollout of {function} is already running ({names}{more}); this upload changed "
        "nothing. Upload it again when that rollout has finished"
    )
