"""Lambda: where moto differs from AWS Lambda, the emulator follows Lambda."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import os
import re
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import (
    InvalidParameterValueException,
    LambdaClientError,
    PreconditionFailedException,
    UnknownFunctionException,
    ValidationException,
)
from moto.awslambda.models import LambdaAlias, LambdaBackend, LambdaFunction, LambdaStorage
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.responses import BaseResponse

from trafficshift.emulator import lambda_metrics, lambda_runtime
from trafficshift.emulator.fidelity._common import (
    _STALE_REVISION,
    InvalidRequestContentException,
    ResourceConflictException,
    _control_plane_lock,
    _Replacement,
    _routing_rng,
)

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Helpers shared by the patches
# --------------------------------------------------------------------------------------


def _name_and_qualifier(name_or_arn: str, qualifier: str | None) -> tuple[str, str | None]:
    """`f`, `f:q`, `arn:...:function:f[:q]`, `123456789012:function:f[:q]` -> (f, q).

    As moto does, a qualifier inside the name wins over the `Qualifier` argument.
    """
    tail = name_or_arn.split(":function:", 1)[1] if ":function:" in name_or_arn else name_or_arn
    name, sep, embedded = tail.partition(":")
    return name, (embedded if sep else None) or qualifier


def _aliases_of(backend: LambdaBackend, function_name: str) -> dict[str, LambdaAlias]:
    try:
        return backend._lambdas._get_function_aliases(function_name)
    except UnknownFunctionException:
        return {}


def _weights(routing_config: Any) -> dict[str, Any]:
    if not isinstance(routing_config, Mapping):
        return {}
    weights = routing_config.get("AdditionalVersionWeights") or {}
    return dict(weights) if isinstance(weights, Mapping) else {}


def _json_body(response: LambdaResponse) -> dict[str, Any]:
    body = response.body
    if not body:
        return {}
    parsed = json.loads(body)
    return parsed if isinstance(parsed, dict) else {}


def _validate_routing(
    backend: LambdaBackend, function_name: str, primary: str, routing_config: Any
) -> None:
    """AWS's checks on an alias's RoutingConfig, in AWS's order."""
    weights = _weights(routing_config)
    if not weights:
        return
    if len(weights) > 1:
        raise InvalidParameterValueException(
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        )
    primary_fn = backend.get_function(function_name, primary)
    for version, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ValidationException(
                f"{{{version}={weight}}}",
                "routingConfig.additionalVersionWeights",
                "Map value must satisfy constraint: [Member must have value less than or "
                "equal to 1.0, Member must have value greater than or equal to 0.0, "
                "Member must not be null]",
            )
        if version == primary:
            raise InvalidParameterValueException(
                f"Invalid function version {primary}. Function version {primary} is already "
                "included in routing configuration."
            )
        if primary == "$LATEST":
            raise InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        if not re.fullmatch(r"[0-9]+", str(version)):
            raise ValidationException(
                f"{{{version}={weight}}}",
                "routingConfig.additionalVersionWeights",
                "Map keys must satisfy constraint: [Member must have length less than or "
                "equal to 1024, Member must have length greater than or equal to 1, Member "
                "must satisfy regular expression pattern: [0-9]+, Member must not be null]",
            )
        additional_fn = backend.get_function(function_name, str(version))  # 404 if missing
        if additional_fn.role != primary_fn.role:
            raise InvalidParameterValueException(
                "Specified versions must be associated with the same execution role"
            )


def _pick_version(alias: LambdaAlias) -> str:
    weights = _weights(alias.routing_config)
    draw = _routing_rng.random()
    cumulative = 0.0
    for version, weight in weights.items():
        cumulative += float(weight)
        if draw < cumulative:
            return str(version)
    return str(alias.function_version)


def _header(headers: Any, name: str) -> str | None:
    """A request header, whatever its case (botocore's and werkzeug's headers differ)."""
    for key, value in (headers or {}).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def _error_payload(error_type: str, message: str, request_id: str, exc: BaseException) -> bytes:
    # Only the function's own frames, as the Lambda runtime reports them.
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename not in (__file__, lambda_runtime.__file__)
    ]
    stack = traceback.format_list(frames)
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": [line.rstrip("\n") for line in stack],
        }
    ).encode()


def _platform_error(error_type: str, message: str, request_id: str) -> bytes:
    """An error the Lambda service reports for the sandbox, not the function's code: no
    stack trace, and the message prefixed with the request id, as Lambda sends it."""
    text = f"RequestId: {request_id} Error: {message}"
    return json.dumps({"errorMessage": text, "errorType": error_type}).encode()


def _resolve_handler(fn: LambdaFunction) -> lambda_runtime.Handler:
    if lambda_runtime.is_package_function(fn.function_name):
        return lambda_runtime.load_package_handler(fn.handler or "")
    return lambda_runtime.load_zip_handler(fn.code_bytes, fn.handler or "", fn.code_sha_256)


def _runtime_environment(
    backend: LambdaBackend, fn: LambdaFunction, context: lambda_runtime.LambdaContext
) -> dict[str, str]:
    # The X-Ray daemon is not there; a function's own settings may still turn tracing on.
    defaults = {"POWERTOOLS_TRACE_DISABLED": "true"}
    reserved = {
        "AWS_REGION": backend.region_name,
        "AWS_DEFAULT_REGION": backend.region_name,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
    }
    variables = {k: str(v) for k, v in (fn.environment_vars or {}).items()}
    return {**defaults, **variables, **reserved}


def _decode_event(body: Any) -> Any:
    if body is None or body in (b"", ""):
        return {}
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else str(body)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {exc}"
        ) from exc


def _run_in_process(
    backend: LambdaBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, Any],
) -> bytes:
    name, effective_qualifier = _name_and_qualifier(function_name, qualifier)
    # moto's own resolution first: same ResourceNotFoundException for unknown names.
    executed = backend.get_function(function_name, qualifier)
    alias = _aliases_of(backend, name).get(effective_qualifier or "")
    if alias is not None:
        executed = backend.get_function(name, _pick_version(alias))
    _refuse_unless_active(executed)  # a SnapStart version still Pending, or Failed
    executed_version = str(executed.version)
    response_headers["x-amz-executed-version"] = executed_version

    invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type == "DryRun":
        return b""
    event = _decode_event(body)

    invoked_arn = f"arn:{executed.partition}:lambda:{backend.region_name}:{backend.account_id}"
    invoked_arn += f":function:{name}" + (f":{effective_qualifier}" if effective_qualifier else "")
    context = lambda_runtime.LambdaContext(
        function_name=executed.function_name,
        function_version=executed_version,
        invoked_function_arn=invoked_arn,
        memory_limit_in_mb=int(executed.memory_size),
        timeout_seconds=float(executed.timeout),
    )
    environment = _runtime_environment(backend, executed, context)

    started_at = time.time()
    payload, failed = _call_handler(executed, event, context, environment)
    lambda_metrics.record_invocation(
        backend,
        name,
        effective_qualifier,
        executed_version,
        payload=payload,
        failed=failed,
        started_at=started_at,
    )  # Lambda's AWS/Lambda metrics (see lambda_metrics)
    if invocation_type == "Event":
        # Asynchronous invokes run synchronously here; AWS queues them and retries errors.
        if failed:
            logger.warning("Event invoke of %s:%s failed: %s", name, executed_version, payload)
        response_headers["Content-Length"] = "0"
        return b""
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _call_handler(
    fn: LambdaFunction,
    event: Any,
    context: lambda_runtime.LambdaContext,
    environment: Mapping[str, str],
) -> tuple[bytes, bool]:
    """Run the handler; return (payload, failed) as the Lambda Python runtime would, or as
    the Lambda service reports a sandbox that timed out or whose runtime exited."""
    request_id = context.aws_request_id
    with lambda_runtime.invocation(fn.function_name, context) as running:
        try:
            payload, failed = _run_handler(fn, event, context, environment)
            running.check_deadline()  # a response after the deadline is never sent
        except lambda_runtime.SandboxTimedOut as exc:
            if exc.invocation is not running:
                raise
            return _platform_error("Sandbox.Timedout", str(exc), request_id), True
        except lambda_runtime.RuntimeExited as exc:
            if exc.invocation is not running:
                raise
            return _platform_error("Runtime.ExitError", str(exc), request_id), True
    return payload, failed


def _run_handler(
    fn: LambdaFunction,
    event: Any,
    context: lambda_runtime.LambdaContext,
    environment: Mapping[str, str],
) -> tuple[bytes, bool]:
    request_id = context.aws_request_id
    module_name = (fn.handler or "").rpartition(".")[0]
    with lambda_runtime.lambda_environment(environment):
        context.start_clock()  # not the time it waited for the other invocations
        # Resolved under the function's environment, as in the runtime's init phase, whose
        # error types these are.
        try:
            handler = _resolve_handler(fn)
        except ImportError as exc:
            message = f"Unable to import module '{module_name}': {exc}"
            return _error_payload("Runtime.ImportModuleError", message, request_id, exc), True
        except SyntaxError as exc:
            message = f"Syntax error in module '{module_name}': {exc}"
            return _error_payload("Runtime.UserCodeSyntaxError", message, request_id, exc), True
        except (lambda_runtime.HandlerNotFound, lambda_runtime.MalformedHandlerName) as exc:
            error_type = f"Runtime.{type(exc).__name__}"
            return _error_payload(error_type, str(exc), request_id, exc), True
        except Exception as exc:  # an exception raised by the module's top-level code
            return _error_payload(type(exc).__name__, str(exc), request_id, exc), True
        try:
            result = handler(event, context)
        except Exception as exc:
            return _error_payload(type(exc).__name__, str(exc), request_id, exc), True
    try:
        return json.dumps(result).encode(), False
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return _error_payload("Runtime.MarshalError", message, request_id, exc), True


# --------------------------------------------------------------------------------------
# The patches
# --------------------------------------------------------------------------------------


def in_process_invoke() -> list[_Replacement]:
    """Invoke runs the version's real code in-process, honouring alias weights.

    AWS: an alias routes to `FunctionVersion` plus at most one version in
    `RoutingConfig.AdditionalVersionWeights`, chosen at random per invocation; a
    synchronous response carries `x-amz-executed-version`; a handler exception comes back
    as `FunctionError: Unhandled` with `errorType` (the exception's class name) and
    `errorMessage`. (Lambda developer guide: configuring-alias-routing, monitoring-metrics.)

    moto (`lambda: {use_docker: False}`): `LambdaSimpleBackend.invoke` echoes the payload,
    runs no code, ignores routing and sets no executed version.

    Here: the version is picked with the routing weights (seedable: :func:`seed_routing`),
    and its code runs as `lambda_runtime` describes, with the version's environment plus
    AWS_REGION, AWS_DEFAULT_REGION, AWS_LAMBDA_FUNCTION_NAME and
    AWS_LAMBDA_FUNCTION_VERSION applied to os.environ for the call, serialized by a
    process-wide lock. `Event` invokes run synchronously (AWS queues them); `DryRun` runs
    nothing. The function's Timeout is enforced by :func:`lambda_functions_time_out`.
    """

    def build(_original: Any) -> Any:
        def invoke(
            self: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            return _run_in_process(self, function_name, qualifier, body, headers, response_headers)

        return invoke

    return [_Replacement(LambdaSimpleBackend, "invoke", build)]


def function_environments_are_isolated() -> list[_Replacement]:
    """Each invocation sees its own function's environment variables, and only its thread.

    AWS: every function version runs in sandboxes of its own; its environment variables
    (its `Environment` and the runtime's reserved ones) are visible to its invocations only,
    and invocations of different functions run at the same time (Lambda guide:
    configuration-envvars, lambda-runtime-environment).

    moto (`use_docker: False`) runs no code. In one process os.environ is global (facts:
    "environment variables are process-global"): applying a function's variables for an
    invocation and taking them off afterwards changed the environment under every other
    thread, and a thread that iterated it at that moment (botocore copies it when it builds
    a client; urllib reads the proxy variables) failed with KeyError. With 100 rollouts at
    once, the interpreter's thread of one execution failed a task that way about once in
    three runs.

    Here: os.environ is a `lambda_runtime.ThreadEnviron`: an invocation's variables are an
    overlay of its own thread, and the process environment is left untouched.
    """

    def build(original: Any) -> Any:
        if isinstance(original, lambda_runtime.ThreadEnviron):
            return original
        return lambda_runtime.ThreadEnviron(original)

    return [_Replacement(os, "environ", build)]  # type: ignore[arg-type] # a module


def lambda_functions_time_out() -> list[_Replacement]:
    """An invocation that outlives its function's Timeout is stopped: `Sandbox.Timedout`.

    AWS: Lambda stops an invocation when it reaches the function's Timeout (1 to 900 s); a
    synchronous Invoke returns 200 with `FunctionError: Unhandled` and the payload
    `{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed
    out after 30.00 seconds"}`; the handler's pending work is abandoned, whatever it was
    waiting for (Lambda guide: troubleshooting-invocation, "Timeouts"; configuration-timeout).
    Step Functions matches `Sandbox.Timedout` as the task's Error.

    moto (`use_docker: False`): runs no code, so there is no timeout; the in-process seam
    reported the Timeout to the context (`get_remaining_time_in_millis`) but never enforced it.

    Here: every AWS call the handler makes is checked against its deadline before it is
    made and when it returns, and so is the handler's return; past the deadline the
    invocation ends there with `Sandbox.Timedout` (see `lambda_runtime`).
    """

    def build(original: Any) -> Any:
        def call_action(self: BaseResponse) -> Any:
            running = lambda_runtime.current_invocation()
            if running is None:
                return original(self)
            running.check_deadline()
            result = original(self)
            running.check_deadline()  # the call was made, but its answer came too late
            return result

        return call_action

    return [_Replacement(BaseResponse, "call_action", build)]


def invoke_reads_Qualifier() -> list[_Replacement]:
    """`Invoke(FunctionName="f", Qualifier="live")` invokes the alias.

    AWS: `Qualifier` is a query parameter of Invoke (API_Invoke).

    moto: the response handler reads `qualifier` (lower case) with `_get_param`, which
    misses boto3's `Qualifier` and then looks the name up in the JSON *payload*: the
    qualifier is dropped (the unqualified function runs), an event with a top-level
    `qualifier` key is taken as the qualifier, and an event that is a JSON list or
    string crashes moto with a TypeError.

    Here: the qualifier is read from the query string only.
    """

    def build(original: Any) -> Any:
        def invoke(self: LambdaResponse) -> Any:
            self.querystring["qualifier"] = [self.querystring.get("Qualifier", [None])[0]]
            return original(self)

        return invoke

    return [_Replacement(LambdaResponse, "invoke", build)]


def update_alias_validates_like_aws() -> list[_Replacement]:
    """CreateAlias/UpdateAlias refuse what AWS refuses; RevisionId is an optimistic lock.

    AWS: an alias routes to at most two versions: `FunctionVersion` plus one entry in
    `AdditionalVersionWeights`, weight 0.0 to 1.0, neither `$LATEST`, both with the same
    execution role (Lambda guide: configuration-aliases; API_AliasRoutingConfiguration).
    UpdateAlias accepts `RevisionId` and refuses a stale one with
    PreconditionFailedException (412); every successful update gets a new RevisionId.
    Errors, as AWS returns them: more than one additional version, the primary version
    in the routing, `$LATEST` as primary with routing, or different roles ->
    InvalidParameterValueException; a weight outside [0, 1] or a non-numeric version key
    -> ValidationException (they are modelled constraints: `Weight` has min 0.0 / max 1.0,
    `AdditionalVersion` has pattern `[0-9]+`); a version that does not exist ->
    ResourceNotFoundException.

    moto: stores any RoutingConfig as given, ignores `RevisionId`, and keeps the alias's
    RevisionId unchanged across updates.
    """

    def build_update(original: Any) -> Any:
        def update_alias(self: LambdaResponse) -> Any:
            function_name = unquote(self.path.rsplit("/")[-3])
            alias_name = unquote(self.path.rsplit("/", 2)[-1])
            params = _json_body(self)
            with _control_plane_lock:
                alias = self.backend.get_alias(alias_name, function_name)
                revision_id = params.get("RevisionId")
                if revision_id and revision_id != alias.revision_id:
                    raise PreconditionFailedException(_STALE_REVISION)
                primary = params.get("FunctionVersion") or alias.function_version
                routing = params.get("RoutingConfig", alias.routing_config)
                name, _ = _name_and_qualifier(function_name, None)
                _validate_routing(self.backend, name, str(primary), routing)
                return original(self)

        return update_alias

    def build_create(original: Any) -> Any:
        def create_alias(self: LambdaResponse) -> Any:
            function_name = unquote(self.path.rsplit("/", 2)[-2])
            params = _json_body(self)
            with _control_plane_lock:
                name, _ = _name_and_qualifier(function_name, None)
                primary = str(params.get("FunctionVersion"))
                self.backend.get_function(name, primary)  # 404 for a missing primary version
                _validate_routing(self.backend, name, primary, params.get("RoutingConfig"))
                return original(self)

        return create_alias

    def build_alias_update(original: Any) -> Any:
        def update(self: LambdaAlias, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            self.revision_id = str(uuid.uuid4())

        return update

    return [
        _Replacement(LambdaResponse, "update_alias", build_update),
        _Replacement(LambdaResponse, "create_alias", build_create),
        _Replacement(LambdaAlias, "update", build_alias_update),
    ]


def function_revision_id() -> list[_Replacement]:
    """Functions and versions carry a RevisionId that changes on every update.

    AWS: GetFunction/GetFunctionConfiguration return `RevisionId`, which changes whenever
    $LATEST's code or configuration changes; each published version has its own
    (API_FunctionConfiguration). PublishVersion's `RevisionId` is compared with it.

    moto: a function configuration has no RevisionId.
    """

    def build_init(original: Any) -> Any:
        def __init__(self: LambdaFunction, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            _new_revision(self)

        return __init__

    def build_get_configuration(original: Any) -> Any:
        def get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
            config: dict[str, Any] = original(self, on_create)
            config["RevisionId"] = _revision_of(self)
            return config

        return get_configuration

    def build_bump(original: Any) -> Any:
        def changed(self: LambdaFunction, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            _new_revision(self)
            return result

        return changed

    def build_publish(original: Any) -> Any:
        def publish_version(self: LambdaStorage, *args: Any, **kwargs: Any) -> Any:
            published = original(self, *args, **kwargs)
            if published is not None and not getattr(published, "_ts_published", False):
                published._ts_published = True
                _new_revision(published)
            return published

        return publish_version

    return [
        _Replacement(LambdaFunction, "__init__", build_init),
        _Replacement(LambdaFunction, "get_configuration", build_get_configuration),
        _Replacement(LambdaFunction, "update_configuration", build_bump),
        _Replacement(LambdaFunction, "update_function_code", build_bump),
        _Replacement(LambdaStorage, "publish_version", build_publish),
    ]


def _new_revision(fn: LambdaFunction) -> str:
    revision = str(uuid.uuid4())
    setattr(fn, "_ts_revision_id", revision)  # noqa: B010 - an attribute moto does not declare
    return revision


def _revision_of(fn: LambdaFunction) -> str:
    revision: str | None = getattr(fn, "_ts_revision_id", None)
    return revision or _new_revision(fn)


def publish_version_guards() -> list[_Replacement]:
    """PublishVersion honours its `CodeSha256` and `RevisionId` guards.

    AWS: PublishVersion accepts `CodeSha256` and `RevisionId` for optimistic locking
    (facts: "Mid-update rules"). A CodeSha256 other than $LATEST's ->
    InvalidParameterValueException "CodeSHA256 (...) is different from current CodeSHA256
    in $LATEST (...)"; a stale RevisionId -> PreconditionFailedException (412).

    moto: reads only `Description` and publishes whatever $LATEST holds.
    """

    def build(original: Any) -> Any:
        def publish_version(self: LambdaResponse) -> Any:
            function_name = unquote(self.path.split("/")[-2])
            params = _json_body(self)
            with _control_plane_lock:
                latest = self.backend.get_function(function_name)
                revision_id = params.get("RevisionId")
                if revision_id and revision_id != _revision_of(latest):
                    raise PreconditionFailedException(_STALE_REVISION)
                code_sha256 = params.get("CodeSha256")
                if code_sha256 and code_sha256 != latest.code_sha_256:
                    raise InvalidParameterValueException(
                        f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in "
                        f"$LATEST ({latest.code_sha_256}). Please try again with the CodeSHA256 "
                        "in $LATEST."
                    )
                return original(self)

        return publish_version

    return [_Replacement(LambdaResponse, "publish_version", build)]


def delete_version_in_use() -> list[_Replacement]:
    """A version that an alias routes to cannot be deleted.

    AWS: DeleteFunction with a version qualifier that an alias still uses (as
    FunctionVersion or in AdditionalVersionWeights) -> ResourceConflictException (409)
    "Unable to delete version because the following aliases reference it: [live]"
    (facts: "Mid-update rules").

    moto: deletes the version and leaves the alias pointing at nothing.
    """

    def build(original: Any) -> Any:
        def delete_function(self: LambdaResponse) -> Any:
            function_name = unquote(self.path.rsplit("/", 1)[-1])
            name, qualifier = _name_and_qualifier(function_name, self._get_param("Qualifier"))
            with _control_plane_lock:
                if qualifier and qualifier != "$LATEST":
                    users = sorted(
                        alias.name
                        for alias in _aliases_of(self.backend, name).values()
                        if str(alias.function_version) == qualifier
                        or qualifier in _weights(alias.routing_config)
                    )
                    if users:
                        raise ResourceConflictException(
                            "Unable to delete version because the following aliases "
                            f"reference it: [{', '.join(users)}]"
                        )
                return original(self)

        return delete_function

    return [_Replacement(LambdaResponse, "delete_function", build)]


class _CodeSigningConfigNotFound(LambdaClientError):
    code = 404

    def __init__(self, arn: str) -> None:
        super().__init__(
            "ResourceNotFoundException", f"The code signing config {arn} was not found"
        )


def _code_signing_configs(backend: LambdaBackend) -> dict[str, dict[str, Any]]:
    # Kept on the backend, so moto's reset (a new backend) forgets them as it forgets
    # functions.
    configs: dict[str, dict[str, Any]] = backend.__dict__.setdefault(
        "_trafficshift_code_signing_configs", {}
    )
    return configs


def code_signing_configs() -> list[_Replacement]:
    """Code signing configs exist, and a function's can be attached, read and detached.

    AWS: CreateCodeSigningConfig (POST /2020-04-22/code-signing-configs) returns
    `CodeSigningConfig` with `CodeSigningConfigArn`
    (`arn:aws:lambda:<region>:<account>:code-signing-config:csc-<17 chars>`),
    `AllowedPublishers.SigningProfileVersionArns` and
    `CodeSigningPolicies.UntrustedArtifactOnDeployment` (`Warn` by default);
    GetCodeSigningConfig returns it or ResourceNotFoundException (404);
    PutFunctionCodeSigningConfig / DeleteFunctionCodeSigningConfig attach and detach one
    (Lambda API reference: API_CreateCodeSigningConfig, API_GetCodeSigningConfig,
    API_PutFunctionCodeSigningConfig, API_DeleteFunctionCodeSigningConfig).

    moto 5.2: implements only GetFunctionCodeSigningConfig (what CreateFunction's
    `CodeSigningConfigArn` stored, unchecked; `null` when none, which botocore drops as
    AWS's "no config" answer is read); the other four answer "not implemented". Neither AWS
    nor the emulator checks signatures here: the emulator cannot verify one at all.
    """

    def function_name(response: LambdaResponse) -> str:
        return unquote(response.path.rsplit("/", 2)[-2])

    def create_code_signing_config(self: LambdaResponse) -> Any:
        body = self.json_body
        publishers = list(
            (body.get("AllowedPublishers") or {}).get("SigningProfileVersionArns") or []
        )
        if not 1 <= len(publishers) <= 20:
            raise ValidationException("AllowedPublishers.SigningProfileVersionArns: 1 to 20 ARNs")
        policy = (body.get("CodeSigningPolicies") or {}).get(
            "UntrustedArtifactOnDeployment", "Warn"
        )
        if policy not in ("Warn", "Enforce"):
            raise ValidationException(f"UntrustedArtifactOnDeployment: {policy!r}")
        config_id = "csc-" + uuid.uuid4().hex[:17]
        arn = f"arn:aws:lambda:{self.region}:{self.current_account}:code-signing-config:{config_id}"
        config = {
            "CodeSigningConfigId": config_id,
            "CodeSigningConfigArn": arn,
            "Description": body.get("Description", ""),
            "AllowedPublishers": {"SigningProfileVersionArns": publishers},
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": policy},
            "LastModified": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        _code_signing_configs(self.backend)[arn] = config
        return 201, {}, json.dumps({"CodeSigningConfig": config})

    def get_code_signing_config(self: LambdaResponse) -> Any:
        arn = unquote(self.path.split("/code-signing-configs/", 1)[1])
        config = _code_signing_configs(self.backend).get(arn)
        if config is None:
            raise _CodeSigningConfigNotFound(arn)
        return 200, {}, json.dumps({"CodeSigningConfig": config})

    def put_function_code_signing_config(self: LambdaResponse) -> Any:
        name = function_name(self)
        arn = str(self.json_body.get("CodeSigningConfigArn", ""))
        if arn not in _code_signing_configs(self.backend):
            raise _CodeSigningConfigNotFound(arn)
        fn = self.backend.get_function(name)
        fn.code_signing_config_arn = arn
        return 200, {}, json.dumps({"CodeSigningConfigArn": arn, "FunctionName": fn.function_name})

    def delete_function_code_signing_config(self: LambdaResponse) -> Any:
        self.backend.get_function(function_name(self)).code_signing_config_arn = None
        return 204, {}, ""

    def routes(original: Any) -> Any:
        return {
            **original,
            r"{0}/(?P<api_version>[^/]+)/code-signing-configs/?$": LambdaResponse.dispatch,
            r"{0}/(?P<api_version>[^/]+)/code-signing-configs/(?P<arn>.+)$": (
                LambdaResponse.dispatch
            ),
        }

    methods = {
        "create_code_signing_config": create_code_signing_config,
        "get_code_signing_config": get_code_signing_config,
        "put_function_code_signing_config": put_function_code_signing_config,
        "delete_function_code_signing_config": delete_function_code_signing_config,
    }
    return [_Replacement(lambda_urls, "url_paths", routes)] + [
        _Replacement(LambdaResponse, name, lambda _original, m=method: m)
        for name, method in methods.items()
    ]


def update_function_code_reads_S3ObjectVersion_and_RevisionId() -> list[_Replacement]:
    """UpdateFunctionCode deploys the S3 object version it names, guarded by RevisionId.

    AWS: `S3ObjectVersion` picks the version of a versioned object (API_UpdateFunctionCode);
    a version that does not exist -> InvalidParameterValueException "Error occurred while
    GetObject. S3 Error Code: NoSuchVersion ...". `RevisionId` refuses the update with
    PreconditionFailedException (412) if $LATEST changed since it was read.

    moto: ignores both: it deploys the object's latest version, whatever was asked.
    """

    def build_set_code(original: Any) -> Any:
        def _set_function_code(self: LambdaFunction, updated_spec: dict[str, Any]) -> None:
            version_id = updated_spec.get("S3ObjectVersion")
            versioned = None
            if updated_spec is not self.code and version_id and "S3Bucket" in updated_spec:
                from moto.s3.models import s3_backends

                backend = s3_backends[self.account_id][self.partition]
                try:
                    versioned = backend.get_object(
                        updated_spec["S3Bucket"], updated_spec["S3Key"], version_id=version_id
                    )
                except Exception:
                    versioned = None
                if versioned is None:
                    raise InvalidParameterValueException(
                        "Error occurred while GetObject. S3 Error Code: NoSuchVersion. S3 "
                        "Error Message: The specified version does not exist."
                    )
            original(self, updated_spec)
            if versioned is not None:
                sha = hashlib.sha256(versioned.value)
                self.code_bytes = versioned.value
                self.code_size = versioned.size
                self.code_sha_256 = base64.b64encode(sha.digest()).decode("utf-8")
                self.code_digest = sha.hexdigest()

        return _set_function_code

    def build_update(original: Any) -> Any:
        def update_function_code(self: LambdaResponse) -> Any:
            function_name = unquote(self.path.rsplit("/", 2)[-2])
            revision_id = _json_body(self).get("RevisionId")
            with _control_plane_lock:
                if revision_id:
                    latest = self.backend.get_function(function_name)
                    if revision_id != _revision_of(latest):
                        raise PreconditionFailedException(_STALE_REVISION)
                return original(self)

        return update_function_code

    return [
        _Replacement(LambdaFunction, "_set_function_code", build_set_code),
        _Replacement(LambdaResponse, "update_function_code", build_update),
    ]


_update_seconds = 0.0


def set_update_duration(seconds: float) -> None:
    """How long an update keeps a function `InProgress` (default 0: moto's instant updates).

    AWS's updates take seconds (longer in a VPC); tests of code that must wait for them
    set this, and get AWS's refusals while an update runs.
    """
    global _update_seconds
    if seconds < 0:
        raise ValueError("seconds must be >= 0")
    _update_seconds = float(seconds)


def _updating(fn: LambdaFunction) -> bool:
    until: float = getattr(fn, "_ts_updating_until", 0.0)
    return time.monotonic() < until


def function_updates_take_time() -> list[_Replacement]:
    """An update leaves the function `InProgress` for a while, and Lambda refuses changes then.

    AWS: UpdateFunctionCode and UpdateFunctionConfiguration return `LastUpdateStatus:
    InProgress`; until it is `Successful`, PublishVersion, UpdateFunctionCode and
    UpdateFunctionConfiguration fail with ResourceConflictException "The operation cannot be
    performed at this time. An update is in progress for resource: <arn>" (facts:
    "Mid-update rules"; Lambda guide: functions-states).

    moto: every update is done at once (`Successful`), so code that must wait for an
    update is never exercised. Here the update lasts :func:`set_update_duration` seconds
    (0 by default, moto's behaviour); during it the function reports `InProgress` and the
    three calls are refused as AWS refuses them.
    """

    def build_mark(original: Any) -> Any:
        def changed(self: LambdaFunction, *args: Any, **kwargs: Any) -> Any:
            if _update_seconds > 0:
                setattr(self, "_ts_updating_until", time.monotonic() + _update_seconds)  # noqa: B010
            return original(self, *args, **kwargs)

        return changed

    def build_configuration(original: Any) -> Any:
        def get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
            config: dict[str, Any] = original(self, on_create)
            if not on_create and _updating(self):
                config["LastUpdateStatus"] = "InProgress"
                config["LastUpdateStatusReason"] = "The function is being updated."
                config["LastUpdateStatusReasonCode"] = "Updating"
            return config

        return get_configuration

    def build_refuse(path_index: int) -> Callable[[Any], Any]:
        def build(original: Any) -> Any:
            def refuse_while_updating(self: LambdaResponse) -> Any:
                function_name = unquote(self.path.rsplit("/", path_index)[-path_index])
                name, _ = _name_and_qualifier(function_name, None)
                latest = self.backend.get_function(name)
                if _updating(latest):
                    raise ResourceConflictException(
                        "The operation cannot be performed at this time. An update is in "
                        f"progress for resource: {latest.function_arn}"
                    )
                return original(self)

            return refuse_while_updating

        return build

    return [
        _Replacement(LambdaFunction, "update_function_code", build_mark),
        _Replacement(LambdaFunction, "update_configuration", build_mark),
        _Replacement(LambdaFunction, "get_configuration", build_configuration),
        _Replacement(LambdaResponse, "publish_version", build_refuse(2)),
        _Replacement(LambdaResponse, "update_function_code", build_refuse(2)),
        _Replacement(LambdaResponse, "update_function_configuration", build_refuse(2)),
    ]


# SnapStart: how long a published version's snapshot takes, and how it ends.
_snapshot_seconds = 3.0
_snapshot_failure: tuple[str, str] | None = None  # (StateReasonCode, StateReason)
_SNAPSHOT_PENDING = ("Creating", "The function is being created.")


def set_snapshot_duration(seconds: float) -> None:
    """How long a version published from a SnapStart function stays `Pending` (default 3 s).

    AWS takes seconds to minutes to initialize the code and snapshot it; tests set this
    small (e.g. 0.5 s) to stay fast, and never 0 where the wait itself is under test.
    """
    global _snapshot_seconds
    if seconds < 0:
        raise ValueError("seconds must be >= 0")
    _snapshot_seconds = float(seconds)


def set_snapshot_failure(reason: str | None, code: str = "FunctionError") -> None:
    """Make the snapshots of the versions published from now on fail (None: succeed again).

    Such a version ends `State: Failed` with this `StateReason` and `StateReasonCode` once
    its `Pending` time is over, as AWS reports a version whose initialization or snapshot
    failed.
    """
    global _snapshot_failure
    _snapshot_failure = None if reason is None else (code, reason)


def _snap_start_applies(fn: LambdaFunction) -> bool:
    return bool(getattr(fn, "_ts_snap_start", "None") == "PublishedVersions")


def _snapshot_state(fn: LambdaFunction) -> tuple[str, str, str] | None:
    """(State, StateReasonCode, StateReason) of a SnapStart version that is not Active."""
    if not getattr(fn, "_ts_snapshot_started", False):
        return None
    if time.monotonic() < getattr(fn, "_ts_snapshot_until", 0.0):
        return ("Pending", *_SNAPSHOT_PENDING)
    failure: tuple[str, str] | None = getattr(fn, "_ts_snapshot_failure", None)
    return ("Failed", *failure) if failure else None


def _refuse_unless_active(fn: LambdaFunction) -> None:
    """Invoke of a version that is not Active, as Lambda answers it (see the patch below)."""
    snapshot = _snapshot_state(fn)
    if snapshot is not None:
        raise ResourceConflictException(
            "The operation cannot be performed at this time. The function is currently in "
            f"the following state: {snapshot[0]}"
        )


def snap_start_versions_are_pending() -> list[_Replacement]:
    """A version published from a SnapStart function is `Pending` until its snapshot exists.

    AWS: with `SnapStart: {ApplyOn: PublishedVersions}`, PublishVersion initializes the
    code and snapshots it; the version is `Pending` meanwhile, then `Active` (or `Failed`
    with a `StateReason`, e.g. when the initialization code fails), and its `SnapStart`
    reports `OptimizationStatus: On` (Lambda guide: "Activating and managing Lambda
    SnapStart", https://docs.aws.amazon.com/lambda/latest/dg/snapstart-activate.html, its
    "Lambda SnapStart and function states"; API_SnapStartResponse). "Lambda does not invoke
    a function during pending state. Any invocations or other API actions that operate on
    the function will fail" (Lambda guide: "Lambda function states",
    https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html): Invoke answers 409
    ResourceConflictException "The operation cannot be performed at this time. The function
    is currently in the following state: Pending" (as reported in
    remotion-dev/remotion#1186 and aws/serverless-application-model#2356).

    moto: ignores `SnapStart` (CreateFunction and UpdateFunctionConfiguration drop it; every
    configuration reports `{"ApplyOn": "None", "OptimizationStatus": "Off"}`), and every
    version is `Active` at once.

    Here: `SnapStart.ApplyOn` is kept; a version published while it is `PublishedVersions`
    is `Pending` (StateReasonCode `Creating`) for :func:`set_snapshot_duration` seconds, then
    `Active`, or `Failed` as :func:`set_snapshot_failure` says; an Invoke that resolves to
    it (by version, or through an alias that routes to it) fails as above.
    """

    def snap_start_of(spec: Any) -> str:
        value = spec.get("SnapStart") if isinstance(spec, Mapping) else None
        return str(value.get("ApplyOn") or "None") if isinstance(value, Mapping) else "None"

    def build_init(original: Any) -> Any:
        def __init__(
            self: LambdaFunction, account_id: str, spec: dict[str, Any], *a: Any, **k: Any
        ) -> None:
            original(self, account_id, spec, *a, **k)
            setattr(self, "_ts_snap_start", snap_start_of(spec))  # noqa: B010

        return __init__

    def build_update(original: Any) -> Any:
        def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> Any:
            if isinstance(config_updates, Mapping) and "SnapStart" in config_updates:
                setattr(self, "_ts_snap_start", snap_start_of(config_updates))  # noqa: B010
            return original(self, config_updates)

        return update_configuration

    def build_publish(original: Any) -> Any:
        def publish_version(self: LambdaStorage, *args: Any, **kwargs: Any) -> Any:
            published = original(self, *args, **kwargs)
            if (
                published is not None
                and _snap_start_applies(published)
                and not getattr(published, "_ts_snapshot_started", False)
            ):
                setattr(published, "_ts_snapshot_started", True)  # noqa: B010
                until = time.monotonic() + _snapshot_seconds
                setattr(published, "_ts_snapshot_until", until)  # noqa: B010
                setattr(published, "_ts_snapshot_failure", _snapshot_failure)  # noqa: B010
            return published

        return publish_version

    def build_configuration(original: Any) -> Any:
        def get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
            config: dict[str, Any] = original(self, on_create)
            apply_on = getattr(self, "_ts_snap_start", "None")
            snapshotted = bool(getattr(self, "_ts_snapshot_started", False))
            config["SnapStart"] = {
                "ApplyOn": apply_on,
                "OptimizationStatus": "On" if snapshotted else "Off",
            }
            snapshot = _snapshot_state(self)
            if snapshot is not None:
                config["State"], config["StateReasonCode"], config["StateReason"] = snapshot
            return config

        return get_configuration

    return [
        _Replacement(LambdaFunction, "__init__", build_init),
        _Replacement(LambdaFunction, "update_configuration", build_update),
        _Replacement(LambdaStorage, "publish_version", build_publish),
        _Replacement(LambdaFunction, "get_configuration", build_configuration),
    ]
