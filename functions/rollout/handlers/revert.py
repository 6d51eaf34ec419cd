"""Revert: put the alias back on the stable version (only if we moved it), then fail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.application.outcome import revert
from rollout.domain.rollout import TaskEvent
from rollout.handlers._ports import events, ledger
from rollout.handlers._runtime import (
    CORRELATION_ID_PATH,
    ROLLOUTS_ROLLED_BACK,
    count,
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
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    log_deployment_keys(event)
    task = TaskEvent.of(event)
    failed, action = revert(
        task.raw_state,
        functions=LambdaFunctions(),
        ledger=ledger(),
        events=events(),
        now=now(),
        execution=task.execution_id,
    )
    failure = failed.wire()
    # A refusal at Prepare started no rollout, so only a prepared one counts as rolled back:
    # RolloutsStarted = RolloutsPromoted + RolloutsRolledBack (+ executions stopped by hand).
    state = event.get("state") or {}
    if "deployment" in state and "cursor" in state:
        count(ROLLOUTS_ROLLED_BACK, error=failure["error"], action=action)
    logger.warning("deployment failed", extra={"action": action, **failure})
    return failure
