"""Per-version Lambda metrics on one alias, read with GetMetricData `MetricStat` queries.

For invocations through an alias, Lambda publishes `Invocations`, `Errors` and `Duration`
with the dimensions FunctionName, Resource (= name:alias) and ExecutedVersion. Both
versions are read over the same window, on the same alias, in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rollout.adapters.aws import client, translated

# AWS/Lambda metrics are published per minute; summing 60 s buckets over the window gives
# the window's totals. (The emulator publishes at 1 s; 60 s buckets sum those just the same.)
PERIOD_SECONDS = 60


@dataclass(frozen=True)
class VersionMetrics:
    invocations: int
    errors: int
    p99_ms: float | None  # the highest per-minute p99 seen in the window; None without data
    datapoints: int  # minutes with data: 0 means "nothing arrived yet", never "healthy"


class LambdaMetrics:
    def __init__(self, cloudwatch_client: Any | None = None) -> None:
        self._client = cloudwatch_client or client("cloudwatch")

    def per_version(
        self,
        function_name: str,
        alias: str,
        versions: Sequence[str],
        start: float,
        end: float,
    ) -> dict[str, VersionMetrics]:
        queries = []
        for index, version in enumerate(versions):
            dimensions = [
                {"Name": "FunctionName", "Value": function_name},
                {"Name": "Resource", "Value": f"{function_name}:{alias}"},
                {"Name": "ExecutedVersion", "Value": version},
            ]
            for key, metric, stat in (
                ("inv", "Invocations", "Sum"),
                ("err", "Errors", "Sum"),
                ("p99", "Duration", "p99"),
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
                            "Period": PERIOD_SECONDS,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
        # Align the window to whole minutes: a bucket that starts before the rollout only
        # adds the stable version's own earlier traffic; the new one had none.
        start_at = datetime.fromtimestamp(start - start % PERIOD_SECONDS, tz=UTC)
        end_at = datetime.fromtimestamp(max(end, start + 1), tz=UTC)
        values: dict[str, list[float]] = {}
        with translated("GetMetricData"):
            pages = self._client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries, StartTime=start_at, EndTime=end_at
            )
            for page in pages:
                for result in page.get("MetricDataResults", []):
                    found = [float(v) for v in result.get("Values", []) if v is not None]
                    values.setdefault(result["Id"], []).extend(found)
        out: dict[str, VersionMetrics] = {}
        for index, version in enumerate(versions):
            invocations = values.get(f"inv{index}", [])
            p99 = values.get(f"p99{index}", [])
            out[version] = VersionMetrics(
                invocations=round(sum(invocations)),
                errors=round(sum(values.get(f"err{index}", []))),
                p99_ms=max(p99) if p99 else None,
                datapoints=len(invocations),
            )
        return out
