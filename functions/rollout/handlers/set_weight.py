"""SetWeight: move the alias to the next step's weight, guarded by RevisionId."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.application.shift import set_weight
from rollout.domain.rollout import TaskEvent
from rollout.handlers._ports import events, ledger
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
    state = set_weight(
        TaskEvent.of(event).state,
        functions=LambdaFunctions(),
        ledger=ledger(),
        events=events(),
        now=now(),
    )
    logger.info(
        "traffic shifted",
        extra={
            "step": state.cursor.step_index + 1,
            "weightPercent": state.cursor.weight_percent,
        },
    )
    return state.wire()
