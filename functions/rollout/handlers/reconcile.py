"""Reconcile: restore aliases that ended executions left shifted, and free their locks.

Triggered by an EventBridge rule on "Step Functions Execution Status Change" (ABORTED,
TIMED_OUT, FAILED) and by a schedule ("Scheduled Event", or `{"sweep": true}` by hand).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from rollout.adapters.events import Events
from rollout.adapters.executions import Executions
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.adapters.ledger import Ledger
from rollout.application import reconcile
from rollout.domain.reconcile import STATUS_CHANGE
from rollout.handlers._runtime import logger, now, tracer

SCHEDULED = "Scheduled Event"


class Settings(BaseModel):
    """The function's environment, read when it runs (not at import)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME")
    sns_topic_arn: str | None = Field(default=None, alias="SNS_TOPIC_ARN")

    @classmethod
    def from_environment(cls) -> Settings:
        return cls.model_validate({k: v for k, v in os.environ.items() if v})


@logger.inject_lambda_context(correlation_id_path="detail.executionArn")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environment()
    events = Events(bus_name=settings.event_bus_name, topic_arn=settings.sns_topic_arn)
    ports = reconcile.Ports(
        functions=LambdaFunctions(),
        ledger=Ledger(settings.table_name),
        executions=Executions(),
        events=events,
    )
    if event.get("detail-type") == STATUS_CHANGE:
        report = reconcile.on_status_change(
            event, ports=ports, now=now(), state_machine_arn=settings.state_machine_arn
        )
        if report is None:
            logger.info("not an execution of ours that ended badly: ignored")
            return {"ignored": True}
        logger.info("reconciled", extra={**report.wire(), "eventsFailed": events.failed})
        return report.wire()
    if event.get("detail-type") != SCHEDULED and event.get("sweep") is not True:
        logger.warning("neither a status change nor a sweep: ignored", extra={"event": event})
        return {"ignored": True}
    swept = reconcile.sweep(ports=ports, now=now())
    for done in swept.reconciled:
        logger.info("reconciled", extra=done.wire())
    logger.info(
        "swept",
        extra={
            "reconciled": len(swept.reconciled),
            "errors": len(swept.errors),
            "eventsFailed": events.failed,
        },
    )
    if swept.errors:
        # Failing the invocation makes the Errors metric (and its alarm) see it; the next
        # sweep retries each one.
        raise reconcile.ReconcileIncomplete(
            f"{len(swept.errors)} execution(s) not reconciled: {swept.errors}"
        )
    return swept.wire()
