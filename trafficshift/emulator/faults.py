"""Fault injection for tests: make moto fail the next N calls of an API, as AWS can.

This is chaos, not fidelity: moto never throttles, AWS does (Lambda's control-plane APIs
share 15 requests per second per account and region; a throttled call gets
`TooManyRequestsException`, HTTP 429 - facts: "Control-plane rate").

    with throttle("UpdateAlias", times=3) as fault:
        ...                     # the next 3 UpdateAlias calls get a 429
    assert fault.injected == 3

botocore retries throttling errors by itself (3 to 4 retries by default), so a client
with default settings may absorb a few injected faults: that is AWS's behaviour too. To
see each fault, build the client with `Config(retries={"total_max_attempts": 1})`.

Faults apply to Lambda, Step Functions, DynamoDB, EventBridge, CloudWatch Logs and
CloudWatch. They are process-wide: the emulator's server, the state machine interpreter
and the handlers all see them. An injected error is written in the protocol the request
came in: JSON for the JSON services; for CloudWatch, whatever the client spoke (botocore
1.4x speaks JSON to it, `awsQueryCompatible`; older clients the query protocol), through
moto's own serializer for that request's protocol.

A brownout - an AWS service that answers slowly, or with 5xx - for the chaos benchmark and
the time-budget tests (see :func:`brownout`):

    with brownout("cloudwatch", latency=25, actions={"GetMetricData"}, times=9) as b:
        ...                     # 9 GetMetricData requests take 25 s each
    print(b.timed_out, b.delayed, b.failed, b.seconds)

Lambda's real account-level limit, as a token bucket shared by every control-plane call:

    with control_plane_rate_limit(rate=15, burst=15) as bucket:
        ...                     # beyond 15 calls/s, Lambda control-plane calls get a 429
    print(bucket.admitted, bucket.throttled)

Invoke is not counted (data plane), nor are GetFunction (100/s) and GetPolicy (15/s), which
have quotas of their own (facts: "Control-plane rate").

A handler that dies, outlives its Timeout, or is throttled right after one of its AWS
calls succeeded (so the retry or the Catch finds that call's effect):

    with handler_fault("TrafficShift-SetWeight...", after="UpdateAlias", how="crash") as f:
        ...                     # SetWeight's runtime exits once its UpdateAlias returned
    assert f.fired == 1

`how`: "crash" (Lambda reports `Runtime.ExitError`; nothing more of the handler runs),
"timeout" (the call outlived the function's Timeout: `Sandbox.Timedout` at the handler's
next AWS call or its return, see `fidelity.lambda_.lambda_functions_time_out`), "throttle" (every
later AWS call of that invocation is throttled, so its own retries give up: `Throttled`).
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.exceptions import JsonRESTError, ServiceException
from moto.core.responses import ActionResult, BaseResponse

from trafficshift.emulator import lambda_runtime
from trafficshift.emulator.metering import LAMBDA_DATA_PLANE

__all__ = [
    "CONTROL_PLANE_EXEMPT",
    "SERVICES",
    "Brownout",
    "Fault",
    "HandlerFault",
    "TokenBucket",
    "active_faults",
    "brownout",
    "clear",
    "control_plane_rate_limit",
    "handler_fault",
    "inject_error",
    "throttle",
]

JSON_SERVICES = frozenset({"lambda", "stepfunctions", "dynamodb", "events", "logs"})
# The services faults apply to: moto answers each through `BaseResponse.call_action`.
SERVICES = JSON_SERVICES | {"cloudwatch"}

# The 5xx each service returns, by status (the services' "Common errors" pages: CloudWatch
# API Reference, CommonErrors; DynamoDB Developer Guide, "Error handling with DynamoDB").
_SERVER_ERRORS: dict[str, dict[int, str]] = {
    "cloudwatch": {500: "InternalFailure", 503: "ServiceUnavailable"},
    "dynamodb": {500: "InternalServerError", 503: "ServiceUnavailable"},
}
_DEFAULT_SERVER_ERRORS = {500: "InternalFailure", 503: "ServiceUnavailable"}

# The throttling error code each service returns (and the HTTP status it comes with).
_THROTTLE_ERRORS: dict[str, tuple[str, int]] = {
    "lambda": ("TooManyRequestsException", 429),
    "stepfunctions": ("ThrottlingException", 400),
    "dynamodb": ("ThrottlingException", 400),
    "events": ("ThrottlingException", 400),
    "logs": ("ThrottlingException", 400),
}


@dataclass
class Fault:
    """One armed fault: the next `remaining` calls of `service`/`action` fail."""

    service: str
    action: str
    error_code: str
    message: str
    status: int
    remaining: int
    injected: int = 0
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None


class _InjectedError(JsonRESTError):
    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.error_code, fault.message)
        self.code = fault.status
        body = {"__type": fault.error_code, "message": fault.message}
        body.update(fault.extra_body or {})
        self.description = json.dumps(body)
        self._extra_headers = dict(fault.extra_headers or {})

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), *self._extra_headers.items()]


class _SerializedError(ServiceException):
    """An injected error that moto serializes in the request's own protocol."""


def _error_response(response: BaseResponse, fault: Fault) -> tuple[int, dict[str, Any], Any]:
    """`fault` as `response`'s service answers it, in the protocol the request came in."""
    if fault.service in JSON_SERVICES:
        error = _InjectedError(fault)
        return error.code, dict(error.get_headers()), error.description
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a code the service's model does not list
        _, headers, body = response.serialized(
            ActionResult(_SerializedError(fault.error_code, fault.message))
        )
    if fault.status >= 500 and "x-amzn-query-error" in headers:
        # awsQueryCompatible: a server fault is `Receiver`, as the query protocol's <Type>.
        headers["x-amzn-query-error"] = f"{fault.error_code};Receiver"
    headers.update(fault.extra_headers or {})
    return fault.status, headers, body


# Lambda actions outside the shared 15/s bucket: the data plane, and the two APIs with
# quotas of their own (GetFunction 100/s, GetPolicy 15/s).
CONTROL_PLANE_EXEMPT = LAMBDA_DATA_PLANE | {"GetFunction", "GetPolicy"}

_LAMBDA_THROTTLE_BODY = {"Type": "User", "Reason": "CallerRateLimitExceeded"}
_LAMBDA_THROTTLE_HEADERS = {"Retry-After": "1"}


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `burst` banked; one Lambda control-plane call takes
    one token, a call that finds none is throttled (and takes none)."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    admitted: int = 0
    throttled: int = 0
    throttled_by_action: collections.Counter[str] = field(default_factory=collections.Counter)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._tokens = float(self.burst)
        self._last = self.clock()
        self._lock = threading.Lock()

    def take(self, action: str = "") -> bool:
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                self.admitted += 1
                return True
            self.throttled += 1
            self.throttled_by_action[action] += 1
            return False

    @property
    def calls(self) -> int:
        return self.admitted + self.throttled


HOW = ("crash", "timeout", "throttle")


@dataclass
class HandlerFault:
    """Once `function`'s handler has made its `nth` successful `service`/`action` call (in
    one invocation), that invocation fails as `how` says; `times` invocations at most."""

    function: str
    service: str
    action: str
    how: str
    nth: int = 1
    skip: int = 0  # invocations that reach the trigger and are let through first
    remaining: int = 1
    fired: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # request id -> matching calls


@dataclass
class Brownout:
    """One armed brownout of `service`: each matching request (one HTTP attempt: botocore's
    retries are requests too) waits `latency` seconds for its answer, then fails with
    `status` if set. `remaining`: requests left (None: all, while armed). Counts:
    `requests` matched, `delayed` (answered after the latency), `timed_out` (the client's
    read timeout fired first), `failed` (answered with the 5xx), `seconds` of waiting the
    clients saw (virtual in-process, slept for real behind `local serve`)."""

    service: str
    latency: float = 0.0
    status: int | None = None
    error_code: str = ""
    message: str = ""
    actions: frozenset[str] | None = None
    remaining: int | None = None
    applied: bool = True
    function: str | None = None
    requests: int = 0
    delayed: int = 0
    timed_out: int = 0
    failed: int = 0
    seconds: float = 0.0
    by_action: collections.Counter[str] = field(default_factory=collections.Counter)

    def matches(self, service: str, action: str) -> bool:
        return (
            service == self.service
            and (self.actions is None or action in self.actions)
            and (self.remaining is None or self.remaining > 0)
            and (self.function is None or self.function == _calling_function())
        )


def _calling_function() -> str | None:
    running = lambda_runtime.current_invocation()
    return running.function_name if running is not None else None


_lock = threading.Lock()
_faults: list[Fault] = []
_brownouts: list[Brownout] = []
# The botocore requests being answered on this thread (in-process clients only; a stack,
# since a handler's call can run under the interpreter's own Invoke).
_requests = threading.local()
_original_stubber_call: Any = None
_buckets: list[TokenBucket] = []
_handler_faults: list[HandlerFault] = []
_throttled_invocations: set[str] = set()  # request ids whose later calls are throttled
_original_call_action: Any = None


def _take(service: str, action: str) -> Fault | None:
    with _lock:
        for fault in _faults:
            if fault.remaining > 0 and fault.service == service and fault.action == action:
                fault.remaining -= 1
                fault.injected += 1
                return fault
    return None


def _rate_limited(service: str, action: str) -> Fault | None:
    if service != "lambda" or not action or action in CONTROL_PLANE_EXEMPT:
        return None
    # Every active bucket must admit the call (a token is taken from each that does).
    if all([bucket.take(action) for bucket in list(_buckets)]):
        return None
    return Fault(
        service="lambda",
        action=action,
        error_code="TooManyRequestsException",
        message="Rate exceeded",
        status=429,
        remaining=0,
        extra_body=_LAMBDA_THROTTLE_BODY,
        extra_headers=_LAMBDA_THROTTLE_HEADERS,
    )


def _throttled_invocation(service: str, action: str) -> Fault | None:
    running = lambda_runtime.current_invocation()
    if running is None or running.request_id not in _throttled_invocations:
        return None
    error_code, status = _THROTTLE_ERRORS.get(service, ("ThrottlingException", 400))
    return Fault(service, action, error_code, "Rate exceeded", status, remaining=0)


def _after_call(service: str, action: str, result: Any) -> None:
    """Fire the handler fault that this successful call completes, if any."""
    running = lambda_runtime.current_invocation()
    if running is None or not isinstance(result, tuple) or int(result[0]) >= 400:
        return
    with _lock:
        for fault in _handler_faults:
            if (
                fault.remaining > 0
                and fault.function == running.function_name
                and (fault.service, fault.action) == (service, action)
            ):
                seen = fault.seen.get(running.request_id, 0) + 1
                fault.seen[running.request_id] = seen
                if seen == fault.nth and fault.skip > 0:
                    fault.skip -= 1
                elif seen == fault.nth:
                    fault.remaining -= 1
                    fault.fired += 1
                    break
        else:
            return
    if fault.how == "crash":
        raise lambda_runtime.RuntimeExited(running)
    if fault.how == "timeout":
        running.expire()  # fidelity's deadline check ends the invocation
    else:
        with _lock:
            _throttled_invocations.add(running.request_id)


def _take_brownout(service: str, action: str) -> Brownout | None:
    with _lock:
        for outage in _brownouts:
            if outage.matches(service, action):
                if outage.remaining is not None:
                    outage.remaining -= 1
                outage.requests += 1
                outage.by_action[action] += 1
                return outage
    return None


def _client_read_timeout() -> float | None:
    """The read timeout of the in-process botocore client whose request moto is answering
    on this thread; None behind the HTTP server (a real socket times out by itself)."""
    stack: list[Any] = getattr(_requests, "stack", [])
    if not stack:
        return None
    config = (getattr(stack[-1], "context", None) or {}).get("client_config")
    timeout = getattr(config, "read_timeout", None)
    return float(timeout) if timeout is not None else 60.0  # botocore's default


def _wait(seconds: float, in_process: bool) -> None:
    """The client waits `seconds`: charged to the running invocation's clock in-process
    (no wall time; Lambda's Timeout still counts it), slept for real behind the server."""
    if not in_process:
        time.sleep(seconds)
        return
    running = lambda_runtime.current_invocation()
    if running is not None:
        running.elapse(seconds)
        running.check_deadline()  # Lambda stops a sandbox that waits past its Timeout


def _browned_out(self: BaseResponse, outage: Brownout, action: str) -> Any:
    """Answer one request of `outage` as AWS would reach the client: late, or not at all."""
    read_timeout = _client_read_timeout()
    in_process = read_timeout is not None
    if read_timeout is not None and outage.latency >= read_timeout:
        # The client stops reading after read_timeout s and botocore raises
        # ReadTimeoutError (retried by its standard mode); the request may still have
        # been carried out by the service (`applied`), its answer is lost.
        _wait(read_timeout, in_process)
        with _lock:
            outage.timed_out += 1
            outage.seconds += read_timeout
        if outage.applied and outage.status is None:
            _original_call_action(self)
        url = getattr(_requests.stack[-1], "url", "") if in_process else ""
        raise ReadTimeoutError(endpoint_url=url)
    _wait(outage.latency, in_process)
    with _lock:
        outage.seconds += outage.latency
    if outage.status is not None:
        with _lock:
            outage.failed += 1
        fault = Fault(outage.service, action, outage.error_code, outage.message, outage.status, 0)
        return _error_response(self, fault)
    with _lock:
        outage.delayed += 1
    return None


def _call_action(self: BaseResponse) -> Any:
    if _faults or _buckets or _handler_faults or _throttled_invocations or _brownouts:
        try:
            service, action = self.boto3_service_name, self._get_action()
        except Exception:
            service, action = "", ""
        outage = _take_brownout(service, action) if _brownouts else None
        if outage is not None:
            answered = _browned_out(self, outage, action)
            if answered is not None:
                return answered
        fault = _take(service, action) if _faults else None
        if fault is None and _throttled_invocations:
            fault = _throttled_invocation(service, action)
        if fault is None and _buckets:
            fault = _rate_limited(service, action)
        if fault is not None:
            return _error_response(self, fault)
        result = _original_call_action(self)
        if _handler_faults:
            _after_call(service, action, result)
        return result
    return _original_call_action(self)


def _stubber_call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
    """moto's in-process answer to a botocore request, with the request (and so its
    client's config: the read timeout) known to `_call_action` on this thread."""
    stack: list[Any] = getattr(_requests, "stack", None) or []
    _requests.stack = stack
    stack.append(request)
    try:
        return _original_stubber_call(self, event_name, request, **kwargs)
    finally:
        stack.pop()


def _hook() -> None:
    """Route moto's requests through `_call_action` (call with `_lock` held)."""
    global _original_call_action, _original_stubber_call
    if _original_call_action is None:
        _original_call_action = BaseResponse.call_action
        BaseResponse.call_action = _call_action  # type: ignore[method-assign]
    if _original_stubber_call is None:
        _original_stubber_call = BotocoreStubber.__call__
        BotocoreStubber.__call__ = _stubber_call  # type: ignore[method-assign]


def _unhook_if_idle() -> None:
    """Give moto its own `call_action` back once nothing is armed (call with `_lock` held)."""
    global _original_call_action, _original_stubber_call
    idle = not (_faults or _buckets or _handler_faults or _throttled_invocations or _brownouts)
    if idle and _original_call_action is not None:
        BaseResponse.call_action = _original_call_action  # type: ignore[method-assign]
        _original_call_action = None
    if idle and _original_stubber_call is not None:
        BotocoreStubber.__call__ = _original_stubber_call  # type: ignore[method-assign]
        _original_stubber_call = None


def _arm(fault: Fault) -> None:
    if fault.service not in SERVICES:
        raise ValueError(f"Fault injection supports {sorted(SERVICES)}, not '{fault.service}'")
    if fault.remaining < 1:
        raise ValueError("times must be at least 1")
    with _lock:
        _hook()
        _faults.append(fault)


def _disarm(fault: Fault) -> None:
    with _lock:
        if fault in _faults:
            _faults.remove(fault)
        _unhook_if_idle()


@contextlib.contextmanager
def inject_error(
    action: str,
    error_code: str,
    message: str,
    *,
    times: int = 1,
    status: int = 400,
    service: str = "lambda",
    extra_body: dict[str, Any] | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Iterator[Fault]:
    """Make the next `times` calls of `action` (e.g. "UpdateAlias") fail with `error_code`."""
    fault = Fault(
        service=service,
        action=action,
        error_code=error_code,
        message=message,
        status=status,
        remaining=times,
        extra_body=extra_body,
        extra_headers=extra_headers,
    )
    _arm(fault)
    try:
        yield fault
    finally:
        _disarm(fault)


@contextlib.contextmanager
def throttle(action: str, times: int = 1, *, service: str = "lambda") -> Iterator[Fault]:
    """Make the next `times` calls of `action` throttled, as AWS throttles them.

    Lambda: TooManyRequestsException, HTTP 429, `Retry-After` header and
    `Reason: CallerRateLimitExceeded`; the other JSON services: ThrottlingException (400).
    """
    if service not in _THROTTLE_ERRORS:
        raise ValueError(f"Fault injection supports {sorted(JSON_SERVICES)}, not '{service}'")
    error_code, status = _THROTTLE_ERRORS[service]
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    if service == "lambda":
        extra_body = dict(_LAMBDA_THROTTLE_BODY)
        extra_headers = dict(_LAMBDA_THROTTLE_HEADERS)
    with inject_error(
        action,
        error_code,
        "Rate exceeded",
        times=times,
        status=status,
        service=service,
        extra_body=extra_body,
        extra_headers=extra_headers,
    ) as fault:
        yield fault


@contextlib.contextmanager
def control_plane_rate_limit(
    rate: float = 15.0, burst: float = 15, *, clock: Callable[[], float] = time.monotonic
) -> Iterator[TokenBucket]:
    """Throttle Lambda's control plane as AWS does: one token bucket of `rate` requests per
    second (15 for every account and region; it cannot be raised), holding at most `burst`,
    shared by every Lambda control-plane action (UpdateAlias, GetAlias, PublishVersion,
    GetFunctionConfiguration, ...). A call that finds the bucket empty gets
    TooManyRequestsException (429, `Reason: CallerRateLimitExceeded`). Invoke is not
    counted. The bucket says how many calls it admitted and throttled (per action, too).
    """
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock)
    with _lock:
        _hook()
        _buckets.append(bucket)
    try:
        yield bucket
    finally:
        with _lock:
            if bucket in _buckets:
                _buckets.remove(bucket)
            _unhook_if_idle()


@contextlib.contextmanager
def handler_fault(
    function: str,
    *,
    after: str,
    how: str = "crash",
    service: str = "lambda",
    nth: int = 1,
    skip: int = 0,
    times: int = 1,
) -> Iterator[HandlerFault]:
    """Make Lambda function `function`'s handler fail right after its `nth` successful
    `after` call (an action of `service`, e.g. "UpdateAlias", or "PutItem" of "dynamodb")
    in an invocation, in at most `times` invocations, after letting the first `skip` such
    invocations through (`skip=1`: the second SetWeight, say). `how`:

    - "crash": the runtime exits there; Lambda reports `Runtime.ExitError` ("Runtime
      exited with error: exit status 1"); nothing more of the handler runs;
    - "timeout": the call outlived the function's Timeout; the invocation ends with
      `Sandbox.Timedout` at its next AWS call, or when the handler returns;
    - "throttle": every later AWS call of that invocation is throttled, so the handler's
      own retries give up (the adapters raise `Throttled`, which the state machine retries).

    The call itself took effect: the retry, or the Catch, finds what it did.
    """
    if how not in HOW:
        raise ValueError(f"how must be one of {HOW}, not {how!r}")
    if nth < 1 or times < 1 or skip < 0:
        raise ValueError("nth and times must be at least 1, skip at least 0")
    fault = HandlerFault(function, service, after, how, nth=nth, skip=skip, remaining=times)
    with _lock:
        _hook()
        _handler_faults.append(fault)
    try:
        yield fault
    finally:
        with _lock:
            if fault in _handler_faults:
                _handler_faults.remove(fault)
            if not _handler_faults:
                _throttled_invocations.clear()
            _unhook_if_idle()


@contextlib.contextmanager
def brownout(
    service: str,
    *,
    latency: float = 0.0,
    status: int | None = None,
    error_code: str | None = None,
    message: str | None = None,
    actions: Iterable[str] | None = None,
    times: int | None = None,
    applied: bool = True,
    function: str | None = None,
) -> Iterator[Brownout]:
    """Degrade `service` ("cloudwatch", "dynamodb", or any of SERVICES) as a brownout does.

    Each matching request - of `actions` (e.g. {"GetMetricData"}; None: every action), at
    most `times` requests (None: all while armed) - takes `latency` seconds to be answered,
    then fails with HTTP `status` (500/503: the service's own `error_code`, e.g.
    CloudWatch's ServiceUnavailable or DynamoDB's InternalServerError) if one is given.
    A request is one HTTP attempt: botocore's retries of a call are requests too.
    `function`: only the requests that this Lambda function's handler makes (e.g. the
    control plane's Check), None: every caller.

    What the client sees is what it would see on AWS:
    - a latency shorter than its `read_timeout`: the answer, that much later;
    - a latency of at least its `read_timeout`: botocore's ReadTimeoutError after
      `read_timeout` s (which its standard retry mode retries). With `applied` (default)
      the request was still carried out, as a service may do with a request whose answer
      is lost; a 5xx brownout carries out nothing.

    Time is compressed, not slept: for an in-process client (every LocalCloud client and
    handler) the wait is charged to the running Lambda invocation's clock, so its
    `get_remaining_time_in_millis()` shrinks and its Timeout (`Sandbox.Timedout`) applies,
    at no wall time. Behind the HTTP server (`local serve`) the server sleeps for real and
    the caller's own socket times out.
    """
    if service not in SERVICES:
        raise ValueError(f"Fault injection supports {sorted(SERVICES)}, not '{service}'")
    if latency < 0 or (times is not None and times < 1):
        raise ValueError("latency must be >= 0 and times at least 1 (or None)")
    if status is not None and not 400 <= status <= 599:
        raise ValueError(f"status must be an HTTP error status (400-599), not {status}")
    code = error_code or ""
    if status is not None and not code:
        code = _SERVER_ERRORS.get(service, _DEFAULT_SERVER_ERRORS).get(status, "InternalFailure")
    outage = Brownout(
        service=service,
        latency=float(latency),
        status=status,
        error_code=code,
        message=message or f"{service} is unavailable (injected brownout)",
        actions=frozenset(actions) if actions is not None else None,
        remaining=times,
        applied=applied,
        function=function,
    )
    with _lock:
        _hook()
        _brownouts.append(outage)
    try:
        yield outage
    finally:
        with _lock:
            if outage in _brownouts:
                _brownouts.remove(outage)
            _unhook_if_idle()


def active_faults() -> list[Fault]:
    """A snapshot of the armed faults."""
    with _lock:
        return list(_faults)


def clear() -> None:
    """Disarm every fault and rate limit (for test teardown after a failure inside a `with`)."""
    for fault in active_faults():
        _disarm(fault)
    with _lock:
        _buckets.clear()
        _brownouts.clear()
        _handler_faults.clear()
        _throttled_invocations.clear()
        _unhook_if_idle()
