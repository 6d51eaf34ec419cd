"""Promote: the new version takes 100% of the alias, with no routing left."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout import usecases
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.handlers._runtime import CORRELATION_ID_PATH, logger, now, tracer


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = usecases.promote(event, functions=LambdaFunctions(), now=now())
    logger.info("promoted", extra={"target": outcome["targetVersion"]})
    return outcome
