"""UpdateCode: validate an uploaded zip, then make it the function's code ($LATEST)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollout import artifact_usecases
from rollout.adapters.lambda_code import FunctionCode
from rollout.adapters.s3 import ArtifactObjects
from rollout.adapters.workflow import Workflow
from rollout.domain.errors import FunctionNotReady, Throttled
from rollout.handlers._runtime import CORRELATION_ID_PATH, logger, now, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    artifact = (event.get("input") or {}).get("artifact") or {}
    if isinstance(artifact, dict):
        logger.append_keys(bucket=artifact.get("bucket"), key=artifact.get("key"))
    try:
        state = artifact_usecases.update_code(
            event,
            objects=ArtifactObjects(),
            functions=FunctionCode(),
            workflow=Workflow(),
            settings=artifact_usecases.ArtifactSettings.from_environ(),
            now=now(),
        )
    except (FunctionNotReady, Throttled) as exc:
        # Retried by the state machine: not a refusal.
        logger.info("upload waits", extra={"error": type(exc).__name__, "reason": str(exc)})
        raise
    except Exception as exc:
        # The execution fails with this error (Revert names it); the log says it too.
        logger.error("upload refused", extra={"error": type(exc).__name__, "reason": str(exc)})
        raise
    logger.info(
        "code update started",
        extra={
            "function": state["request"]["functionName"],
            "codeSha256": state["update"]["codeSha256"],
            "versionId": state["artifact"]["versionId"],
        },
    )
    return state
