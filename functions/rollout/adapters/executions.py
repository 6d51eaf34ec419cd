"""Step Functions executions: what the reconciler asks about the executions it cleans up."""

from __future__ import annotations

import json
from typing import Any

from rollout.adapters.aws import client, translated
from rollout.domain.errors import NotFound
from rollout.domain.reconcile import ExecutionInfo

__all__ = ["Executions"]


def _not_found(exc: Exception) -> Exception:
    return NotFound(str(exc))


class Executions:
    def __init__(self, sfn_client: Any | None = None) -> None:
        self._client = sfn_client or client("stepfunctions")

    def describe(self, execution_arn: str) -> ExecutionInfo:
        """Status, input and error of one execution; NotFound if Step Functions has none."""
        with translated(
            "DescribeExecution",
            {"ExecutionDoesNotExist": _not_found, "InvalidArn": _not_found},
        ):
            found = self._client.describe_execution(executionArn=execution_arn)
        raw_input = found.get("input")
        parsed: Any = None
        if isinstance(raw_input, str):
            try:
                parsed = json.loads(raw_input)
            except ValueError:
                parsed = None
        return ExecutionInfo(
            execution_arn=str(found.get("executionArn", execution_arn)),
            state_machine_arn=str(found.get("stateMachineArn", "")),
            status=str(found.get("status", "")),
            input=parsed if isinstance(parsed, dict) else None,
            error=found.get("error"),
            cause=found.get("cause"),
        )
