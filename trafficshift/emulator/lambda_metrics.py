"""The AWS/Lambda metrics of every invocation, delivered as Lambda delivers them.

AWS (Lambda developer guide: "Using CloudWatch metrics with Lambda" (monitoring-metrics),
"Types of metrics for Lambda functions" (monitoring-metrics-types) and "Viewing metrics"):
- when an invocation finishes, Lambda sends `Invocations`, `Errors` (Sum: an invocation
  counts 0 or 1) and `Duration` (ms) to CloudWatch, "in 1-minute intervals";
- the timestamp is when the function was invoked, which "can be several minutes before the
  metric is emitted"; metrics reach CloudWatch a minute or more late, and each on its own;
- dimension sets: FunctionName ("aggregate metrics for all versions and aliases"), Resource
  ("a version or alias", with FunctionName), ExecutedVersion ("a combination of alias and
  version", only for invocations through an alias), and none ("across all functions").

moto 5.2 publishes no metric when a function is invoked: an analysis of real traffic on
`local serve` saw "0 requests".

Here: the invoke seam (`fidelity.lambda_._run_in_process`) calls :func:`record` once per
invocation; counts are aggregated per minute and per dimension set, and each metric of each
minute lands in moto's CloudWatch backend when it is due: `delay_seconds` after the minute
ends plus an independent random lag of up to `jitter_seconds`. Delivery is lazy: datapoints
that are due are written before every metric read (GetMetricData, GetMetricStatistics,
ListMetrics), so no thread runs.

Time compression: :data:`AWS_LIKE` has real minutes. :func:`compressed` keeps its shape
(1 minute late, up to 2 more) on a shorter "minute", e.g. 1 s; the control plane's Check
then reads periods of that length (`TRAFFICSHIFT_METRIC_PERIOD_SECONDS`, which LocalCloud
sets). :data:`IMMEDIATE` is the demo's fast mode: 1 s minutes, delivered as they end.
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AWS_LIKE",
    "IMMEDIATE",
    "METRICS",
    "Delivery",
    "compressed",
    "configure",
    "current",
    "record",
    "record_invocation",
    "simulated_duration_ms",
]

METRICS = ("Invocations", "Errors", "Duration")
_MAX_DURATION_VALUES = 150  # PutMetricData's limit of distinct Values in one datum
_PERIODS_BELOW_A_MINUTE = (1, 5, 10, 30)  # GetMetricData's periods below 60 s


@dataclass(frozen=True)
class Delivery:
    """How the emulator delivers Lambda's metrics.

    minute_seconds: the aggregation period (60 on AWS); a CloudWatch period (1, 5, 10, 30 or
        a multiple of 60), so that GetMetricData can read it back minute by minute.
    delay_seconds: how long after its minute ends a metric lands, at the earliest.
    jitter_seconds: each metric of each minute (and dimension set) lands up to this much
        later again, drawn independently: Invocations may land before Errors, or after.
    seed: seeds the lags, for reproducible tests.
    """

    minute_seconds: int = 60
    delay_seconds: float = 60.0
    jitter_seconds: float = 120.0
    seed: int | None = None

    def __post_init__(self) -> None:
        minute = self.minute_seconds
        if minute not in _PERIODS_BELOW_A_MINUTE and (minute <= 0 or minute % 60):
            raise ValueError(f"minute_seconds={minute} is not a CloudWatch period")
        if self.delay_seconds < 0 or self.jitter_seconds < 0:
            raise ValueError("delay and jitter cannot be negative")

    @property
    def latest_seconds(self) -> float:
        """The latest a minute's metrics land, counted from the minute's end."""
        return self.delay_seconds + self.jitter_seconds


AWS_LIKE = Delivery()
"""Real minutes, each metric 1 to 3 minutes late, independently."""

IMMEDIATE = Delivery(minute_seconds=1, delay_seconds=0.0, jitter_seconds=0.0)
"""The demo's fast mode: 1-second "minutes", delivered as soon as they end."""


def compressed(minute_seconds: int = 1, seed: int | None = None) -> Delivery:
    """AWS_LIKE on a shorter minute: 1 minute late, then up to 2 more, independently."""
    scale = minute_seconds / AWS_LIKE.minute_seconds
    return Delivery(
        minute_seconds=minute_seconds,
        delay_seconds=AWS_LIKE.delay_seconds * scale,
        jitter_seconds=AWS_LIKE.jitter_seconds * scale,
        seed=seed,
    )


@dataclass
class _Pending:
    """One metric of one minute and dimension set, not yet delivered."""

    due_at: float
    invocations: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)


_Dimensions = tuple[tuple[str, str], ...]
# (account, region, minute start, dimensions, metric)
_Key = tuple[str, str, int, _Dimensions, str]


class _Publisher:
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self._rng = random.Random(delivery.seed)
        self._lock = threading.Lock()
        self._pending: dict[_Key, _Pending] = {}
        self.delivered = 0  # datapoints written to CloudWatch

    def record(
        self,
        account: str,
        region: str,
        dimension_sets: list[_Dimensions],
        *,
        error: bool,
        duration_ms: float,
        invoked_at: float,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        minute = self.delivery.minute_seconds
        start = int(math.floor(invoked_at / minute) * minute)
        ends = start + minute
        with self._lock:
            for dimensions in dimension_sets:
                for metric in METRICS:
                    key = (account, region, start, dimensions, metric)
                    pending = self._pending.get(key)
                    if pending is None:
                        # A late invocation of a minute already delivered lands separately,
                        # as Lambda's late datapoints do; CloudWatch sums them.
                        lag = self.delivery.delay_seconds
                        lag += self._rng.uniform(0, self.delivery.jitter_seconds)
                        pending = self._pending[key] = _Pending(max(ends, now) + lag)
                    pending.invocations += 1
                    pending.errors += int(error)
                    pending.durations.append(duration_ms)

    def deliver_due(self, backend: Any, now: float | None = None) -> int:
        """Write every due datapoint of the backend's account and region; return how many."""
        now = time.time() if now is None else now
        account, region = str(backend.account_id), str(backend.region_name)
        with self._lock:
            due = [
                (key, pending)
                for key, pending in self._pending.items()
                if key[0] == account and key[1] == region and pending.due_at <= now
            ]
            for key, _ in due:
                del self._pending[key]
        data = [_datum(key, pending) for key, pending in due]
        for start in range(0, len(data), 1000):
            backend.put_metric_data("AWS/Lambda", data[start : start + 1000])
        with self._lock:
            self.delivered += len(data)
        return len(data)

    def undelivered(self) -> int:
        with self._lock:
            return len(self._pending)


def _datum(key: _Key, pending: _Pending) -> dict[str, Any]:
    _, _, start, dimensions, metric = key
    common: dict[str, Any] = {
        "MetricName": metric,
        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
        # naive UTC, as moto's parsed requests hold their timestamps
        "Timestamp": datetime.datetime.fromtimestamp(start, tz=datetime.UTC).replace(tzinfo=None),
    }
    if metric == "Invocations":
        return {**common, "Unit": "Count", "Value": float(pending.invocations)}
    if metric == "Errors":
        return {**common, "Unit": "Count", "Value": float(pending.errors)}
    # Values/Counts (whole milliseconds), as Lambda's raw datapoints: CloudWatch derives
    # percentiles such as p99 from these. At most 150 distinct values in one datum: coarsen
    # the resolution until they fit, rather than drop the slow tail that p99 is about.
    resolution = 1
    counts = collections.Counter(round(d) for d in pending.durations)
    while len(counts) > _MAX_DURATION_VALUES:
        resolution *= 2
        counts = collections.Counter(round(d / resolution) * resolution for d in pending.durations)
    values = sorted(counts)
    return {
        **common,
        "Unit": "Milliseconds",
        "Values": [float(v) for v in values],
        "Counts": [float(counts[v]) for v in values],
    }


_publisher = _Publisher(AWS_LIKE)
_configure_lock = threading.Lock()


def configure(delivery: Delivery) -> None:
    """Deliver from now on as `delivery` says; metrics not yet delivered are dropped."""
    global _publisher
    with _configure_lock:
        _publisher = _Publisher(delivery)


def current() -> Delivery:
    return _publisher.delivery


def dimension_sets(
    function_name: str, qualifier: str | None, executed_version: str
) -> list[_Dimensions]:
    """Lambda's dimension sets for one invocation of `function_name[:qualifier]`."""
    function = ("FunctionName", function_name)
    sets: list[_Dimensions] = [(), (function,)]
    if qualifier and qualifier != "$LATEST":
        resource = ("Resource", f"{function_name}:{qualifier}")
        sets.append((function, resource))
        if not qualifier.isdigit():  # an alias: the version it ran, too
            sets.append((function, resource, ("ExecutedVersion", executed_version)))
    return sets


def record(
    backend: Any,
    function_name: str,
    qualifier: str | None,
    executed_version: str,
    *,
    error: bool,
    duration_ms: float,
    invoked_at: float,
) -> None:
    """Count one invocation of `function_name[:qualifier]` that ran `executed_version`."""
    _publisher.record(
        str(backend.account_id),
        str(backend.region_name),
        dimension_sets(function_name, qualifier, executed_version),
        error=error,
        duration_ms=duration_ms,
        invoked_at=invoked_at,
    )


def record_invocation(
    backend: Any,
    function_name: str,
    qualifier: str | None,
    executed_version: str,
    *,
    payload: bytes,
    failed: bool,
    started_at: float,
) -> None:
    """The invoke seam's hook: count an invocation that started at `started_at` (epoch s)."""
    measured_ms = (time.time() - started_at) * 1000
    record(
        backend,
        function_name,
        qualifier,
        executed_version,
        error=failed,
        duration_ms=simulated_duration_ms(payload, measured_ms) if not failed else measured_ms,
        invoked_at=started_at,
    )


def deliver_due(backend: Any, now: float | None = None) -> int:
    """Write the datapoints that are due into `backend` (a moto CloudWatchBackend)."""
    return _publisher.deliver_due(backend, now)


def undelivered() -> int:
    """How many metric datapoints are still on their way."""
    return _publisher.undelivered()


def simulated_duration_ms(body: bytes, measured_ms: float) -> float:
    """The Duration to report: a sample function's simulated `latencyMs` (it does not sleep
    for it, see `sample`), else the time the handler took."""
    try:
        result = json.loads(body)
    except ValueError:
        return measured_ms
    latency = result.get("latencyMs") if isinstance(result, dict) else None
    return float(latency) if isinstance(latency, int | float) else measured_ms


def delivers_on_read() -> list[Any]:
    """Fidelity patch: CloudWatch reads see the Lambda metrics that are due by now."""
    from moto.cloudwatch.models import CloudWatchBackend

    from trafficshift.emulator.fidelity._common import _Replacement

    def build(original: Any) -> Any:
        def read(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Any:
            deliver_due(self)
            return original(self, *args, **kwargs)

        return read

    return [
        _Replacement(CloudWatchBackend, name, build)
        for name in ("get_metric_data", "get_metric_statistics", "list_metrics")
    ]
