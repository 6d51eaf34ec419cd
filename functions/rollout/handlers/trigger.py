"""Trigger: an upload to the artifact bucket (S3 -> EventBridge) starts its one execution."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rollout import artifact_usecases
from rollout.adapters.workflow import Workflow
from rollout.handlers._runtime import logger, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Invoked asynchronously by EventBridge: an exception is retried by Lambda (twice), and
    # a retry starts nothing new (the execution name is the upload's).
    started = artifact_usecases.start_from_upload(
        event,
        workflow=Workflow(),
        state_machine_arn=os.environ["TRAFFICSHIFT_STATE_MACHINE_ARN"],
    )
    artifact = started["artifact"]
    logger.append_keys(bucket=artifact["bucket"], key=artifact["key"])
    logger.info(
        "upload received: execution started"
        if started["started"]
        else "upload received again: its execution already exists, nothing new started",
        extra={"executionArn": started["executionArn"], "versionId": artifact["versionId"]},
    )
    return started
