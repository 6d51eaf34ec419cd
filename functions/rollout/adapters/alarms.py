"""CloudWatch alarms: read their state at every poll."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollout.adapters.aws import client, translated
from rollout.domain.rollout import AlarmState

_BATCH = 100  # DescribeAlarms accepts at most 100 names


class Alarms:
    def __init__(self, cloudwatch_client: Any | None = None) -> None:
        self._client = cloudwatch_client or client("cloudwatch")

    def states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        """The state of each named alarm that exists; a missing name is simply absent."""
        found: dict[str, AlarmState] = {}
        for start in range(0, len(names), _BATCH):
            batch = list(names[start : start + _BATCH])
            with translated("DescribeAlarms"):
                pages = self._client.get_paginator("describe_alarms").paginate(
                    AlarmNames=batch, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
                )
                for page in pages:
                    for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                        found[alarm["AlarmName"]] = AlarmState(
                            name=alarm["AlarmName"],
                            state=alarm["StateValue"],
                            reason=alarm.get("StateReason", ""),
                        )
        return found
