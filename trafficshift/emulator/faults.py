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

Faults apply to the services that speak a JSON protocol: Lambda, Step Functions,
DynamoDB, EventBridge and CloudWatch Logs. They are process-wide:
the emulator's server, the state machine interpreter and the handlers all see them.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

from trafficshift.emulator import lambda_runtime
from trafficshift.emulator.metering import LAMBDA_DATA_PLANE

__all__ = [
    "CONTROL_PLANE_EXEMPT",
    "Fault",
    "HandlerFault",
    "TokenBucket",
    "active_faults",
    "clear",
    "control_plane_rate_limit",
    "handler_fault",
    "inject_error",
    "throttle",
]

JSON_SERVICES = frozenset({"lambda", "stepfunctions", "dynamodb", "events", "logs"})

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


_lock = threading.Lock()
_faults: list[Fault] = []
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


def _call_action(self: BaseResponse) -> Any:
    if _faults or _buckets or _handler_faults or _throttled_invocations:
        try:
            service, action = self.boto3_service_name, self._get_action()
        except Exception:
            service, action = "", ""
        fault = _take(service, action) if _faults else None
        if fault is None and _throttled_invocations:
            fault = _throttled_invocation(service, action)
        if fault is None and _buckets:
            fault = _rate_limited(service, action)
        if fault is not None:
            error = _InjectedError(fault)
            return error.code, dict(error.get_headers()), error.description
        result = _original_call_action(self)
        if _handler_faults:
            _after_call(service, action, result)
        return result
    return _original_call_action(self)


def _hook() -> None:
    """Route moto's requests through `_call_action` (call with `_lock` held)."""
    global _original_call_action
    if _original_call_action is None:
        _original_call_action = BaseResponse.call_action
        BaseResponse.call_action = _call_action  # type: ignore[method-assign]


def _unhook_if_idle() -> None:
    """Give moto its own `call_action` back once nothing is armed (call with `_lock` held)."""
    global _original_call_action
    idle = not (_faults or _buckets or _handler_faults or _throttled_invocations)
    if idle and _original_call_action is not None:
        BaseResponse.call_action = _original_call_action  # type: ignore[method-assign]
        _original_call_action = None


def _arm(fault: Fault) -> None:
    if fault.service not in JSON_SERVICES:
        raise ValueError(f"Fault injection supports {sorted(JSON_SERVICES)}, not '{fault.service}'")
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
        _handler_faults.clear()
        _throttled_invocations.clear()
        _unhook_if_idle()
