"""Invoking the user's hook functions (synchronously, once, with a bounded wait)."""

from __future__ import annotations

import json
import time
from typing import Any

from rollout.adapters.aws import CLIENT_CONFIG, make_client, translated
from rollout.domain.errors import (
    ACCESS_FIX,
    AccessDenied,
    HookFailed,
    NotFound,
    access_refused,
)

# Lambda answers a synchronous invoke when the function returns; the read timeout is the
# hook's own bound plus the connection's slack.
_READ_SLACK_SECONDS = 15


class HookInvoker:
    """Calls one hook function with the deployment's context and returns its answer."""

    def __init__(self, timeout_seconds: int, lambda_client: Any | None = None) -> None:
        self._timeout = timeout_seconds
        self._client = lambda_client or _client(timeout_seconds + _READ_SLACK_SECONDS)

    def invoke(self, reference: str, context: dict[str, Any]) -> tuple[str | None, bytes]:
        """(FunctionError or None, the raw answer). A read timeout is a HookFailed."""
        from botocore.exceptions import ReadTimeoutError

        try:
            with translated(
                "Invoke", {"ResourceNotFoundException": lambda exc: NotFound(str(exc))}
            ):
                started = time.monotonic()
                try:
                    answer = self._client.invoke(
                        FunctionName=reference,
                        InvocationType="RequestResponse",
                        Payload=json.dumps(context).encode(),
                    )
                except ReadTimeoutError as exc:
                    raise HookFailed(
                        f"hook {reference} did not answer within {self._timeout} s"
                    ) from exc
        except NotFound as exc:
            raise HookFailed(f"hook function {reference} does not exist: {exc}") from exc
        except AccessDenied as exc:
            fix = ACCESS_FIX.replace("the function", "the hook function")
            raise HookFailed(access_refused("invoke the hook", reference, exc, fix=fix)) from exc
        took = time.monotonic() - started
        if took > self._timeout:
            raise HookFailed(
                f"hook {reference} took {took:.0f} s, more than hooks.timeoutSeconds="
                f"{self._timeout}"
            )
        payload = answer.get("Payload")
        body = payload.read() if hasattr(payload, "read") else (payload or b"")
        return answer.get("FunctionError"), body


def _client(read_timeout: int) -> Any:
    # Its own client: a long read timeout, and a single attempt. Retrying a synchronous
    # invoke that timed out would run the hook twice; a throttled one becomes Throttled,
    # which the state machine retries (the hook never ran).
    from botocore.config import Config

    config = CLIENT_CONFIG.merge(
        Config(read_timeout=read_timeout, retries={"mode": "standard", "total_max_attempts": 1})
    )
    return make_client("lambda", config)
