"""Shared adapter plumbing: client construction and error translation."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from rollout.domain.errors import (
    AccessDenied,
    AliasChangedConcurrently,
    ServiceUnavailable,
    Throttled,
)

# botocore's standard retry mode retries throttling with exponential backoff and jitter;
# what still fails after it becomes `Throttled`, which the state machine retries.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="trafficshift",
)

# IAM refused the call (in tag mode: the function is not tagged trafficshift:managed=true).
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
)


@cache
def client(service: str) -> Any:
    """One client per service per container, built on first use (not at import)."""
    return make_client(service, CLIENT_CONFIG)


def make_client(service: str, config: Config) -> Any:
    """A botocore client for `service` in AWS_REGION, from the container's one session.

    Not boto3: `import boto3` also imports s3transfer (and through it multiprocessing and
    concurrent.futures), about 20 ms of every cold start for code no handler calls. A
    botocore client is what boto3.client() returns, less boto3's injected S3 transfer
    methods (adapters/s3.py calls s3transfer itself).
    """
    return _session().create_client(
        service, region_name=os.environ.get("AWS_REGION"), config=config
    )


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
    except BotoCoreError as exc:  # connection and read timeouts, endpoint unreachable
        raise ServiceUnavailable(f"{operation} could not be reached: {exc}") from exc
