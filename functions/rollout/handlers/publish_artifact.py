"""PublishArtifact: once Lambda has applied the uploaded code, publish exactly that code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollout import artifact_usecases
from rollout.adapters.lambda_code import FunctionCode
from rollout.domain.errors import FunctionNotReady, Throttled
from rollout.handlers._runtime import CORRELATION_ID_PATH, logger, now, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        result = artifact_usecases.publish_artifact(
            event,
            functions=FunctionCode(),
            settings=artifact_usecases.ArtifactSettings.from_environ(),
            now=now(),
        )
    except (FunctionNotReady, Throttled) as exc:
        logger.info("publish waits", extra={"error": type(exc).__name__, "reason": str(exc)})
        raise
    except Exception as exc:
        logger.error(
            "upload not published", extra={"error": type(exc).__name__, "reason": str(exc)}
        )
        raise
    if "targetVersion" in result:
        logger.info(
            "uploaded code published",
            extra={"function": result["functionName"], "version": result["targetVersion"]},
        )
    else:
        logger.info("code update still in progress", extra={"update": result["update"]})
    return result
