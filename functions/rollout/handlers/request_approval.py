"""AwaitApproval: leave the gate's task token in the ledger; the state machine waits on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollout.application.hooks import request_approval
from rollout.domain.rollout import TaskEvent
from rollout.handlers._ports import ledger
from rollout.handlers._runtime import (
    CORRELATION_ID_PATH,
    log_deployment_keys,
    log_metrics,
    logger,
    now,
    tracer,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    log_deployment_keys(event)
    task = TaskEvent.of(event)
    request_approval(task.state, task.task_token, ledger=ledger(), now=now())
    logger.info("waiting for approval")
    return {"requested": True}
