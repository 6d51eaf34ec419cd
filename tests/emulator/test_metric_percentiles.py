"""Fidelity: GetMetricData answers percentile statistics from raw values, as CloudWatch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from trafficshift.emulator.cloud import LocalCloud


def _p(cw: Any, stat: str) -> list[float]:
    now = datetime.now(tz=UTC)
    result = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Duration"},
                    "Period": 60,
                    "Stat": stat,
                },
            }
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
    )
    return [float(v) for v in result["MetricDataResults"][0]["Values"]]


def test_p99_of_values_published_with_counts_is_the_nearest_rank(cloud: LocalCloud) -> None:
    cw = cloud.client("cloudwatch")
    # 99 fast requests and one slow one, in one datum as Lambda-like raw values
    cw.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Duration",
                "Unit": "Milliseconds",
                "Timestamp": datetime.now(tz=UTC),
                "Values": [10.0, 900.0],
                "Counts": [99.0, 1.0],
            }
        ],
    )

    assert _p(cw, "p99") == [10.0]
    assert _p(cw, "p100") == [900.0]
    assert _p(cw, "p50") == [10.0]
    assert _p(cw, "Sum") == [1890.0]  # the other statistics are moto's own, unchanged
