"""Check: read health and decide: continue baking, advance, promote or fail."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout import usecases
from rollout.adapters.alarms import Alarms
from rollout.handlers._runtime import CORRELATION_ID_PATH, logger, now, tracer


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = usecases.check(event, alarms=Alarms(), now=now())
    cursor = state["cursor"]
    logger.info("checked", extra={"decision": cursor["decision"], "reason": cursor["reason"]})
    return state
