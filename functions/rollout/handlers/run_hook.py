"""PreTraffic / PostTraffic: invoke the deployment's hook function; a failure reverts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollout.adapters.hooks import HookInvoker
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.application.hooks import run_hook
from rollout.domain.gates import HOOK_DEFAULT_TIMEOUT_SECONDS
from rollout.domain.rollout import TaskEvent
from rollout.handlers._ports import events
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
    phase = str(event.get("phase", ""))
    hooks = (event.get("state") or {}).get("deployment", {}).get("hooks") or {}
    timeout = int(hooks.get("timeoutSeconds", HOOK_DEFAULT_TIMEOUT_SECONDS))
    state = run_hook(
        TaskEvent.of(event).state,
        phase,
        functions=LambdaFunctions(),
        hooks=HookInvoker(timeout),
        events=events(),
        now=now(),
    )
    logger.info("hook passed", extra={"phase": phase, "hook": hooks.get(phase)})
    return state.wire()
