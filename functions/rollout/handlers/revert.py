"""Revert: put the alias back on the stable version (only if we moved it), then fail."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout import usecases
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.handlers._runtime import CORRELATION_ID_PATH, logger, tracer


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    failure, action = usecases.revert(event, functions=LambdaFunctions())
    logger.warning("deployment failed", extra={"action": action, **failure})
    return failure
