"""Publish deployment events: EventBridge (source `trafficshift`), and an SNS topic if set.

Events are notifications, not the rollout's state (the ledger is): a failed publish must
never fail, retry or slow down a rollout or a revert. So `emit` never raises. It logs a
warning, counts the failure in `failed`, and returns False. It is bounded: its clients
make at most 2 attempts with 1 s connect and 2 s read timeouts (about 7 s per service in
the worst case, 14 s with SNS), inside a task's 30 s timeout. The price is honest: an
event can be lost when EventBridge or SNS is down or throttling; the ledger's record is
complete regardless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from functools import cache
from typing import Any

from botocore.config import Config

from rollout.adapters.aws import make_client
from rollout.domain.events import SOURCE, DeploymentEvent

__all__ = ["EVENTS_CLIENT_CONFIG", "Events"]

logger = logging.getLogger(__name__)

# Tighter than the rollout's clients (standard retries, 20 s reads): waiting longer for a
# notification would only delay the rollout it reports on. One retry: botocore's
# `max_attempts` counts retries, `total_max_attempts` counts the first call too.
EVENTS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=1,
    read_timeout=2,
    user_agent_extra="trafficshift",
)

_SUBJECT_MAX = 100  # SNS: at most 100 printable ASCII characters


@cache
def _client(service: str) -> Any:
    """One client per service per container, built on first use (not at import)."""
    return make_client(service, EVENTS_CLIENT_CONFIG)


class Events:
    """`bus_name`: the EventBridge bus (name or ARN; "default" unless the construct made one).
    `topic_arn`: also publish each event to this SNS topic (None: EventBridge only)."""

    def __init__(
        self,
        events_client: Any | None = None,
        sns_client: Any | None = None,
        *,
        bus_name: str = "default",
        topic_arn: str | None = None,
    ) -> None:
        self._events = events_client or _client("events")
        self._topic_arn = topic_arn or None
        self._sns = (sns_client or _client("sns")) if self._topic_arn else None
        self._bus = bus_name or "default"
        self.sent = 0
        self.failed = 0

    def emit(self, event: DeploymentEvent) -> bool:
        """Publish one event. Never raises: False (logged, counted) if any target failed."""
        delivered = self._put_event(event)
        if self._sns is not None:
            delivered = self._publish(event) and delivered
        if delivered:
            self.sent += 1
        else:
            self.failed += 1
        return delivered

    def emit_all(self, events: Iterable[DeploymentEvent]) -> int:
        """Publish each event; returns how many were delivered everywhere."""
        return sum(1 for event in events if self.emit(event))

    def _put_event(self, event: DeploymentEvent) -> bool:
        try:
            response = self._events.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": event.detail_type.value,
                        "Detail": json.dumps(event.detail()),
                        "Resources": [event.execution_arn] if event.execution_arn else [],
                        "EventBusName": self._bus,
                    }
                ]
            )
        except Exception:  # a notification must not break the rollout: log it, count it
            logger.warning(
                "Could not send %r to EventBridge",
                event.detail_type.value,
                extra={"executionArn": event.execution_arn},
                exc_info=True,
            )
            return False
        if response.get("FailedEntryCount"):
            entry = (response.get("Entries") or [{}])[0]
            logger.warning(
                "EventBridge refused %r: %s %s",
                event.detail_type.value,
                entry.get("ErrorCode"),
                entry.get("ErrorMessage"),
                extra={"executionArn": event.execution_arn},
            )
            return False
        return True

    def _publish(self, event: DeploymentEvent) -> bool:
        if self._sns is None:
            return True
        subject = f"trafficshift: {event.detail_type.value} {event.function_name}:{event.alias}"
        subject = subject.encode("ascii", "replace").decode()[:_SUBJECT_MAX]
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject,
                Message=json.dumps(
                    {
                        "source": SOURCE,
                        "detail-type": event.detail_type.value,
                        "detail": event.detail(),
                    },
                    indent=2,
                ),
                MessageAttributes={
                    "detailType": {"DataType": "String", "StringValue": event.detail_type.value},
                    "functionName": {"DataType": "String", "StringValue": event.function_name},
                },
            )
        except Exception:  # as above: never into the rollout
            logger.warning(
                "Could not publish %r to SNS",
                event.detail_type.value,
                extra={"executionArn": event.execution_arn},
                exc_info=True,
            )
            return False
        return True
