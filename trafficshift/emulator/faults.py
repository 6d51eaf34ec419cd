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
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

__all__ = [
    "Fault",
    "active_faults",
    "clear",
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


_lock = threading.Lock()
_faults: list[Fault] = []
_original_call_action: Any = None


def _take(service: str, action: str) -> Fault | None:
    with _lock:
        for fault in _faults:
            if fault.remaining > 0 and fault.service == service and fault.action == action:
                fault.remaining -= 1
                fault.injected += 1
                return fault
    return None


def _call_action(self: BaseResponse) -> Any:
    if _faults:
        try:
            service, action = self.boto3_service_name, self._get_action()
        except Exception:
            service, action = "", ""
        fault = _take(service, action)
        if fault is not None:
            error = _InjectedError(fault)
            return error.code, dict(error.get_headers()), error.description
    return _original_call_action(self)


def _arm(fault: Fault) -> None:
    global _original_call_action
    if fault.service not in JSON_SERVICES:
        raise ValueError(f"Fault injection supports {sorted(JSON_SERVICES)}, not '{fault.service}'")
    if fault.remaining < 1:
        raise ValueError("times must be at least 1")
    with _lock:
        if _original_call_action is None:
            _original_call_action = BaseResponse.call_action
            BaseResponse.call_action = _call_action  # type: ignore[method-assign]
        _faults.append(fault)


def _disarm(fault: Fault) -> None:
    global _original_call_action
    with _lock:
        if fault in _faults:
            _faults.remove(fault)
        if not _faults and _original_call_action is not None:
            BaseResponse.call_action = _original_call_action  # type: ignore[method-assign]
            _original_call_action = None


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
        extra_body = {"Type": "User", "Reason": "CallerRateLimitExceeded"}
        extra_headers = {"Retry-After": "1"}
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


def active_faults() -> list[Fault]:
    """A snapshot of the armed faults."""
    with _lock:
        return list(_faults)


def clear() -> None:
    """Disarm every fault (for test teardown after a failure inside a `with`)."""
    for fault in active_faults():
        _disarm(fault)
