"""The trafficshift control plane as one reusable construct.

Lambda functions (one asset, one role each) and the Standard state machine that shifts an
alias step by step: Prepare -> SetWeight -> Bake -> Check -> Decide, looping until Promote,
with every task caught into Revert. An input with an `artifact` (an upload to the artifact
bucket) first goes through UpdateCode -> WaitForCode -> PublishArtifact, then Prepare.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Aws, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_signer as signer
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.artifacts import ArtifactBucket, UploadRules
from infra.bundling import python_code_asset
from infra.managed_functions import ManagedFunctions
from rollout.adapters.ledger import table_definition
from rollout.domain import ledger as ledger_domain
from rollout.domain.artifact import Defaults, validate_defaults
from rollout.domain.gates import DEFAULT_HOOK_PATTERNS, HOOK_PATTERNS_ENV
from rollout.domain.rollout import STATE_MACHINE_TIMEOUT_ENV

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
    "PreTraffic": "rollout.handlers.run_hook.handler",
    "PostTraffic": "rollout.handlers.run_hook.handler",
    "AwaitApproval": "rollout.handlers.request_approval.handler",
}
HOOKS = ("PreTraffic", "PostTraffic")
TRIGGER = "Trigger"
RECONCILE = "Reconcile"
TASKS: tuple[str, ...] = tuple(name for name in HANDLERS if name not in (TRIGGER, RECONCILE))
# Invoked asynchronously (by EventBridge rules); every other function only synchronously,
# by the state machine, which sees and handles its failures.
ASYNC_INVOKED: tuple[str, ...] = (TRIGGER, RECONCILE)
# EventBridge retries a target for at most this long, then sends the event to the DLQ.
_TARGET_MAX_EVENT_AGE = Duration.hours(2)
# (memory MB, timeout s) where the default (256, 30) does not fit: UpdateCode downloads
# and checks a zip of up to 250 MB.
# The rollout tasks' timeout holds two AWS calls that use every attempt (the clients'
# `call_budget_seconds`, 24 s each) and the handler's margin (3 s): 2 x 24 + 3 = 51 <= 60.
# Check's two CloudWatch reads (or SetWeight's alias and ledger writes) are each tried to
# the end in a brownout; past that the clients start no attempt the timeout would cut
# (docs/decisions.md, "Time budgets under a brownout"; tests/infra/test_time_budgets.py).
ROLLOUT_TASK_TIMEOUT_SECONDS = 60
_SIZES: dict[str, tuple[int, int]] = {
    "Prepare": (256, 60),
    "SetWeight": (256, ROLLOUT_TASK_TIMEOUT_SECONDS),
    "Check": (256, ROLLOUT_TASK_TIMEOUT_SECONDS),
    "Promote": (256, ROLLOUT_TASK_TIMEOUT_SECONDS),
    "Revert": (256, ROLLOUT_TASK_TIMEOUT_SECONDS),
    "UpdateCode": (1024, 120),
    # A sweep reconciles every abandoned deployment it finds, one after the other.
    "Reconcile": (256, 300),
    # A hook may take up to hooks.timeoutSeconds (at most 840 s) to answer.
    "PreTraffic": (256, 900),
    "PostTraffic": (256, 900),
}
# The ledger actions each function needs, on the table (and the Open index for the sweep).
_LEDGER_ACTIONS: dict[str, list[str]] = {
    # acquire the lock (conditional put; reads the holder), record the start
    "Prepare": ["dynamodb:PutItem", "dynamodb:GetItem"],
    # record the step
    "SetWeight": ["dynamodb:PutItem"],
    # read and renew the lease, read the signals
    "Check": ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
    # record the last step and the outcome, release the lock, clear the outcome's
    # pending-event marker (UpdateItem; a retry learns the marker from the refused write)
    "Promote": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    # and read who holds the lock, and record a refusal
    "Revert": [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ],
    # read a deployment's record and the Open index, record outcomes (and clear their
    # pending-event markers), release locks
    "Reconcile": ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    # leave the approval gate's task token where `trafficshift approve` finds it
    "AwaitApproval": ["dynamodb:PutItem"],
    # no ledger writes: the hooks only emit their events
    "PreTraffic": [],
    "PostTraffic": [],
}
# Step Functions sends these when an execution ends outside Revert (StopExecution, ...).
RECONCILED_STATUSES = ("ABORTED", "TIMED_OUT", "FAILED")

_SHIFT_ALIAS = ["lambda:GetAlias", "lambda:UpdateAlias"]
_PREPARE_LAMBDA = [
    "lambda:GetAlias",
    "lambda:GetFunctionConfiguration",
    "lambda:PublishVersion",
]

# Error names the handlers raise (see rollout.domain.errors); Retry matches on them.
THROTTLED = "Throttled"
# An AWS API answered 5xx or timed out after the clients' own retries (a brownout).
SERVICE_UNAVAILABLE = "ServiceUnavailable"
# Step Functions' own name for a throttled Invoke of one of our task functions.
INVOKE_THROTTLED = "Lambda.TooManyRequestsException"
FUNCTION_NOT_READY = "FunctionNotReady"
# Lambda is still making the function or version ready (a SnapStart version is Pending
# until its snapshot exists, an update is InProgress, a write got a 409): FunctionNotReady,
# retried 25 times, 2 s then x1.5 up to 30 s: about 10 minutes at most, about 5 on average
# (full jitter). `function_not_ready_budget_seconds()` says it; the README states it.
FUNCTION_NOT_READY_RETRY = {
    "interval_seconds": 2,
    "max_attempts": 25,
    "backoff_rate": 1.5,
    "max_delay_seconds": 30,
}
ALIAS_BUSY = "AliasBusy"
_UPDATE_CODE_LAMBDA = ["lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode"]
_PUBLISH_ARTIFACT_LAMBDA = ["lambda:GetFunctionConfiguration", "lambda:PublishVersion"]
# Lambda actions whose resource is not a function: a function's tag cannot scope them.
_NOT_FUNCTION_ACTIONS = frozenset({"lambda:GetCodeSigningConfig"})


class TrafficShiftControlPlane(Construct):
    """A Step Functions control plane that shifts Lambda alias traffic step by step.

    All options are keyword-only.

    :param managed_functions: the Lambda functions this control plane may shift, publish
        and update. ``ManagedFunctions.tagged()``: every function tagged
        ``trafficshift:managed=true`` (Lambda's permissions name ``function:*`` with the
        condition ``aws:ResourceTag/trafficshift:managed = true``; a function's tags cover
        its versions and aliases). ``ManagedFunctions.named(["orders-*"])``: names or name
        patterns (IAM wildcards ``*``/``?``), scoped to ``function:<name>`` and
        ``function:<name>:*``, with no condition; a bare ``*`` is refused. In tag mode the
        hook functions must carry the tag too (InvokeFunction is granted with the same
        condition). Default: ``ManagedFunctions.tagged()``.
    :param managed_function_names: shorthand for ``ManagedFunctions.named(names)``, kept
        for existing callers; give one of the two. Default: none (tag mode).
    :param code_signing: create an AWS Signer signing profile (``signing_profile``) and a
        Lambda code signing config (``code_signing_config``, untrusted artifacts ENFORCE)
        to attach to the managed functions, and make UpdateCode refuse an upload to a
        function whose code signing config is missing, not enforced, or does not allow
        that profile. Default: ``False``.
    :param signing_profile: an existing signing profile to require instead of creating
        one (implies ``code_signing``). Default: none.
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
    :param hook_function_names: names or name patterns of the functions a rollout's
        ``preTraffic``/``postTraffic`` hooks may name; the hook tasks may invoke only
        these. Default: ``("CodeDeployHook_*", "TrafficShiftHook*")``, as CodeDeploy's
        AWSCodeDeployRoleForLambda allows ``CodeDeployHook_*``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        managed_functions: ManagedFunctions | None = None,
        managed_function_names: Sequence[str] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        state_machine_timeout: Duration | None = None,
        lambda_architecture: lambda_.Architecture | None = None,
        default_alias: str = "live",
        default_strategy: str | Mapping[str, Any] = "Canary10Percent5Minutes",
        default_poll_interval: Duration | None = None,
        code_update_timeout: Duration | None = None,
        artifact_noncurrent_version_expiration: Duration | None = None,
        notification_topic: sns.ITopic | None = None,
        hook_function_names: Sequence[str] = DEFAULT_HOOK_PATTERNS,
        code_signing: bool = False,
        signing_profile: signer.ISigningProfile | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.managed_functions = _managed(managed_functions, managed_function_names)
        hook_names = _validated_function_names(hook_function_names, allow_empty=True)
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
        # In tag mode `function:*`, always granted with the tag condition (see `allow`).
        self.managed_function_arns: list[str] = self.managed_functions.arns(stack)
        self.signing_profile, self.code_signing_config = self._code_signing(
            code_signing, signing_profile
        )
        self.hook_function_arns: list[str] = [
            arn
            for name in hook_names
            for arn in (
                stack.format_arn(
                    service="lambda",
                    resource="function",
                    resource_name=qualified,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
                for qualified in (name, f"{name}:*")
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
                **(
                    {
                        "TRAFFICSHIFT_SIGNING_PROFILE_VERSION_ARN": (
                            self.signing_profile.signing_profile_version_arn
                        )
                    }
                    if self.signing_profile is not None
                    else {}
                ),
            },
            "PublishArtifact": timeout_env,
            "Prepare": {
                HOOK_PATTERNS_ENV: ",".join(hook_names),
                # Prepare refuses a plan that cannot finish within it, and plans the pause
                # policy and the history budget up to it (domain.budget).
                STATE_MACHINE_TIMEOUT_ENV: str(int(timeout.to_seconds())),
            },
        }

        code = python_code_asset(FUNCTIONS_DIR, runtime=RUNTIME, architecture=architecture)
        self.failed_events = self._failed_events_queue()
        self.failed_events_alarm = self._failed_events_alarm(notification_topic)
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
                dead_letter_queue=self.failed_events if name in ASYNC_INVOKED else None,
            )
            for name, handler in HANDLERS.items()
        }
        self._grant_least_privilege()

        # Under /aws/vendedlogs/: Step Functions adds each log group it logs to to the
        # account's CloudWatch Logs resource policy (5,120 characters at most), except those
        # under this prefix ("Avoiding Amazon CloudWatch Logs resource policy size
        # restrictions", Step Functions guide, bp-cwl). The stack's name and the construct's
        # unique id keep it one per stack and construct (a token: resolved at deploy time).
        self.state_machine_log_group = logs.LogGroup(
            self,
            "StateMachineLogGroup",
            retention=log_retention,
            log_group_name=state_machine_log_group_name(self),
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
            self,
            "UploadRules",
            bucket=self.artifact_bucket,
            trigger=trigger,
            dead_letter_queue=self.failed_events,
        )
        self._reconciler()

    # -- code signing and failed events ------------------------------------------------

    def _code_signing(
        self, enabled: bool, profile: signer.ISigningProfile | None
    ) -> tuple[signer.ISigningProfile | None, lambda_.ICodeSigningConfig | None]:
        """The signing profile uploads must be signed with, and a config to attach."""
        self.code_signing_config_pattern: str = Stack.of(self).format_arn(
            service="lambda",
            resource="code-signing-config",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        if not enabled and profile is None:
            return None, None
        if profile is None:
            profile = signer.SigningProfile(
                self,
                "SigningProfile",
                platform=signer.Platform.AWS_LAMBDA_SHA384_ECDSA,
                signature_validity=Duration.days(365),
            )
        config = lambda_.CodeSigningConfig(
            self,
            "CodeSigningConfig",
            signing_profiles=[profile],
            untrusted_artifact_on_deployment=lambda_.UntrustedArtifactOnDeployment.ENFORCE,
            description="trafficshift: only code signed by the control plane's profile",
        )
        return profile, config

    def _failed_events_queue(self) -> sqs.Queue:
        """Where an asynchronous invoke that failed ends up: EventBridge's target DLQ (the
        event never reached the function) and the functions' own DLQ (it failed there)."""
        return sqs.Queue(
            self,
            "FailedEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )

    def _failed_events_alarm(self, topic: sns.ITopic | None) -> cloudwatch.Alarm:
        """ALARM as soon as one event waits in FailedEvents: an upload that started no
        rollout, or a reconciliation that did not run, needs a person (and the sweep)."""
        alarm = cloudwatch.Alarm(
            self,
            "FailedEventsAlarm",
            alarm_description=(
                "trafficshift: an upload or reconciler event could not be delivered; read "
                "the FailedEvents queue (the sweep reconciles any alias left shifted)"
            ),
            metric=self.failed_events.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if topic is not None:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return alarm

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
        target = targets.LambdaFunction(
            reconcile,
            retry_attempts=4,
            max_event_age=_TARGET_MAX_EVENT_AGE,
            dead_letter_queue=self.failed_events,
        )
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
        dead_letter_queue: sqs.IQueue | None = None,
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
            # Asynchronous invokes that fail after Lambda's own retries (2) land here.
            dead_letter_queue=dead_letter_queue,
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
        stack = Stack.of(self)

        def allow(task: str, actions: list[str], resources: list[str]) -> None:
            role = self.functions[task].role
            assert role is not None  # set in _function
            if resources == self.managed_function_arns:
                statements = self.managed_functions.statements(stack, actions)
            else:
                # In tag mode a Lambda function action on any other functions (the hooks'
                # InvokeFunction) needs the tag too: one rule, wherever the grant is made.
                tagged = self.managed_functions.is_tagged and any(
                    a.startswith("lambda:") and a not in _NOT_FUNCTION_ACTIONS for a in actions
                )
                statements = [
                    iam.PolicyStatement(
                        actions=actions,
                        resources=resources,
                        conditions=self.managed_functions.condition if tagged else None,
                    )
                ]
            for statement in statements:
                role.add_to_principal_policy(statement)

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
        if self.signing_profile is not None:
            # Read-only: which code signing config the target function has, and whether it
            # enforces and allows this control plane's signing profile. GetCodeSigningConfig
            # names a config, which the function's owner chose, so any of this account's.
            allow("UpdateCode", ["lambda:GetFunctionCodeSigningConfig"], self.managed_function_arns)
            allow("UpdateCode", ["lambda:GetCodeSigningConfig"], [self.code_signing_config_pattern])
        # The reconciler restores aliases as Revert does.
        allow(RECONCILE, _SHIFT_ALIAS, self.managed_function_arns)
        table_arn = self.table.table_arn
        open_index = f"{table_arn}/index/{ledger_domain.OPEN_INDEX}"
        self.default_bus_arn: str = Stack.of(self).format_arn(
            service="events", resource="event-bus", resource_name="default"
        )
        for name, actions in _LEDGER_ACTIONS.items():
            if actions:
                allow(name, actions, [open_index, table_arn] if name == RECONCILE else [table_arn])
            allow(name, ["events:PutEvents"], [self.default_bus_arn])
            if self.notification_topic is not None:
                self.notification_topic.grant_publish(_role_of(self.functions[name]))
        allow("PublishArtifact", _PUBLISH_ARTIFACT_LAMBDA, self.managed_function_arns)
        # A promote-now before the last step: PostTraffic moves the alias to 100% first.
        allow("PostTraffic", _SHIFT_ALIAS, self.managed_function_arns)
        # The hooks invoke only functions named as the construct allows (Prepare refuses
        # any other name before anything moves).
        for hook in HOOKS:
            allow(hook, ["lambda:InvokeFunction"], self.hook_function_arns)

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
        # Revert is the way out of every failure: it retries throttling and a brownout (5xx,
        # timeouts) for about an hour rather than leave an alias half-shifted, and has no
        # Catch of its own.
        revert.add_retry(
            errors=[
                THROTTLED,
                SERVICE_UNAVAILABLE,
                "Lambda.TooManyRequestsException",
                FUNCTION_NOT_READY,  # UpdateAlias's 409 while the function is being updated
            ],
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
            # A brownout that outlasted the clients' retries is retried like throttling
            # (the tasks are idempotent); Check never raises it (a counted read failure).
            task.add_retry(
                errors=[THROTTLED, SERVICE_UNAVAILABLE, INVOKE_THROTTLED],
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
        # Retries are matched in order: the function-not-ready retry comes first. Prepare
        # holds the alias's lock while it waits (re-taken by the same execution on each
        # attempt; its PublishVersion of unchanged code returns the version it published);
        # when the budget is spent, Revert records the refusal and frees the lock.
        waits_for_function(prepare)
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
        # UpdateAlias answers 409 while the function is being updated: wait, as Prepare does.
        set_weight = caught(waits_for_function(self._task("SetWeight", state_payload, "$")))
        check = caught(self._task("Check", state_payload, "$"))
        promote = caught(waits_for_function(self._task("Promote", state_payload, "$")))
        # A Promote that failed after it recorded PROMOTED must not be caught into Revert,
        # which would put back the stable version under a ledger that says promoted: it is
        # retried (it is idempotent), as Revert is; only a failure that persists reverts.
        promote.add_retry(
            errors=[sfn.Errors.ALL],
            interval=Duration.seconds(2),
            max_attempts=5,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
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
            .when(
                sfn.Condition.string_equals("$.cursor.decision", "promote"),
                self._hook("PostTraffic", "postTraffic", caught, then=promote),
            )
            .when(
                sfn.Condition.string_equals("$.cursor.decision", "approve"),
                self._approval_gate(caught, check),
            )
            .when(sfn.Condition.string_equals("$.cursor.decision", "fail"), revert)
            .otherwise(revert)
        )
        promote.next(sfn.Succeed(self, "PromotedState", state_name="Promoted"))
        check.next(decide)
        bake.next(check)
        set_weight.next(bake)
        prepare.next(self._hook("PreTraffic", "preTraffic", caught, then=set_weight))
        return source

    def _hook(
        self,
        name: str,
        phase: str,
        caught: Callable[[tasks.LambdaInvoke], tasks.LambdaInvoke],
        *,
        then: sfn.IChainable,
    ) -> sfn.Choice:
        """`Has<name>Hook`: run the deployment's hook of this phase, if it has one."""
        task = caught(
            self._task(
                name,
                {
                    "state": sfn.JsonPath.entire_payload,
                    "executionId": sfn.JsonPath.execution_id,
                    "phase": phase,
                },
                "$",
            )
        )
        task.next(then)
        return (
            sfn.Choice(self, f"Has{name}HookState", state_name=f"Has{name}Hook")
            .when(sfn.Condition.is_present(f"$.deployment.hooks.{phase}"), task)
            .otherwise(then)
        )

    def _approval_gate(
        self,
        caught: Callable[[tasks.LambdaInvoke], tasks.LambdaInvoke],
        check: sfn.IChainable,
    ) -> tasks.LambdaInvoke:
        """AwaitApproval: wait on a task token for one gate wait, then Check again.

        SendTaskSuccess (trafficshift approve) lands its output at $.approval; a gate wait
        that times out goes back to Check, which reads the health and the ledger's
        signals and opens a new wait (or reverts once approval.timeoutSeconds is over).
        """
        gate = tasks.LambdaInvoke(
            self,
            "AwaitApprovalTask",
            state_name="AwaitApproval",
            lambda_function=self.functions["AwaitApproval"],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "state": sfn.JsonPath.entire_payload,
                    "executionId": sfn.JsonPath.execution_id,
                    "taskToken": sfn.JsonPath.task_token,
                }
            ),
            result_path="$.approval",
            task_timeout=sfn.Timeout.at("$.cursor.waitSeconds"),
        )
        gate.add_catch(check, errors=[sfn.Errors.TIMEOUT], result_path=sfn.JsonPath.DISCARD)
        caught(gate)
        gate.next(check)
        return gate


def _managed(
    managed_functions: ManagedFunctions | None, names: Sequence[str] | None
) -> ManagedFunctions:
    if managed_functions is not None and names is not None:
        raise ValueError("give managed_functions or managed_function_names, not both")
    if managed_functions is not None:
        return managed_functions
    if names is not None:
        return ManagedFunctions.named(names)
    return ManagedFunctions.tagged()


def _role_of(function: lambda_.Function) -> iam.IRole:
    role = function.role
    assert role is not None  # set in _function
    return role


def _validated_function_names(
    names: Sequence[str], *, allow_empty: bool = False
) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError("function names take a sequence of names, not one string")
    cleaned = tuple(names)
    if not cleaned and not allow_empty:
        raise ValueError("managed_function_names must name at least one function or pattern")
    for name in cleaned:
        # A full ARN or a qualified name would produce a malformed (or wider) ARN.
        if not name or ":" in name:
            raise ValueError(f"not a function name or name pattern: {name!r}")
    return cleaned


def waits_for_function(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
    """Retry `FunctionNotReady` (FUNCTION_NOT_READY_RETRY): a version still Pending, an
    update InProgress, a 409 ResourceConflictException from PublishVersion or UpdateAlias."""
    retry = FUNCTION_NOT_READY_RETRY
    task.add_retry(
        errors=[FUNCTION_NOT_READY],
        interval=Duration.seconds(retry["interval_seconds"]),
        max_attempts=retry["max_attempts"],
        backoff_rate=retry["backoff_rate"],
        max_delay=Duration.seconds(retry["max_delay_seconds"]),
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def function_not_ready_budget_seconds() -> float:
    """The longest a task waits for a function that is not ready: the sum of the retry's
    delays before full jitter (each delay is drawn from 0 to this, so about half on average)."""
    retry = FUNCTION_NOT_READY_RETRY
    return sum(
        min(retry["interval_seconds"] * retry["backoff_rate"] ** i, retry["max_delay_seconds"])
        for i in range(int(retry["max_attempts"]))
    )


VENDED_LOGS_PREFIX = "/aws/vendedlogs/states/"


def state_machine_log_group_name(scope: Construct) -> str:
    """`/aws/vendedlogs/states/<stack name>-<construct id>`: unique per stack and construct,
    within CloudWatch Logs' name rules ([.-_/#A-Za-z0-9], 512 characters at most)."""
    unique = Names.unique_resource_name(scope, max_length=64, separator="-")
    return f"{VENDED_LOGS_PREFIX}{Aws.STACK_NAME}-{unique}"
