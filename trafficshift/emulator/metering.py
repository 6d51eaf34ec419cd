"""Count the AWS API calls that reach the emulator, by service and action.

For the benchmark and for tests that pin how many Lambda control-plane calls a deployment
makes (Lambda's control plane shares 15 requests per second per account and region).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from moto.core.responses import BaseResponse

# Lambda actions that count against the shared control-plane rate (everything but Invoke).
LAMBDA_DATA_PLANE = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})


class ApiCalls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def add(self, service: str, action: str) -> None:
        with self._lock:
            self.counts[(service, action)] += 1

    def of(self, service: str) -> dict[str, int]:
        with self._lock:
            return {a: n for (s, a), n in self.counts.items() if s == service}

    def lambda_control_plane(self) -> int:
        return sum(n for a, n in self.of("lambda").items() if a not in LAMBDA_DATA_PLANE)


@contextlib.contextmanager
def count_api_calls() -> Iterator[ApiCalls]:
    """Count every request moto answers while the block runs (not re-entrant)."""
    calls = ApiCalls()
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        with contextlib.suppress(Exception):  # counting must never break a call
            calls.add(self.boto3_service_name, self._get_action())
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseResponse.call_action = original  # type: ignore[method-assign]
