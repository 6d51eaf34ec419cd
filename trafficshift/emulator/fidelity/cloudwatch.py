"""CloudWatch: where moto differs from AWS CloudWatch."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from trafficshift.emulator.fidelity._common import (
    _Replacement,
)

logger = logging.getLogger(__name__)


def get_metric_data_percentiles() -> list[_Replacement]:
    """GetMetricData answers percentile statistics (`p99`, `p99.9`) from raw values.

    AWS: a MetricStat's `Stat` may be a percentile such as `p99`; CloudWatch computes it
    from the values published with `Value`/`Values`, not from `StatisticValues` sets
    (CloudWatch guide: cloudwatch_concepts, Percentiles). moto returns None for any
    statistic beyond Sum/Average/Minimum/Maximum/SampleCount.
    """
    from moto.cloudwatch.models import Statistics

    pattern = re.compile(r"^p(100|\d{1,2}(?:\.\d+)?)$")

    def build(original: Any) -> Any:
        def get_statistics_for_type(self: Statistics, stat: str) -> Any:
            match = pattern.match(stat)
            if match is None:
                return original(self, stat)
            values = sorted(self.metric_single_values_list)
            if not values:
                # Only StatisticValues sets: CloudWatch has no percentile then. moto cannot
                # serialize a missing value, so answer the maximum, an upper bound.
                return self.maximum
            rank = math.ceil(float(match.group(1)) / 100 * len(values))  # nearest rank
            return values[min(max(rank, 1), len(values)) - 1]

        return get_statistics_for_type

    return [_Replacement(Statistics, "get_statistics_for_type", build)]
