"""Simulated traffic on a Lambda alias, publishing the metrics Lambda itself would.

moto publishes no AWS/Lambda metrics when a function is invoked (facts: "Alarms are never
evaluated from metrics"), so the generator does: for invocations through an alias, Lambda
publishes `Invocations`, `Errors` (Count) and `Duration` (Milliseconds) with the dimension
sets [FunctionName], [FunctionName, Resource=name:alias] and
[FunctionName, Resource, ExecutedVersion] (Lambda guide: monitoring-metrics). Here they are
aggregated per `period_seconds` and timestamped at the start of the period; unlike AWS
they arrive at once.

Only for the emulator: AWS refuses PutMetricData into an `AWS/` namespace.
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypedDict

__all__ = ["TrafficGenerator", "VersionStats"]

logger = logging.getLogger(__name__)

_MAX_PUT_METRIC_DATA = 1000


class VersionStats(TypedDict):
    """What one executed version saw since the start."""

    invocations: int
    errors: int
    total_duration_ms: float


@dataclass
class _Bucket:
    invocations: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)

    def add(self, error: bool, duration_ms: float) -> None:
        self.invocations += 1
        self.errors += int(error)
        self.durations.append(duration_ms)

    def merge(self, other: _Bucket) -> None:
        self.invocations += other.invocations
        self.errors += other.errors
        self.durations.extend(other.durations)


class TrafficGenerator:
    """Invoke `function_name:alias` at a steady rate in a background thread.

    Bounded: it stops on `stop()`, or by itself after `max_duration_seconds`.
    """

    def __init__(
        self,
        lam: Any,
        cw: Any,
        function_name: str,
        alias: str,
        rate_per_second: float = 20.0,
        period_seconds: float = 1.0,
        seed: int | None = None,
        *,
        max_duration_seconds: float = 600.0,
        publish_metrics: bool = True,
        history_seconds: float = 900.0,
    ) -> None:
        if rate_per_second <= 0 or period_seconds <= 0 or max_duration_seconds <= 0:
            raise ValueError("rate, period and max duration must be positive")
        self._lam = lam
        self._cw = cw
        self.function_name = function_name
        self.alias = alias
        self.rate_per_second = rate_per_second
        self.period_seconds = period_seconds
        self.max_duration_seconds = max_duration_seconds
        self.publish_metrics = publish_metrics
        self._history_seconds = history_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stats: dict[str, VersionStats] = {}
        self._history: collections.deque[tuple[float, str, bool]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client_errors = 0  # invocations that raised (throttled, function deleted, ...)
        self.periods_published = 0
        self.publish_errors = 0

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
        period_end = started + self.period_seconds
        period_start_wall = time.time()
        buckets: dict[str, _Bucket] = {}
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                if now >= period_end:
                    self._publish(buckets, period_start_wall)
                    buckets = {}
                    period_start_wall = time.time()
                    period_end = now + self.period_seconds
                if now < next_call:
                    self._stop.wait(min(next_call, period_end, deadline) - now)
                    continue
                self._invoke_once(buckets)
                next_call += interval
                if next_call < now - self.period_seconds:  # fell behind: do not burst
                    next_call = now
        finally:
            self._publish(buckets, period_start_wall)

    def _invoke_once(self, buckets: dict[str, _Bucket]) -> None:
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
            duration_ms = _simulated_latency(body, duration_ms)
        buckets.setdefault(version, _Bucket()).add(error, duration_ms)
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

    def _publish(self, buckets: dict[str, _Bucket], period_start: float) -> None:
        if not buckets or not self.publish_metrics:
            return
        timestamp = datetime.datetime.fromtimestamp(period_start, tz=datetime.UTC)
        function = {"Name": "FunctionName", "Value": self.function_name}
        resource = {"Name": "Resource", "Value": self.resource}
        total = _Bucket()
        for bucket in buckets.values():
            total.merge(bucket)
        data = _metric_data([function], total, timestamp)
        data += _metric_data([function, resource], total, timestamp)
        for version, bucket in sorted(buckets.items()):
            executed = {"Name": "ExecutedVersion", "Value": version}
            data += _metric_data([function, resource, executed], bucket, timestamp)
        try:
            for start in range(0, len(data), _MAX_PUT_METRIC_DATA):
                chunk = data[start : start + _MAX_PUT_METRIC_DATA]
                self._cw.put_metric_data(Namespace="AWS/Lambda", MetricData=chunk)
        except Exception:
            self.publish_errors += 1
            logger.warning("Publishing AWS/Lambda metrics failed", exc_info=True)
        else:
            self.periods_published += 1


def _simulated_latency(body: bytes, measured_ms: float) -> float:
    try:
        result = json.loads(body)
    except ValueError:
        return measured_ms
    latency = result.get("latencyMs") if isinstance(result, dict) else None
    return float(latency) if isinstance(latency, int | float) else measured_ms


def _metric_data(
    dimensions: list[dict[str, str]], bucket: _Bucket, timestamp: datetime.datetime
) -> list[dict[str, Any]]:
    common = {"Dimensions": dimensions, "Timestamp": timestamp}
    data: list[dict[str, Any]] = [
        {**common, "MetricName": "Invocations", "Unit": "Count", "Value": bucket.invocations},
        {**common, "MetricName": "Errors", "Unit": "Count", "Value": bucket.errors},
    ]
    if bucket.durations:
        # Values/Counts (whole milliseconds), as Lambda's raw datapoints: CloudWatch derives
        # percentiles such as p99 from these, never from StatisticValues sets.
        # PutMetricData takes at most 150 distinct values: coarsen the resolution until
        # they fit, rather than dropping the slow tail that p99 is about.
        resolution = 1
        counts = collections.Counter(round(d) for d in bucket.durations)
        while len(counts) > 150:
            resolution *= 2
            counts = collections.Counter(
                round(d / resolution) * resolution for d in bucket.durations
            )
        values = sorted(counts)
        data.append(
            {
                **common,
                "MetricName": "Duration",
                "Unit": "Milliseconds",
                "Values": [float(v) for v in values],
                "Counts": [float(counts[v]) for v in values],
            }
        )
    return data
