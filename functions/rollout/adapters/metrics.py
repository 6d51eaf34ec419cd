"""Per-version Lambda metrics on one alias, read with GetMetricData `MetricStat` queries.

For invocations through an alias, Lambda publishes `Invocations`, `Errors` and `Duration`
with the dimensions FunctionName, Resource (= name:alias) and ExecutedVersion. Both
versions are read over the same window, on the same alias, in one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rollout.adapters.aws import client, translated
from rollout.domain.analysis import VersionSample

# AWS/Lambda metrics are published per minute; summing 60 s buckets over the window gives
# the window's totals. (The emulator publishes at 1 s; 60 s buckets sum those just the same.)
PERIOD_SECONDS = 60


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
    ) -> dict[str, VersionSample]:
        """Cumulative counts per version; p99 is over the whole window
        (None without data). No datapoint gives zero invocations: undecided, never healthy."""
        # Align the window to whole minutes: a bucket that starts before the rollout only
        # adds the stable version's own earlier traffic; the new one had none.
        aligned = start - start % PERIOD_SECONDS
        # p99 over ONE period spanning the whole window, for both versions: per-minute p99s
        # are biased against the version with fewer samples per minute (the new one).
        whole = PERIOD_SECONDS * max(1, math.ceil((max(end, start + 1) - aligned) / PERIOD_SECONDS))
        queries = []
        for index, version in enumerate(versions):
            dimensions = [
                {"Name": "FunctionName", "Value": function_name},
                {"Name": "Resource", "Value": f"{function_name}:{alias}"},
                {"Name": "ExecutedVersion", "Value": version},
            ]
            for key, metric, stat, period in (
                ("inv", "Invocations", "Sum", PERIOD_SECONDS),
                ("err", "Errors", "Sum", PERIOD_SECONDS),
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
                            "Period": period,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
        start_at = datetime.fromtimestamp(aligned, tz=UTC)
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
        out: dict[str, VersionSample] = {}
        for index, version in enumerate(versions):
            invocations = values.get(f"inv{index}", [])
            p99 = values.get(f"p99{index}", [])
            out[version] = VersionSample(
                invocations=round(sum(invocations)),
                errors=round(sum(values.get(f"err{index}", []))),
                p99_ms=max(p99) if p99 else None,
                version=version,
            )
        return out

    def alias_traffic(
        self, function_name: str, alias: str, start: float, end: float
    ) -> tuple[int, int]:
        """(invocations, errors) of the whole alias over the window, for pre-flight."""
        dimensions = [
            {"Name": "FunctionName", "Value": function_name},
            {"Name": "Resource", "Value": f"{function_name}:{alias}"},
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
                    "Period": PERIOD_SECONDS,
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
