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
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
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


# Step Functions' hard limits (docs/decisions.md, 11.2).
HISTORY_LIMIT = 25_000


def history_limit_cause(limit: int | None = None) -> str:
    return (
        "The execution reached the maximum number of history events "
        f"({HISTORY_LIMIT if limit is None else limit})."
    )


MAX_CAUSE = 32_768
_TERMINAL_EVENTS = frozenset(
    {"ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut"}
)


class _HistoryLimitReached(FailureEventException):
    """Raised by every event an execution tries to add past its limit, so that no state,
    Retry or Catch runs again; the program ends with this execution failure."""

    def __init__(self) -> None:
        event = FailureEvent.__new__(FailureEvent)
        event.__dict__.update(
            state_name=None,
            source_event_id=0,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
            # Not a terminal type: the failed state's own failure event raises this again.
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                executionFailedEventDetails=ExecutionFailedEventDetails(
                    error="States.Runtime", cause=history_limit_cause()
                )
            ),
        )
        super().__init__(event)

    def get_execution_failed_event_details(self) -> ExecutionFailedEventDetails:
        return ExecutionFailedEventDetails(error="States.Runtime", cause=history_limit_cause())


def history_events_are_limited() -> list[_Replacement]:
    """An execution fails when its history reaches 25,000 events.

    AWS: "Maximum execution history size: 25,000 events in a single state machine
    execution history. If the execution history reaches this quota the execution fails"
    (Step Functions developer guide, "Step Functions service quotas"; "Avoid reaching the
    history quota", bp-history-limit). The execution fails with error `States.Runtime` and
    cause "The execution reached the maximum number of history events (25000).", and event
    25,000 is that ExecutionFailed event itself: 24,999 is the last the states wrote
    (measured on AWS in floci-io/floci#2734; also loads/ardere#86). No Catch catches it
    (States.ALL catches no States.Runtime: "Error names", concepts-error-handling).

    moto: keeps any number of events; a loop runs until its own end.
    """

    def build(original: Any) -> Any:
        def add_event(
            self: EventManager, context: Any, event_type: Any, *args: Any, **kw: Any
        ) -> Any:
            kind = str(getattr(event_type, "value", event_type))
            if len(self._history_event_list) >= HISTORY_LIMIT - 1 and kind not in _TERMINAL_EVENTS:
                raise _HistoryLimitReached()
            return original(self, context, event_type, *args, **kw)

        return add_event

    return [_Replacement(EventManager, "add_event", build)]


_UNCATCHABLE = frozenset(
    {StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime}
)


def states_all_does_not_catch_terminal_errors() -> list[_Replacement]:
    """`States.ALL` in a Retry or Catch does not match States.DataLimitExceeded or
    States.Runtime.

    AWS: "States.ALL: a wildcard that matches any known error name. The States.ALL error
    type ... can't catch the States.DataLimitExceeded terminal error type and runtime error
    types"; States.DataLimitExceeded is reported when "the output of a state is larger than
    payload size quota" (256 KiB of UTF-8, "Step Functions service quotas") and is "a
    terminal error that can't be caught by the States.ALL error type" (Step Functions
    developer guide, "Error handling", Error names). So a task whose output is too large
    fails the execution: its Catch into a cleanup state never runs.

    moto: raises States.DataLimitExceeded on an oversized state output, but its
    `ErrorEqualsDecl` matches States.ALL against every error, so the Catch runs.
    """
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )

    def build(original: Any) -> Any:
        def _eval_body(self: ErrorEqualsDecl, env: Any) -> None:
            error_name = env.stack[-1] if env.stack else None
            typ = (
                getattr(error_name, "typ", None)
                if isinstance(error_name, StatesErrorName)
                else None
            )
            if typ in _UNCATCHABLE and not any(
                isinstance(n, StatesErrorName) and n.typ == typ for n in self.error_names
            ):
                env.stack.pop()
                env.stack.append(False)  # only a retrier or catcher naming it matches
                return
            original(self, env)

        return _eval_body

    return [_Replacement(ErrorEqualsDecl, "_eval_body", build)]


def error_causes_are_limited() -> list[_Replacement]:
    """An error's Cause holds at most 32,768 characters.

    AWS: every failure's `cause` (ExecutionFailedEventDetails, TaskFailedEventDetails,
    LambdaFunctionFailedEventDetails, ...) has "Length Constraints: Minimum length of 0.
    Maximum length of 32768" (Step Functions API reference), and SendTaskFailure refuses a
    longer `cause` with ValidationException ("Member must have length less than or equal
    to 32768", API_SendTaskFailure; seen in irothschild/stefuna#8). What the service does
    with a longer Cause from a Fail state is not documented: the emulator takes the strict
    reading and fails such an execution with States.Runtime naming the limit, so that no
    code tested here relies on a Cause that long reaching anyone.

    moto: accepts and stores a Cause of any length.
    """

    def build_set_error(original: Any) -> Any:
        def set_error(self: Any, error: ExecutionFailedEventDetails) -> None:
            cause = (error or {}).get("cause") or ""
            if len(cause) > MAX_CAUSE:
                error = ExecutionFailedEventDetails(
                    error="States.Runtime",
                    cause=(
                        f"The execution's failure cause has {len(cause)} characters, more "
                        f"than the limit of {MAX_CAUSE}."
                    ),
                )
            original(self, error)

        return set_error

    def build_send_task_failure(original: Any) -> Any:
        def send_task_failure(
            self: Any, task_token: str, error: Any = None, cause: Any = None
        ) -> Any:
            if cause is not None and len(cause) > MAX_CAUSE:
                from moto.stepfunctions.exceptions import ValidationException

                raise ValidationException(
                    "1 validation error detected: Value at 'cause' failed to satisfy "
                    f"constraint: Member must have length less than or equal to {MAX_CAUSE}"
                )
            return original(self, task_token, error=error, cause=cause)

        return send_task_failure

    return [
        _Replacement(Environment, "set_error", build_set_error),
        _Replacement(StepFunctionsParserBackend, "send_task_failure", build_send_task_failure),
    ]
