"""The ports every rollout task is built with: the ledger and the deployment events.

Apart from `_runtime` so that the handlers that use neither (Trigger, UpdateCode,
PublishArtifact) do not import the ledger's and the events' modules at cold start.
"""

from __future__ import annotations

import os

from rollout.adapters.events import Events
from rollout.adapters.ledger import Ledger


def ledger() -> Ledger:
    """The ledger table the construct made (TABLE_NAME): a required port of every task."""
    return Ledger(os.environ["TABLE_NAME"])


def events() -> Events:
    """EventBridge (EVENT_BUS_NAME, default bus), and SNS when the construct set a topic."""
    return Events(
        bus_name=os.environ.get("EVENT_BUS_NAME") or "default",
        topic_arn=os.environ.get("SNS_TOPIC_ARN") or None,
    )
