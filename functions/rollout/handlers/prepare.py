"""Prepare: validate the input, resolve versions, run the pre-flight checks."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout import usecases
from rollout.adapters.alarms import Alarms
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.handlers._runtime import CORRELATION_ID_PATH, logger, now, tracer


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = usecases.prepare(
        event,
        functions=LambdaFunctions(),
        alarms=Alarms(),
        now=now(),
        region=os.environ.get("AWS_REGION"),
    )
    d = state["deployment"]
    logger.info(
        "deployment prepared",
        extra={
            "function": d["functionName"],
            "alias": d["alias"],
            "stable": d["stableVersion"],
            "target": d["targetVersion"],
            "plan": d["plan"],
        },
    )
    return state
