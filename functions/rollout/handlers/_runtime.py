"""What every handler shares: Powertools' Logger, Tracer and Metrics, and the clock.

The pattern for a handler module (cold start: `python bench/import_time.py`, a budget of
150 ms a module; docs/decisions.md, "Cold imports"). Lambda imports the module at init:
- at the top, import what every invocation uses: this module, the use-case module and
  the adapters the handler builds; a rollout task also takes `ledger()`/`events()` from
  `_ports`. Nothing moves into the first invocation that every invocation needs.
- import here nothing but Powertools (and `adapters.aws`, which every handler's adapters
  import anyway): the artifact handlers share it and use no ledger.
- never import boto3 (it imports s3transfer, ~20 ms): build clients with
  `rollout.adapters.aws.client(service)`, or `make_client(service, config)` for a
  client of your own config.
- import inside the function only what a rare path needs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from rollout.adapters.aws import time_budget

# The service name comes from POWERTOOLS_SERVICE_NAME; each log line carries the
# execution ARN as correlation id (inject_lambda_context(correlation_id_path=...)).
logger = Logger()
# Only botocore is patched: it is the one library the handlers call out with, and
# patch_all() would import (and wrap) requests, httplib, sqlite3, ... at cold start.
tracer = Tracer(patch_modules=("botocore",))
CORRELATION_ID_PATH = "executionId"

# Rollout counters; the dashboard and its template tests use the same names.
ROLLOUTS_STARTED = "RolloutsStarted"
ROLLOUTS_PROMOTED = "RolloutsPromoted"
ROLLOUTS_ROLLED_BACK = "RolloutsRolledBack"
STEP_DURATION = "StepDuration"

Handler = TypeVar("Handler", bound=Callable[..., Any])


# The handlers' one clock: time.time, always, on AWS. The emulator's opt-in virtual clock
# (trafficshift.emulator.clock) swaps it, so that days of Waits run in seconds.
_clock: Callable[[], float] = time.time


def now() -> float:
    return _clock()


def log_metrics(handler: Handler) -> Handler:
    """Publish what the invocation counted (one EMF record), even when it raises; and bound
    the invocation's AWS calls by its remaining time (`aws.time_budget`: no attempt starts
    that Lambda's timeout would cut short).

    Powertools' own `metrics.log_metrics` does the same but warns on every invocation that
    counted nothing, and most Checks only keep baking: for us that is normal, not a mistake.
    It would also fail the invocation if the metrics could not be serialized.
    """

    @functools.wraps(handler)
    def publishing(event: Any, context: Any) -> Any:
        try:
            with time_budget(context):
                return handler(event, context)
        finally:
            _flush()

    return publishing  # type: ignore[return-value]


def _flush() -> None:
    metrics = _metrics()
    if not metrics.metric_set:
        return
    try:
        metrics.flush_metrics()
    except Exception:
        # A metric is never worth failing (and so reverting) a rollout for.
        logger.exception("could not publish the rollout metrics")
        metrics.clear_metrics()


def log_deployment_keys(event: Mapping[str, Any]) -> None:
    """Put the function and alias on every log line of this invocation.

    Read from the state document once Prepare has run, else from the user's input; a
    missing value is left out of the log line (Powertools drops None keys).
    """
    state = event.get("state")
    deployment = state.get("deployment") if isinstance(state, Mapping) else None
    source = deployment if isinstance(deployment, Mapping) else event.get("input")
    if not isinstance(source, Mapping):
        return
    logger.append_keys(function=source.get("functionName"), alias=source.get("alias"))


def count(name: str, **metadata: Any) -> None:
    """Add 1 to the rollout counter `name`; `metadata` rides along in the EMF record."""
    _add(name, MetricUnit.Count, 1, metadata)


def seconds(name: str, value: float, **metadata: Any) -> None:
    _add(name, MetricUnit.Seconds, max(0.0, value), metadata)


def _metrics() -> Metrics:
    """Powertools' Metrics, made when used: it reads its namespace (POWERTOOLS_METRICS_NAMESPACE,
    TrafficShift) and service (the `service` dimension the dashboard reads) from the
    environment when it is made, and configuration is read when the handler runs. Every
    instance shares one metric set, so what `count` adds, the flush publishes."""
    return Metrics()


def _add(name: str, unit: MetricUnit, value: float, metadata: Mapping[str, Any]) -> None:
    metrics = _metrics()
    metrics.add_metric(name=name, unit=unit, value=value)
    for key, item in metadata.items():
        if item is not None:
            metrics.add_metadata(key=key, value=item)
