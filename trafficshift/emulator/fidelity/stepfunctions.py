"""Step Functions: where moto's interpreter differs from AWS Step Functions."""

from __future__ import annotations

import copy
import datetime
import json
import logging
import uuid
from typing import Any

from moto.events.models import events_backends
from moto.stepfunctions.models import StateMachineInstance
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from trafficshift.emulator.fidelity._common import (
    _Replacement,
)

logger = logging.getLogger(__name__)


def start_execution_generates_name() -> list[_Replacement]:
    """StartExecution without a name gets a unique (UUID) name.

    AWS: `name` is optional; "If you don't provide a name for the execution, Step
    Functions automatically generates a universally unique identifier (UUID) as the
    execution name" (API_StartExecution). The execution ARN ends with that name.

    moto (execute_state_machine on): names the execution `None`, so the ARN ends in
    `:None` and a second unnamed StartExecution is refused as ExecutionAlreadyExists.
    """

    def build(original: Any) -> Any:
        def start_execution(
            self: StepFunctionsParserBackend,
            state_machine_arn: str,
            name: str | None = None,
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

        return start_execution

    return [_Replacement(StepFunctionsParserBackend, "start_execution", build)]


def start_execution_while_others_exist() -> list[_Replacement]:
    """A state machine starts a new execution while others exist or have run.

    AWS: a Standard workflow runs any number of executions at once; StartExecution is
    limited only by its rate quota (facts: "StartExecution quotas").

    moto (execute_state_machine on): StartExecution deep-copies the state machine, with
    every execution it ever ran (whose workers hold thread locks) and its whole backend,
    so once one execution exists in the region the next StartExecution fails with
    "TypeError: cannot pickle '_thread.RLock' object" (HTTP 500).

    Here: the copy an execution gets holds the definition and settings only; the
    executions list is not copied and the backend is shared, not cloned.
    """

    def build(_original: Any) -> Any:
        def __deepcopy__(self: StateMachineInstance, memo: dict[int, Any]) -> Any:
            clone = type(self).__new__(type(self))
            memo[id(self)] = clone
            for attribute, value in self.__dict__.items():
                if attribute == "executions":
                    clone.__dict__[attribute] = []
                elif attribute == "backend":
                    clone.__dict__[attribute] = value
                else:
                    clone.__dict__[attribute] = copy.deepcopy(value, memo)
            return clone

        return __deepcopy__

    return [_Replacement(StateMachineInstance, "__deepcopy__", build)]


def _epoch_ms(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if isinstance(moment, datetime.datetime) else None


def _status_change_detail(execution: Execution, status: str) -> dict[str, Any]:
    output = execution.output if status == "SUCCEEDED" else None
    ended_badly = status in ("FAILED", "TIMED_OUT", "ABORTED")
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": None if status == "RUNNING" else _epoch_ms(execution.stop_date),
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "output": None if output is None else json.dumps(output, separators=(",", ":")),
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if output is not None else None,
        "error": execution.error if ended_badly else None,
        "cause": execution.cause if ended_badly else None,
        "redriveCount": 0,
        "redriveDate": None,
        "redriveStatus": "REDRIVABLE" if ended_badly else "NOT_REDRIVABLE",
        "stateMachineVersionArn": None,
        "stateMachineAliasArn": None,
    }


def _emit_status_change(execution: Execution, status: str) -> None:
    if str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
        return  # Express executions send no status-change events
    try:
        backend = events_backends[execution.account_id][execution.region_name]
        backend.put_events(
            [
                {
                    "Source": "aws.states",
                    "DetailType": "Step Functions Execution Status Change",
                    "Detail": json.dumps(_status_change_detail(execution, status)),
                    "Resources": [execution.exec_arn],
                }
            ]
        )
    except Exception:  # delivery is best-effort on AWS too; never break the interpreter
        logger.warning("Could not send the status change of %s", execution.exec_arn, exc_info=True)


def execution_status_change_events() -> list[_Replacement]:
    """Standard executions send "Step Functions Execution Status Change" to the default bus.

    AWS: every status change of a Standard workflow execution (RUNNING, SUCCEEDED, FAILED,
    TIMED_OUT, ABORTED) is sent to the account's default EventBridge bus with source
    `aws.states`, `resources` = [execution ARN], and a detail holding executionArn,
    stateMachineArn, name, status, startDate/stopDate (epoch ms), input/output (JSON text),
    error and cause; delivery is best-effort (EventBridge reference: events-ref-states;
    facts: "StopExecution skips Catch handlers", cleanup needs a rule on this event).
    Express executions send none.

    moto: sends no event, so a rule on it never fires.

    Here: the event is put on the default bus when an execution starts (before its
    interpreter thread runs, so RUNNING always comes first) and when it ends (after its
    status is final, so a target that calls DescribeExecution sees it); rules deliver it
    like any other event.
    """

    def build_terminated(original: Any) -> Any:
        def terminated(self: BaseExecutionWorkerCommunication) -> None:
            original(self)
            status = self.execution.exec_status
            _emit_status_change(self.execution, str(getattr(status, "value", status)))

        return terminated

    def build_start(original: Any) -> Any:
        def start(self: ExecutionWorker) -> None:
            communication = self._execution_communication
            if isinstance(communication, BaseExecutionWorkerCommunication):
                _emit_status_change(communication.execution, "RUNNING")
            original(self)

        return start

    return [
        _Replacement(BaseExecutionWorkerCommunication, "terminated", build_terminated),
        _Replacement(ExecutionWorker, "start", build_start),
    ]


def send_task_failure_keeps_the_cause() -> list[_Replacement]:
    """SendTaskFailure's `cause` reaches the failed task (and so a Catch's `$.error.Cause`).

    AWS: SendTaskFailure takes `error` and `cause`; the task fails with both, and a Catch's
    ResultPath receives {"Error": error, "Cause": cause} (API_SendTaskFailure).

    moto: its response handler reads only `error` and drops `cause`, so the Catch sees an
    empty Cause (the approval gate's abort would lose who aborted).
    """
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def build(original: Any) -> Any:
        def send_task_failure(self: StepFunctionResponse) -> Any:
            backend = self.stepfunction_backend
            task_token = self._get_param("taskToken")
            error = self._get_param("error")
            cause = self._get_param("cause")
            if isinstance(backend, StepFunctionsParserBackend):
                backend.send_task_failure(task_token, error=error, cause=cause)
                return EmptyResult()
            return original(self)

        return send_task_failure

    return [_Replacement(StepFunctionResponse, "send_task_failure", build)]
