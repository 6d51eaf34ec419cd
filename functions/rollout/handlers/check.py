"""Check: read health and decide: continue baking, advance, promote or fail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollout.adapters.alarms import Alarms
from rollout.adapters.metrics import LambdaMetrics
from rollout.application.check import check
from rollout.domain.gates import token_approval
from rollout.domain.rollout import TaskEvent
from rollout.handlers._ports import events, ledger
from rollout.handlers._runtime import (
    CORRELATION_ID_PATH,
    STEP_DURATION,
    log_deployment_keys,
    log_metrics,
    logger,
    now,
    seconds,
    tracer,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# The decisions that end a step whose bake completed (a failing step is counted by Revert).
STEP_ENDED = frozenset({"advance", "promote"})


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    log_deployment_keys(event)
    checked_at = now()
    task = TaskEvent.of(event)
    state = check(
        task.state,
        alarms=Alarms(),
        ledger=ledger(),
        events=events(),
        metrics=LambdaMetrics(),
        now=checked_at,
        approved_by_token=token_approval(task.raw_state or {}),
    )
    cursor = state.cursor
    if cursor.decision in STEP_ENDED:
        seconds(
            STEP_DURATION,
            checked_at - cursor.step_started_at,
            step=cursor.step_index + 1,
            weightPercent=cursor.weight_percent,
        )
    logger.info("checked", extra={"decision": cursor.decision.value, "reason": cursor.reason})
    return state.wire()
