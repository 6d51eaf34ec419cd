"""The trafficshift control plane as one reusable construct.

Lambda functions (one asset, one role each) and the Standard state machine that shifts an
alias step by step: Prepare -> SetWeight -> Bake -> Check -> Decide, looping until Promote,
with every task caught into Revert. An input with an `artifact` (an upload to the artifact
bucket) first goes through UpdateCode -> WaitForCode -> PublishArtifact, then Prepare.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.artifacts import ArtifactBucket, UploadRules
from infra.bundling import python_code_asset
from rollout.adapters.ledger import table_definition
from rollout.domain import ledger as ledger_domain
from rollout.domain.artifact import Defaults, validate_defaults

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
RUNTIME = lambda_.Runtime.PYTHON_3_13

# Function name -> handler. Every function but the Trigger is a Task state of that name.
# The state names and handler paths are a contract with functions/rollout/handlers and the
# emulator tests.
HANDLERS: dict[str, str] = {
    "Prepare": "rollout.handlers.prepare.handler",
    "SetWeight": "rollout.handlers.set_weight.handler",
    "Check": "rollout.handlers.check.handler",
    "Promote": "rollout.handlers.promote.handler",
    "Revert": "rollout.handlers.revert.handler",
    "UpdateCode": "rollout.handlers.update_code.handler",
    "PublishArtifact": "rollout.handlers.publish_artifact.handler",
    "Trigger": "rollout.handlers.trigger.handler",
    "Reconcile": "rollout.handlers.reconcile.handler",
}
TRIGGER = "Trigger"
RECONCILE = "Reconcile"
TASKS: tuple[str, ...] = tuple(name for name in HANDLERS if name not in (TRIGGER, RECONCILE))
# (memory MB, timeout s) where the default (256, 30) does not fit: UpdateCode downloads
# and checks a zip of up to 250 MB.
_SIZES: dict[str, tuple[int, int]] = {
    "Prepare": (256, 60),
    "UpdateCode": (1024, 120),
    # A sweep reconciles every abandoned deployment it finds, one after the other.
    "Reconcile": (256, 300),
}
# The ledger actions each function needs, on the table (and the Open index for the sweep).
_LEDGER_ACTIONS: dict[str, list[str]] = {
    # acquire the lock (conditional put; reads the holder), record the start
    "Prepare": ["dynamodb:PutItem", "dynamodb:GetItem"],
    # record the step
    "SetWeight": ["dynamodb:PutItem"],
    # read and renew the lease, read the signals
    "Check": ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
    # record the last step and the outcome, release the lock
    "Promote": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    # and read who holds the lock, and record a refusal
    "Revert": [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ],
    # read a deployment's record and the Open index, record outcomes, release locks
    "Reconcile": ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
}
# Step Functions sends these when an execution ends outside Revert (StopExecution, ...).
RECONCILED_STATUSES = ("ABORTED", "TIMED_OUT", "FAILED")

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
ALIAS_BUSY = "AliasBusy"
_UPDATE_CODE_LAMBDA = ["lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode"]
_PUBLISH_ARTIFACT_LAMBDA = ["lambda:GetFunctionConfiguration", "lambda:PublishVersion"]


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
    :param default_alias: the alias an upload deploys to when its manifest names none.
        Default: ``"live"``.
    :param default_strategy: the strategy of an upload whose manifest names none (a
        CodeDeploy name or a strategy object, as in the input). Default:
        ``"Canary10Percent5Minutes"``.
    :param default_poll_interval: the poll interval of an upload whose manifest names none.
        Default: 30 seconds.
    :param code_update_timeout: how long an upload's UpdateFunctionCode may stay
        InProgress before the deployment gives up (nothing published). Default: 10 minutes.
    :param artifact_noncurrent_version_expiration: how long an overwritten or deleted
        artifact version is kept in the bucket. Default: 30 days.
    :param notification_topic: an SNS topic that also receives every deployment event
        (they always go to the default EventBridge bus, source ``trafficshift``).
        Default: none.
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
        default_alias: str = "live",
        default_strategy: str | Mapping[str, Any] = "Canary10Percent5Minutes",
        default_poll_interval: Duration | None = None,
        code_update_timeout: Duration | None = None,
        artifact_noncurrent_version_expiration: Duration | None = None,
        notification_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        names = _validated_function_names(managed_function_names)
        defaults = Defaults(
            alias=default_alias,
            strategy=dict(default_strategy)
            if isinstance(default_strategy, Mapping)
            else default_strategy,
            poll_interval_seconds=int((default_poll_interval or Duration.seconds(30)).to_seconds()),
        )
        # A bad default would fail every upload; fail the synth instead, naming the field.
        validate_defaults(defaults)
        update_timeout = int((code_update_timeout or Duration.minutes(10)).to_seconds())
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

        self.artifacts = ArtifactBucket(
            self,
            "Artifacts",
            noncurrent_version_expiration=artifact_noncurrent_version_expiration,
        )
        self.artifact_bucket = self.artifacts.bucket
        self.table = self._ledger_table()
        self.notification_topic = notification_topic
        ledger_env = {"TABLE_NAME": self.table.table_name, "EVENT_BUS_NAME": "default"}
        if notification_topic is not None:
            ledger_env["SNS_TOPIC_ARN"] = notification_topic.topic_arn
        timeout_env = {"TRAFFICSHIFT_CODE_UPDATE_TIMEOUT_SECONDS": str(update_timeout)}
        environment: dict[str, dict[str, str]] = {
            "UpdateCode": {
                "TRAFFICSHIFT_ARTIFACT_BUCKET": self.artifact_bucket.bucket_name,
                "TRAFFICSHIFT_DEFAULT_ALIAS": defaults.alias,
                "TRAFFICSHIFT_DEFAULT_STRATEGY": defaults.strategy
                if isinstance(defaults.strategy, str)
                else json.dumps(defaults.strategy, separators=(",", ":")),
                "TRAFFICSHIFT_DEFAULT_POLL_INTERVAL_SECONDS": str(defaults.poll_interval_seconds),
                **timeout_env,
            },
            "PublishArtifact": timeout_env,
        }

        code = python_code_asset(FUNCTIONS_DIR, runtime=RUNTIME, architecture=architecture)
        self.functions: dict[str, lambda_.Function] = {
            name: self._function(
                name,
                handler,
                code=code,
                architecture=architecture,
                retention=log_retention,
                environment={
                    **(ledger_env if name in _LEDGER_ACTIONS else {}),
                    **environment.get(name, {}),
                },
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
        self._grant_artifact_access()
        trigger = self.functions[TRIGGER]
        trigger.add_environment(
            "TRAFFICSHIFT_STATE_MACHINE_ARN", self.state_machine.state_machine_arn
        )
        self.state_machine.grant_start_execution(trigger)
        self.upload_rules = UploadRules(
            self, "UploadRules", bucket=self.artifact_bucket, trigger=trigger
        )
        self._reconciler()

    # -- ledger and reconciler ---------------------------------------------------------

    def _ledger_table(self) -> dynamodb.Table:
        """The lock, history and signals table: the schema of `Ledger.table_definition`."""
        schema = table_definition("ledger")
        keys = {k["KeyType"]: k["AttributeName"] for k in schema["KeySchema"]}

        def string(name: str) -> dynamodb.Attribute:
            return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)

        table = dynamodb.Table(
            self,
            "Ledger",
            partition_key=string(keys["HASH"]),
            sort_key=string(keys["RANGE"]),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="expiresAt",
            # The deployment history outlives the stack.
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in schema["GlobalSecondaryIndexes"]:
            index_keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
            table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=string(index_keys["HASH"]),
                sort_key=string(index_keys["RANGE"]),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=index["Projection"]["NonKeyAttributes"],
            )
        return table

    def _reconciler(self) -> None:
        """Restore what ended executions left shifted: on their status change, and every
        5 minutes (EventBridge delivers Step Functions events best-effort)."""
        reconcile = self.functions[RECONCILE]
        reconcile.add_environment("STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.reconcile_policy = iam.Policy(
            self,
            "ReconcileExecutionsPolicy",
            roles=[_role_of(reconcile)],
            statements=[
                iam.PolicyStatement(
                    actions=["states:DescribeExecution"], resources=[self.execution_arn_pattern]
                )
            ],
        )
        target = targets.LambdaFunction(reconcile, retry_attempts=4)
        self.execution_ended_rule = events.Rule(
            self,
            "ExecutionEndedRule",
            description="trafficshift: reconcile executions that ended outside Revert",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": list(RECONCILED_STATUSES),
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            targets=[target],
        )
        self.sweep_rule = events.Rule(
            self,
            "SweepRule",
            description="trafficshift: sweep aliases whose rollout no longer runs",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[target],
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
        environment: Mapping[str, str],
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
        memory, seconds = _SIZES.get(name, (256, 30))
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
            memory_size=memory,
            timeout=Duration.seconds(seconds),
            description=f"trafficshift {name} task" if name in TASKS else f"trafficshift {name}",
            environment={
                "POWERTOOLS_SERVICE_NAME": "trafficshift",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_NAMESPACE": "TrafficShift",
                **environment,
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
        # Prepare reads the alias's recent traffic for the detectability estimate.
        allow("Prepare", ["cloudwatch:GetMetricData"], ["*"])
        allow("UpdateCode", _UPDATE_CODE_LAMBDA, self.managed_function_arns)
        # The reconciler restores aliases as Revert does.
        allow(RECONCILE, _SHIFT_ALIAS, self.managed_function_arns)
        table_arn = self.table.table_arn
        open_index = f"{table_arn}/index/{ledger_domain.OPEN_INDEX}"
        self.default_bus_arn: str = Stack.of(self).format_arn(
            service="events", resource="event-bus", resource_name="default"
        )
        for name, actions in _LEDGER_ACTIONS.items():
            allow(name, actions, [open_index, table_arn] if name == RECONCILE else [table_arn])
            allow(name, ["events:PutEvents"], [self.default_bus_arn])
            if self.notification_topic is not None:
                self.notification_topic.grant_publish(_role_of(self.functions[name]))
        allow("PublishArtifact", _PUBLISH_ARTIFACT_LAMBDA, self.managed_function_arns)

    def _grant_artifact_access(self) -> None:
        """UpdateCode reads the uploaded object version (Lambda fetches S3 code with the
        caller's permissions) and lists the running executions of this state machine."""
        role = self.functions["UpdateCode"].role
        assert role is not None  # set in _function
        bucket = self.artifact_bucket
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        # Without ListBucket, S3 answers a missing key with 403 instead of 404.
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        )
        # A policy of its own, not the role's default one: the function depends on its
        # default policy, and the state machine on the function, so granting on the state
        # machine there would be a circular dependency.
        self.execution_arn_pattern: str = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.running_rollouts_policy = iam.Policy(
            self,
            "UpdateCodeRunningRolloutsPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["states:ListExecutions"],
                    resources=[self.state_machine.state_machine_arn],
                ),
                iam.PolicyStatement(
                    actions=["states:DescribeExecution"], resources=[self.execution_arn_pattern]
                ),
            ],
        )

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

        input_payload = {
            "input": sfn.JsonPath.entire_payload,
            "executionId": sfn.JsonPath.execution_id,
            "executionStartTime": sfn.JsonPath.execution_start_time,
        }
        prepare = self._task("Prepare", input_payload, "$")
        # Retries are matched in order: the function-not-ready retry comes first.
        prepare.add_retry(
            errors=[FUNCTION_NOT_READY],
            interval=Duration.seconds(5),
            max_attempts=12,
            backoff_rate=1.5,
            max_delay=Duration.seconds(30),
            jitter_strategy=sfn.JitterType.FULL,
        )
        # "onBusy": "wait": another rollout holds the alias; wait for it, bounded (about
        # 35 minutes), then the refusal stands and names the holder.
        prepare.add_retry(
            errors=[ALIAS_BUSY],
            interval=Duration.seconds(5),
            max_attempts=40,
            backoff_rate=1.5,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )
        caught(prepare)

        # An upload: replace the code, wait until Lambda has applied it (a Wait loop, never a
        # sleep in a Lambda), publish exactly that code, then the same rollout as a console
        # start. A function already being updated is waited for (FunctionNotReady retries).
        update_code = self._task("UpdateCode", input_payload, "$")
        publish_artifact = self._task("PublishArtifact", state_payload, "$")
        for task in (update_code, publish_artifact):
            task.add_retry(
                errors=[FUNCTION_NOT_READY],
                interval=Duration.seconds(2),
                max_attempts=20,
                backoff_rate=1.5,
                max_delay=Duration.seconds(30),
                jitter_strategy=sfn.JitterType.FULL,
            )
            caught(task)
        wait_for_code = sfn.Wait(
            self,
            "WaitForCodeState",
            state_name="WaitForCode",
            time=sfn.WaitTime.seconds_path("$.update.waitSeconds"),
        )
        code_published = (
            sfn.Choice(self, "CodePublishedState", state_name="CodePublished")
            .when(sfn.Condition.is_present("$.targetVersion"), prepare)
            .otherwise(wait_for_code)
        )
        update_code.next(wait_for_code)
        wait_for_code.next(publish_artifact)
        publish_artifact.next(code_published)
        source = (
            sfn.Choice(self, "SourceState", state_name="Source")
            .when(sfn.Condition.is_present("$.artifact"), update_code)
            .otherwise(prepare)
        )
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
        prepare.next(set_weight)
        return source


def _role_of(function: lambda_.Function) -> iam.IRole:
    role = function.role
    assert role is not None  # set in _function
    return role


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
