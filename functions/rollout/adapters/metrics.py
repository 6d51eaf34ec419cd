"""Per-version Lambda metrics on one alias, read with GetMetricData `MetricStat` queries.

For invocations through an alias, Lambda publishes `Invocations`, `Errors` and `Duration`
with the dimensions FunctionName, Resource (= name:alias) and ExecutedVersion. Both
versions are read over the same window, on the same alias, in one call.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rollout.adapters.aws import client, translated
from rollout.domain.alias_ref import AliasRef
from rollout.domain.analysis import LAMBDA_METRIC_PERIOD_SECONDS, MinuteSeries

# The environment variable that shortens the metric "minute", for the emulator's time
# compression only: AWS/Lambda metrics are 1-minute, so on AWS it must stay unset (60).
PERIOD_ENVIRONMENT_VARIABLE = "TRAFFICSHIFT_METRIC_PERIOD_SECONDS"
_PERIODS = (1, 5, 10, 30)  # GetMetricData's periods below a minute; else multiples of 60


def metric_period_seconds() -> int:
    """Lambda's metric period (60 s), unless the emulator compresses time (see above)."""
    text = os.environ.get(PERIOD_ENVIRONMENT_VARIABLE, "")
    if not text:
        return LAMBDA_METRIC_PERIOD_SECONDS
    value = int(text)
    if value not in _PERIODS and (value <= 0 or value % 60):
        raise ValueError(f"{PERIOD_ENVIRONMENT_VARIABLE}={text} is not a CloudWatch period")
    return value


class LambdaMetrics:
    def __init__(self, cloudwatch_client: Any | None = None) -> None:
        self._client = cloudwatch_client or client("cloudwatch")

    @property
    def period_seconds(self) -> int:
        return metric_period_seconds()

    def per_minute(
        self,
        function_name: str,
        alias: str,
        versions: Sequence[str],
        start: float,
        end: float,
    ) -> dict[str, MinuteSeries]:
        """Each version's Invocations and Errors per minute, as CloudWatch has them now, and
        its p99 Duration over the whole window (None without data). `end` is a minute
        boundary: the caller asks only for minutes it may judge. A minute without a
        datapoint is left out, never read as zero."""
        period = self.period_seconds
        # Align the window to whole minutes: a bucket that starts before the rollout only
        # adds the stable version's own earlier traffic; the new one had none.
        aligned = start - start % period
        if end <= aligned:
            return {version: MinuteSeries() for version in versions}
        # p99 over ONE period spanning the whole window, for both versions: per-minute p99s
        # are biased against the version with fewer samples per minute (the new one).
        whole = 60 * max(1, math.ceil((end - aligned) / 60))
        queries = []
        for index, version in enumerate(versions):
            dimensions = [
                {"Name": "FunctionName", "Value": function_name},
                {"Name": "Resource", "Value": AliasRef(function_name, alias).qualified},
                {"Name": "ExecutedVersion", "Value": version},
            ]
            for key, metric, stat, length in (
                ("inv", "Invocations", "Sum", period),
                ("err", "Errors", "Sum", period),
                ("p99", "Duration", "p99", whole),
            ):
                queries.append(
                    {
                        "Id": f"{key}{index}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/Lambda",
                                "MetricName": metric,
                                "Dimensions": dimensions,
                            },
                            "Period": length,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
        values: dict[str, dict[int, float]] = {}
        with translated("GetMetricData"):
            pages = self._client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=datetime.fromtimestamp(aligned, tz=UTC),
                EndTime=datetime.fromtimestamp(end, tz=UTC),
            )
            for page in pages:
                for result in page.get("MetricDataResults", []):
                    found = values.setdefault(result["Id"], {})
                    for at, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    ):
                        if value is not None:
                            minute = int(at.timestamp())
                            found[minute] = found.get(minute, 0.0) + float(value)
        out: dict[str, MinuteSeries] = {}
        for index, version in enumerate(versions):
            p99 = values.get(f"p99{index}", {})
            out[version] = MinuteSeries(
                invocations=values.get(f"inv{index}", {}),
                errors=values.get(f"err{index}", {}),
                p99_ms=max(p99.values()) if p99 else None,
            )
        return out

    def alias_traffic(
        self, function_name: str, alias: str, start: float, end: float
    ) -> tuple[int, int]:
        """(invocations, errors) of the whole alias over the window, for pre-flight."""
        dimensions = [
            {"Name": "FunctionName", "Value": function_name},
            {"Name": "Resource", "Value": AliasRef(function_name, alias).qualified},
        ]
        queries = [
            {
                "Id": key,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": name,
                        "Dimensions": dimensions,
                    },
                    "Period": self.period_seconds,
                    "Stat": "Sum",
                },
            }
            for key, name in (("inv", "Invocations"), ("err", "Errors"))
        ]
        totals = {"inv": 0.0, "err": 0.0}
        with translated("GetMetricData"):
            pages = self._client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=datetime.fromtimestamp(start, tz=UTC),
                EndTime=datetime.fromtimestamp(max(end, start + 1), tz=UTC),
            )
            for page in pages:
                for result in page.get("MetricDataResults", []):
                    totals[result["Id"]] += sum(v for v in result.get("Values", []) if v)
        return round(totals["inv"]), round(totals["err"])
