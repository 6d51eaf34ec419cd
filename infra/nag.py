"""cdk-nag (AwsSolutions and Serverless) acknowledgments for the control plane, each with
its reason.

cdk-nag 3 identifies an IAM5 finding by the rendered resource, e.g.
``AwsSolutions-IAM5[Resource::arn:aws:lambda:us-east-1:123456789012:function:*]``, and
matches acknowledgments by exact id. So every id here is rendered from the same ARN the
construct granted, the way cdk-nag renders it, and acknowledged on the one construct
that holds the grant: a wildcard added anywhere else still fails the synth.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.control_plane import ASYNC_INVOKED, HOOKS, RUNTIME, TASKS, TrafficShiftControlPlane

IAM5 = "AwsSolutions::AwsSolutions-IAM5"
L1 = "AwsSolutions::AwsSolutions-L1"
SERVERLESS_LATEST_RUNTIME = "Serverless::Serverless-LambdaLatestVersion"
SERVERLESS_LAMBDA_DLQ = "Serverless::Serverless-LambdaDLQ"
SERVERLESS_REDRIVE = "Serverless::Serverless-SQSRedrivePolicy"

_XRAY = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords (added by CDK for active tracing) "
    "support no resource-level permissions; '*' is the only valid resource."
)


def acknowledge_control_plane(control_plane: TrafficShiftControlPlane) -> None:
    """Acknowledge the findings the control plane's design accepts, where they arise."""
    stack = Stack.of(control_plane)
    managed = [
        (arn, rendered)
        for arn in control_plane.managed_function_arns
        if "*" in (rendered := nag_resource(stack, arn))
    ]
    alarms = nag_resource(stack, control_plane.alarm_arn_pattern)

    pinned = (
        f"{RUNTIME.name} is pinned on purpose: the asset's wheels are resolved for "
        f"cp{RUNTIME.name.removeprefix('python').replace('.', '')} from "
        "functions/requirements.txt; a runtime upgrade is a reviewed change of both."
    )
    for task, function in control_plane.functions.items():
        _acknowledge(function, L1, pinned)
        _acknowledge(function, SERVERLESS_LATEST_RUNTIME, pinned)
        if task not in ASYNC_INVOKED:
            _acknowledge(
                function,
                SERVERLESS_LAMBDA_DLQ,
                f"{task} is only ever invoked synchronously, by the state machine's Task "
                "state, which retries and catches its failures into Revert; a Lambda "
                "dead-letter queue applies to asynchronous invokes only and would never "
                "receive anything. The asynchronously invoked functions (Trigger, "
                "Reconcile) have one.",
            )
        role = _role(function.role)
        star = _XRAY
        if task in ("Check", "Prepare"):
            star += (
                " cloudwatch:GetMetricData likewise supports only '*' (it reads the "
                "AWS/Lambda metrics of the alias being shifted: per version in Check, the "
                "recent traffic for the detectability estimate in Prepare)."
            )
        _acknowledge(role, f"{IAM5}[Resource::*]", star)
        if task in ("Prepare", "Check"):
            _acknowledge(
                role,
                f"{IAM5}[Resource::{alarms}]",
                "The alarms to watch are given per deployment (execution input), so "
                "cloudwatch:DescribeAlarms is scoped to this account's and region's alarms, "
                "not to names known at deploy time. Read-only.",
            )
        if task in (
            "Prepare",
            "SetWeight",
            "Promote",
            "Revert",
            "UpdateCode",
            "PublishArtifact",
            "Reconcile",
            "PostTraffic",
        ):
            for arn, rendered in managed:
                _acknowledge(
                    role, f"{IAM5}[Resource::{rendered}]", _managed_reason(control_plane, arn)
                )

    for hook in HOOKS:
        for arn in control_plane.hook_function_arns:
            rendered = nag_resource(stack, arn)
            if "*" not in rendered:
                continue
            _acknowledge(
                _role(control_plane.functions[hook].role),
                f"{IAM5}[Resource::{rendered}]",
                "Hook functions are named per deployment (input hooks.preTraffic / "
                "postTraffic), so lambda:InvokeFunction is granted on the construct's "
                "hook_function_names patterns (default CodeDeployHook_* and "
                "TrafficShiftHook*, as CodeDeploy's own role allows CodeDeployHook_*), "
                "and on their versions and aliases; Prepare refuses any other hook.",
            )
    if control_plane.signing_profile is not None:
        _acknowledge(
            _role(control_plane.functions["UpdateCode"].role),
            f"{IAM5}[Resource::{nag_resource(stack, control_plane.code_signing_config_pattern)}]",
            "UpdateCode reads the code signing config attached to the target function "
            "(lambda:GetCodeSigningConfig) to refuse an upload whose function does not "
            "enforce this control plane's signing profile; the config is the function "
            "owner's choice, so it cannot be named in advance. Read-only, this account "
            "and region.",
        )
    _acknowledge(
        control_plane.failed_events,
        SERVERLESS_REDRIVE,
        "FailedEvents is itself the dead-letter queue of the upload and reconciler rules' "
        "targets and of the Trigger and Reconcile functions: the last stop, read by an "
        "operator. A redrive policy would move its messages to yet another queue.",
    )
    artifacts = nag_resource(stack, control_plane.artifact_bucket.arn_for_objects("*"))
    _acknowledge(
        _role(control_plane.functions["UpdateCode"].role),
        f"{IAM5}[Resource::{artifacts}]",
        "UpdateCode reads the uploaded artifact, whose key is known only when it is uploaded: "
        "s3:GetObject and s3:GetObjectVersion on the objects of the control plane's own "
        "artifact bucket, nothing else. Read-only.",
    )
    _acknowledge(
        control_plane.running_rollouts_policy,
        f"{IAM5}[Resource::{nag_resource(stack, control_plane.execution_arn_pattern)}]",
        "UpdateCode refuses an upload while a rollout of the same function runs: "
        "states:DescribeExecution on the executions of this control plane's own state "
        "machine, whose names are made per upload. Read-only.",
    )

    _acknowledge(
        control_plane.reconcile_policy,
        f"{IAM5}[Resource::{nag_resource(stack, control_plane.execution_arn_pattern)}]",
        "The reconciler asks whether an execution it found in the ledger still runs: "
        "states:DescribeExecution on the executions of this control plane's own state "
        "machine, whose names are chosen per start. Read-only.",
    )

    state_machine_role = _role(control_plane.state_machine.role)
    _acknowledge(
        state_machine_role,
        f"{IAM5}[Resource::*]",
        "CDK's grants for state machine logging (logs:CreateLogDelivery and the other "
        "vended-log delivery actions) and X-Ray tracing; neither API supports "
        "resource-level permissions.",
    )
    for task in TASKS:
        function = control_plane.functions[task]
        _acknowledge(
            state_machine_role,
            f"{IAM5}[Resource::{nag_resource(stack, f'{function.function_arn}:*')}]",
            "CDK's LambdaInvoke grants lambda:InvokeFunction on the control plane's own "
            "function and its qualifiers; the definition invokes only the unqualified ARN.",
        )


def _managed_reason(control_plane: TrafficShiftControlPlane, arn: str) -> str:
    managed = control_plane.managed_functions
    if managed.is_tagged:
        return (
            "Tag mode: every statement on function:* of this account and region carries the "
            f"condition aws:ResourceTag/{managed.tag_key} = {managed.tag_value}, which Lambda "
            "evaluates for these function actions, for the function and its versions and "
            "aliases (docs/decisions.md, 'Tag mode by default'); a template test fails on "
            "any Lambda function action on a wildcard without it."
        )
    if arn.endswith(":*"):
        return (
            "Qualified ARNs (versions and aliases) of the managed functions: aliases are "
            "what the control plane shifts, and the versions are created per deployment, "
            "so they cannot be named in advance."
        )
    return (
        "The managed functions are the deploying team's choice (construct option "
        "ManagedFunctions.named / context trafficshift:managedFunctions); a name pattern is "
        "how they are given."
    )


def nag_resource(stack: Stack, value: str) -> str:
    """Render a (possibly tokenized) string as cdk-nag names it in finding ids.

    Literals stay as they are, ``Ref`` becomes ``<Name>``, ``Fn::GetAtt`` ``<Logical.Attr>``.
    """
    return _render(stack.resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag resource")


def _acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def _role(role: iam.IRole | None) -> iam.IRole:
    if role is None:
        raise ValueError("expected a role")
    return role
