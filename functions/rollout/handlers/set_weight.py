"""SetWeight: move the alias to the next step's weight, guarded by RevisionId."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout import usecases
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.handlers._runtime import CORRELATION_ID_PATH, logger, now, tracer


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = usecases.set_weight(event, functions=LambdaFunctions(), now=now())
    logger.info(
        "traffic shifted",
        extra={
            "step": state["cursor"]["stepIndex"] + 1,
            "weightPercent": state["cursor"]["weightPercent"],
        },
    )
    return state
