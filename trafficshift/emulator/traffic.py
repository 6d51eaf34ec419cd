"""Simulated traffic on a Lambda alias, with what each version saw.

It only invokes: the emulator's invoke seam publishes the AWS/Lambda metrics of every
invocation, as Lambda does, whoever invokes (see `lambda_metrics`). Its own counts are the
truth a test compares those metrics and the rollout's verdicts with.
"""

from __future__ import annotations

import collections
import json
import logging
import random
import threading
import time
from types import TracebackType
from typing import Any, TypedDict

from trafficshift.emulator.lambda_metrics import simulated_duration_ms

__all__ = ["TrafficGenerator", "VersionStats"]

logger = logging.getLogger(__name__)


class VersionStats(TypedDict):
    """What one executed version saw since the start."""

    invocations: int
    errors: int
    total_duration_ms: float


class TrafficGenerator:
    """Invoke `function_name:alias` at a steady rate in a background thread.

    Bounded: it stops on `stop()`, or by itself after `max_duration_seconds`.
    """

    def __init__(
        self,
        lam: Any,
        function_name: str,
        alias: str,
        rate_per_second: float = 20.0,
        seed: int | None = None,
        *,
        max_duration_seconds: float = 600.0,
        history_seconds: float = 900.0,
    ) -> None:
        if rate_per_second <= 0 or max_duration_seconds <= 0:
            raise ValueError("rate and max duration must be positive")
        self._lam = lam
        self.function_name = function_name
        self.alias = alias
        self.rate_per_second = rate_per_second
        self.max_duration_seconds = max_duration_seconds
        self._history_seconds = history_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stats: dict[str, VersionStats] = {}
        self._history: collections.deque[tuple[float, str, bool]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client_errors = 0  # invocations that raised (throttled, function deleted, ...)

    @property
    def resource(self) -> str:
        return f"{self.function_name}:{self.alias}"

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> TrafficGenerator:
        if self._thread is not None:
            raise RuntimeError("TrafficGenerator already started")
        self._thread = threading.Thread(
            target=self._run, name=f"traffic-{self.resource}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> TrafficGenerator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what it exposes ------------------------------------------------------------

    def stats(self) -> dict[str, VersionStats]:
        """Invocations, errors and summed duration per executed version, since the start."""
        with self._lock:
            return {version: VersionStats(**counts) for version, counts in self._stats.items()}

    def recent_totals(self, window_seconds: float) -> tuple[int, int]:
        """(errors, invocations) over every version in the last `window_seconds`."""
        since = time.monotonic() - window_seconds
        with self._lock:
            outcomes = [error for t, _, error in self._history if t >= since]
        return sum(outcomes), len(outcomes)

    def recent_invocations(self, version: str, window_seconds: float) -> int:
        since = time.monotonic() - window_seconds
        with self._lock:
            return sum(1 for t, v, _ in self._history if v == version and t >= since)

    def recent_error_rate(self, version: str, window_seconds: float) -> float | None:
        """Errors / invocations of `version` in the last `window_seconds` (None: no traffic)."""
        since = time.monotonic() - window_seconds
        with self._lock:
            outcomes = [error for t, v, error in self._history if v == version and t >= since]
        return sum(outcomes) / len(outcomes) if outcomes else None

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_second
        started = time.monotonic()
        deadline = started + self.max_duration_seconds
        next_call = started
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                break
            if now < next_call:
                self._stop.wait(min(next_call, deadline) - now)
                continue
            self._invoke_once()
            next_call += interval
            if next_call < now - 1.0:  # fell behind: do not burst
                next_call = now

    def _invoke_once(self) -> None:
        payload = {"requestId": f"{self._rng.getrandbits(64):016x}", "source": "trafficshift"}
        started = time.perf_counter()
        try:
            response = self._lam.invoke(
                FunctionName=self.resource, Payload=json.dumps(payload).encode()
            )
            body = response["Payload"].read()
        except Exception:
            with self._lock:
                self.client_errors += 1
            logger.debug("Invoke of %s failed", self.resource, exc_info=True)
            return
        duration_ms = (time.perf_counter() - started) * 1000
        version = str(response.get("ExecutedVersion") or "$LATEST")
        error = "FunctionError" in response
        if not error:
            duration_ms = simulated_duration_ms(body, duration_ms)
        now = time.monotonic()
        with self._lock:
            counts = self._stats.setdefault(
                version, VersionStats(invocations=0, errors=0, total_duration_ms=0.0)
            )
            counts["invocations"] += 1
            counts["errors"] += int(error)
            counts["total_duration_ms"] += duration_ms
            self._history.append((now, version, error))
            while self._history and self._history[0][0] < now - self._history_seconds:
                self._history.popleft()
