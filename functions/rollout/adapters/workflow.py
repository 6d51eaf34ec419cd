"""Step Functions: start the execution an upload stands for; list the rollouts running."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from rollout.adapters.aws import client, error_code, translated
from rollout.domain.artifact import RunningExecution, function_of_input

__all__ = ["Workflow"]


class Workflow:
    def __init__(self, sfn_client: Any | None = None) -> None:
        self._client = sfn_client or client("stepfunctions")

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """Start the named execution; (its ARN, False) if that name already has one.

        The input is serialized with sorted keys, so the same upload gives the same bytes:
        Step Functions then answers a repeat of a running execution with that execution, and
        of a finished one with ExecutionAlreadyExists. Either way nothing new starts.
        """
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        try:
            with translated("StartExecution"):
                started = self._client.start_execution(
                    stateMachineArn=state_machine_arn, name=name, input=body
                )
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return _execution_arn(state_machine_arn, name), False
            raise
        return str(started["executionArn"]), True

    def running(self, state_machine_arn: str) -> list[RunningExecution]:
        """The executions of the state machine that are RUNNING, each with its function."""
        found: list[RunningExecution] = []
        with translated("ListExecutions"):
            pages = self._client.get_paginator("list_executions").paginate(
                stateMachineArn=state_machine_arn, statusFilter="RUNNING"
            )
            for page in pages:
                for execution in page.get("executions", []):
                    found.append(
                        RunningExecution(
                            arn=execution["executionArn"],
                            name=execution["name"],
                            started_at=_epoch(execution["startDate"]),
                        )
                    )
        return [
            other.model_copy(update={"function": self._function_of(other.arn)}) for other in found
        ]

    def _function_of(self, execution_arn: str) -> str | None:
        with translated("DescribeExecution"):
            described = self._client.describe_execution(executionArn=execution_arn)
        try:
            raw = json.loads(described.get("input") or "null")
        except ValueError:
            return None
        return function_of_input(raw)


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)
