"""Shared adapter plumbing: client construction and error translation."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

from rollout.domain.errors import (
    AccessDenied,
    AliasChangedConcurrently,
    ServiceUnavailable,
    Throttled,
)

# botocore's standard retry mode retries throttling, 5xx and timeouts with exponential
# backoff and jitter; what still fails after it becomes `Throttled` or `ServiceUnavailable`.
# Short timeouts and 3 attempts bound one call (`call_budget_seconds`: 24 s); the task
# timeouts are sized from that (infra/control_plane.py, docs/decisions.md "Time budgets
# under a brownout"), and no attempt starts that the task's deadline could cut short.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    user_agent_extra="trafficshift",
)
# What a handler keeps, after its last attempt, to finish and return before Lambda stops it.
DEADLINE_MARGIN_SECONDS = 3.0
# botocore's standard mode: a throttled attempt i (0-based) backs off up to 2**i s (max 20);
# a 5xx or a timeout at most 50 ms * 2**i.
_MAX_BACKOFF_SECONDS = 20.0

# IAM refused the call (in tag mode: the function is not tagged trafficshift:managed=true).
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
)


@cache
def client(service: str) -> Any:
    """One client per service per container, built on first use (not at import)."""
    return make_client(service, CLIENT_CONFIG)


def attempts_of(config: Config) -> int:
    retries = config.retries or {}
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    return int(retries.get("max_attempts", 2)) + 1  # max_attempts counts the retries only


def attempt_seconds(config: Config) -> float:
    """The longest one attempt takes: connecting, then waiting for the first byte."""
    return float(config.connect_timeout or 60) + float(config.read_timeout or 60)


def call_budget_seconds(config: Config) -> float:
    """The longest one call with `config` takes, every attempt used: each attempt's
    connect and read timeouts, and the throttling backoff between them (the worst case)."""
    attempts = attempts_of(config)
    backoff = sum(min(2.0**i, _MAX_BACKOFF_SECONDS) for i in range(attempts - 1))
    return attempts * attempt_seconds(config) + backoff


class TaskDeadlineNear(BotoCoreError):
    """Too little of the task's time is left for another attempt (raised before it)."""

    fmt = (
        "{operation}: {left:.1f} s left of the task, too little for another attempt "
        "({needed:.0f} s with the margin){last}"
    )


# The running invocation's `get_remaining_time_in_millis`, set by `time_budget`; one per
# thread (contextvars), so a per-invocation deadline is never baked into a cached client.
_remaining_millis: ContextVar[Callable[[], int] | None] = ContextVar(
    "trafficshift_remaining_millis", default=None
)
_LAST_ERROR = "trafficshift_last_error"


@contextmanager
def time_budget(context: Any) -> Iterator[None]:
    """Bound the AWS calls made inside by the Lambda `context`'s remaining time.

    An attempt starts only if it can end (connect + read timeout) with
    DEADLINE_MARGIN_SECONDS to spare: past that, the call fails with `TaskDeadlineNear`
    (translated to `ServiceUnavailable`), so a degraded AWS call ends as a task error the
    workflow handles (a counted health-read failure in Check, a retry elsewhere), never as
    Lambda's `Sandbox.Timedout`. A context without the method (a test's) sets no bound.
    """
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    token = _remaining_millis.set(remaining if callable(remaining) else None)
    try:
        yield
    finally:
        _remaining_millis.reset(token)


def _before_attempt(request: Any, event_name: str = "", **_: Any) -> None:
    remaining = _remaining_millis.get()
    if remaining is None:
        return
    context = getattr(request, "context", None) or {}
    config = context.get("client_config") or CLIENT_CONFIG
    needed = attempt_seconds(config) + DEADLINE_MARGIN_SECONDS
    left = remaining() / 1000
    if left < needed:
        last = context.get(_LAST_ERROR)
        raise TaskDeadlineNear(
            operation=event_name.rsplit(".", 1)[-1] or "the call",
            left=left,
            needed=needed,
            last=f"; the last attempt: {last}" if last else "",
        )


def _after_attempt(
    request_dict: Any, caught_exception: Any = None, response: Any = None, **_: Any
) -> None:
    # Kept for the message of a later TaskDeadlineNear: what the earlier attempt met.
    if caught_exception is not None:
        last = str(caught_exception)
    elif response is not None and response[1].get("Error"):
        error = response[1]["Error"]
        last = f"{error.get('Code', '')} {error.get('Message', '')}".strip()
    else:
        return
    request_dict["context"][_LAST_ERROR] = last


def make_client(service: str, config: Config) -> Any:
    """A botocore client for `service` in AWS_REGION, from the container's one session.

    Not boto3: `import boto3` also imports s3transfer (and through it multiprocessing and
    concurrent.futures), about 20 ms of every cold start for code no handler calls. A
    botocore client is what boto3.client() returns, less boto3's injected S3 transfer
    methods (adapters/s3.py calls s3transfer itself).
    """
    made = _session().create_client(
        service, region_name=os.environ.get("AWS_REGION"), config=config
    )
    # First: before the emulator's (moto's) own before-send handler answers the request.
    made.meta.events.register_first("before-send", _before_attempt)
    made.meta.events.register_first("needs-retry", _after_attempt)
    return made


@cache
def _session() -> botocore.session.Session:
    # One session per container, as boto3's default session: the service models and the
    # credentials it loads serve every client.
    return botocore.session.get_session()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(
    operation: str, on_code: dict[str, Callable[[ClientError], Exception]] | None = None
) -> Iterator[None]:
    """Turn AWS errors into domain errors that the workflow matches by name."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if on_code and code in on_code:
            raise on_code[code](exc) from exc
        if code in THROTTLING_CODES:
            raise Throttled(f"{operation} was throttled: {exc}") from exc
        if code == "PreconditionFailedException":
            raise AliasChangedConcurrently(f"{operation}: {exc}") from exc
        if code in ACCESS_DENIED_CODES:
            raise AccessDenied(f"{operation} was denied: {exc}") from exc
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status >= 500:
            raise ServiceUnavailable(f"{operation} failed ({code or status}): {exc}") from exc
        raise
    except (ReadTimeoutError, ConnectTimeoutError, TaskDeadlineNear) as exc:
        raise ServiceUnavailable(f"{operation} timed out: {exc}") from exc
    except BotoCoreError as exc:  # endpoint unreachable, connection closed
        raise ServiceUnavailable(f"{operation} could not be reached: {exc}") from exc
