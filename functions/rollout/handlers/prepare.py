"""Prepare: validate the input, resolve versions, run the pre-flight checks."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rollout.adapters.alarms import Alarms
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.adapters.metrics import LambdaMetrics
from rollout.application.prepare import prepare
from rollout.domain.gates import HOOK_PATTERNS_ENV, patterns_from_env
from rollout.domain.rollout import (
    DEFAULT_STATE_MACHINE_TIMEOUT_SECONDS,
    STATE_MACHINE_TIMEOUT_ENV,
    TaskEvent,
)
from rollout.handlers._ports import events, ledger
from rollout.handlers._runtime import (
    CORRELATION_ID_PATH,
    ROLLOUTS_STARTED,
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
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    log_deployment_keys(event)
    task = TaskEvent.of(event)
    state = prepare(
        task.input,
        execution=task.execution_id,
        started_at=task.started_at(now()),
        functions=LambdaFunctions(),
        alarms=Alarms(),
        ledger=ledger(),
        events=events(),
        metrics=LambdaMetrics(),
        now=now(),
        region=os.environ.get("AWS_REGION"),
        # Our own ARN, arn:<partition>:lambda:<region>:<account>:function:<name>, tells
        # which account and partition a function ARN in the input must be in.
        partition=_arn_part(context, 1),
        account=_arn_part(context, 4),
        hook_patterns=patterns_from_env(os.environ.get(HOOK_PATTERNS_ENV)),
        state_machine_timeout_seconds=int(
            os.environ.get(STATE_MACHINE_TIMEOUT_ENV) or DEFAULT_STATE_MACHINE_TIMEOUT_SECONDS
        ),
    )
    d = state.deployment
    count(ROLLOUTS_STARTED, function=d.function_name, alias=d.alias)
    logger.info(
        "deployment prepared",
        extra={
            "stable": d.stable_version,
            "target": d.target_version,
            "plan": d.plan,
        },
    )
    return state.wire()


def _arn_part(context: LambdaContext, index: int) -> str | None:
    parts = str(getattr(context, "invoked_function_arn", "") or "").split(":")
    return (parts[index] or None) if len(parts) >= 7 else None
