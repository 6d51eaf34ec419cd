"""The trafficshift control plane as one reusable construct.

Five Lambda functions (one asset, one role each) and the Standard state machine that
shifts an alias step by step: Prepare -> SetWeight -> Bake -> Check -> Decide, looping
until Promote, with every task caught into Revert.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.bundling import python_code_asset

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
RUNTIME = lambda_.Runtime.PYTHON_3_13

# Task name -> handler. The state names and handler paths are a contract with
# functions/rollout/handlers and the emulator tests.
HANDLERS: dict[str, str] = {
    "Prepare": "rollout.handlers.prepare.handler",
    "SetWeight": "rollout.handlers.set_weight.handler",
    "Check": "rollout.handlers.check.handler",
    "Promote": "rollout.handlers.promote.handler",
    "Revert": "rollout.handlers.revert.handler",
}

_SHIFT_ALIAS = ["lambda:GetAlias", "lambda:UpdateAlias"]
_PREPARE_LAMBDA = [
    "lambda:GetAlias",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunction",
    "lambda:PublishVersion",
    "lambda:ListVersionsByFunction",
]

# Error names the handlers raise (see rollout.domain.errors); Retry matches on them.
THROTTLED = "Throttled"
# Step Functions' own name for a throttled Invoke of one of our task functions.
INVOKE_THROTTLED = "Lambda.TooManyRequestsException"
FUNCTION_NOT_READY = "FunctionNotReady"


class TrafficShiftControlPlane(Construct):
    """A Step Functions control plane that shifts Lambda alias traffic step by step.

    All options are keyword-only.

    :param managed_function_names: names or name patterns (IAM wildcards ``*``/``?``) of
        the Lambda functions this control plane may shift. Lambda permissions are scoped
        to ``function:<name>`` and ``function:<name>:*`` (versions and aliases), never to
        ``*``. Default: ``("*",)``, every function in the stack's account and region.
    :param log_retention: retention of the functions' and the state machine's log
        groups. Default: ``RetentionDays.ONE_MONTH``.
    :param state_machine_timeout: the longest a deployment may run, bake loops included.
        Default: 8 days.
    :param lambda_architecture: the functions' architecture; the asset's wheels follow it.
        Default: ``Architecture.ARM_64``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        managed_function_names: Sequence[str] = ("*",),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        state_machine_timeout: Duration | None = None,
        lambda_architecture: lambda_.Architecture | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        names = _validated_function_names(managed_function_names)
        architecture = lambda_architecture or lambda_.Architecture.ARM_64
        timeout = state_machine_timeout or Duration.days(8)

        stack = Stack.of(self)
        self.managed_function_arns: list[str] = [
            arn
            for name in names
            for arn in (
                stack.format_arn(
                    service="lambda",
                    resource="function",
                    resource_name=name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
                # Qualified ARNs: the versions and aliases of the function.
                stack.format_arn(
                    service="lambda",
                    resource="function",
                    resource_name=f"{name}:*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
            )
        ]
        self.alarm_arn_pattern: str = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        code = python_code_asset(FUNCTIONS_DIR, runtime=RUNTIME, architecture=architecture)
        self.functions: dict[str, lambda_.Function] = {
            name: self._function(
                name, handler, code=code, architecture=architecture, retention=log_retention
            )
            for name, handler in HANDLERS.items()
        }
        self._grant_least_privilege()

        self.state_machine_log_group = logs.LogGroup(
            self, "StateMachineLogGroup", retention=log_retention
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.state_machine_log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )

    # -- functions -------------------------------------------------------------------

    def _function(
        self,
        name: str,
        handler: str,
        *,
        code: lambda_.Code,
        architecture: lambda_.Architecture,
        retention: logs.RetentionDays,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{name}LogGroup", retention=retention)
        # One role per function, written by hand: the default role would attach the
        # AWSLambdaBasicExecutionRole managed policy (logs:* on every log group).
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"trafficshift {name} task",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            f"{name}Function",
            runtime=RUNTIME,
            architecture=architecture,
            code=code,
            handler=handler,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            memory_size=256,
            timeout=Duration.seconds(60 if name == "Prepare" else 30),
            description=f"trafficshift {name} task",
            environment={
                "POWERTOOLS_SERVICE_NAME": "trafficshift",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_NAMESPACE": "TrafficShift",
            },
        )

    def _grant_least_privilege(self) -> None:
        def allow(task: str, actions: list[str], resources: list[str]) -> None:
            role = self.functions[task].role
            assert role is not None  # set in _function
            role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))

        describe_alarms = (["cloudwatch:DescribeAlarms"], [self.alarm_arn_pattern])
        allow("Prepare", _PREPARE_LAMBDA, self.managed_function_arns)
        allow("Prepare", *describe_alarms)
        for task in ("SetWeight", "Promote", "Revert"):
            allow(task, _SHIFT_ALIAS, self.managed_function_arns)
        allow("Check", *describe_alarms)
        # GetMetricData has no resource-level permissions: "*" is the only valid resource.
        allow("Check", ["cloudwatch:GetMetricData"], ["*"])

    # -- state machine ---------------------------------------------------------------

    def _task(self, name: str, payload: dict[str, str], result_path: str) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            f"{name}Task",
            state_name=name,
            lambda_function=self.functions[name],
            payload=sfn.TaskInput.from_object(payload),
            # The Resource is the plain function ARN and the output is the handler's return.
            payload_response_only=True,
            result_path=result_path,
        )

    def _definition(self) -> sfn.IChainable:
        state_payload = {
            "state": sfn.JsonPath.entire_payload,
            "executionId": sfn.JsonPath.execution_id,
        }

        revert = self._task("Revert", state_payload, "$.failure")
        # Revert is the way out of every failure: it retries throttling for about an hour
        # rather than leave an alias half-shifted, and has no Catch of its own.
        revert.add_retry(
            errors=[THROTTLED, "Lambda.TooManyRequestsException"],
            interval=Duration.seconds(1),
            max_attempts=60,
            backoff_rate=2,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )
        revert.add_retry(
            errors=[sfn.Errors.ALL],
            interval=Duration.seconds(2),
            max_attempts=5,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        revert.next(
            sfn.Fail(
                self,
                "RolledBackState",
                state_name="RolledBack",
                error_path="$.failure.error",
                cause_path="$.failure.cause",
            )
        )

        def caught(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
            task.add_retry(
                errors=[THROTTLED, INVOKE_THROTTLED],
                interval=Duration.seconds(1),
                max_attempts=6,
                backoff_rate=2,
                max_delay=Duration.seconds(30),
                jitter_strategy=sfn.JitterType.FULL,
            )
            task.add_catch(revert, errors=[sfn.Errors.ALL], result_path="$.error")
            return task

        prepare = self._task(
            "Prepare",
            {
                "input": sfn.JsonPath.entire_payload,
                "executionId": sfn.JsonPath.execution_id,
                "executionStartTime": sfn.JsonPath.execution_start_time,
            },
            "$",
        )
        # Retries are matched in order: the function-not-ready retry comes first.
        prepare.add_retry(
            errors=[FUNCTION_NOT_READY],
            interval=Duration.seconds(5),
            max_attempts=12,
            backoff_rate=1.5,
            max_delay=Duration.seconds(30),
            jitter_strategy=sfn.JitterType.FULL,
        )
        caught(prepare)
        set_weight = caught(self._task("SetWeight", state_payload, "$"))
        check = caught(self._task("Check", state_payload, "$"))
        promote = caught(self._task("Promote", state_payload, "$"))
        bake = sfn.Wait(
            self,
            "BakeState",
            state_name="Bake",
            time=sfn.WaitTime.seconds_path("$.cursor.waitSeconds"),
        )
        decide = (
            sfn.Choice(self, "DecideState", state_name="Decide")
            .when(sfn.Condition.string_equals("$.cursor.decision", "continue"), bake)
            .when(sfn.Condition.string_equals("$.cursor.decision", "advance"), set_weight)
            .when(sfn.Condition.string_equals("$.cursor.decision", "promote"), promote)
            .when(sfn.Condition.string_equals("$.cursor.decision", "fail"), revert)
            .otherwise(revert)
        )
        promote.next(sfn.Succeed(self, "PromotedState", state_name="Promoted"))
        check.next(decide)
        bake.next(check)
        set_weight.next(bake)
        return prepare.next(set_weight)


def _validated_function_names(names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError("managed_function_names takes a sequence of names, not one string")
    cleaned = tuple(names)
    if not cleaned:
        raise ValueError("managed_function_names must name at least one function or pattern")
    for name in cleaned:
        # A full ARN or a qualified name would produce a malformed (or wider) ARN.
        if not name or ":" in name:
            raise ValueError(f"not a function name or name pattern: {name!r}")
    return cleaned
