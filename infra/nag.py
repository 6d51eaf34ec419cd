"""cdk-nag (AwsSolutions) acknowledgments for the control plane, each with its reason.

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

from infra.control_plane import RUNTIME, TASKS, TrafficShiftControlPlane

IAM5 = "AwsSolutions::AwsSolutions-IAM5"
L1 = "AwsSolutions::AwsSolutions-L1"

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

    for task, function in control_plane.functions.items():
        _acknowledge(
            function,
            L1,
            f"{RUNTIME.name} is pinned on purpose: the asset's wheels are resolved for "
            f"cp{RUNTIME.name.removeprefix('python').replace('.', '')} from "
            "functions/requirements.txt; a runtime upgrade is a reviewed change of both.",
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
        ):
            for arn, rendered in managed:
                qualified = arn.endswith(":*")
                _acknowledge(
                    role,
                    f"{IAM5}[Resource::{rendered}]",
                    (
                        "Qualified ARNs (versions and aliases) of the managed functions: "
                        "aliases are what the control plane shifts, and the versions are "
                        "created per deployment, so they cannot be named in advance."
                        if qualified
                        else "The managed functions are the deploying team's choice "
                        "(construct option managed_function_names / context "
                        "trafficshift:managedFunctions); a name pattern is how they are given."
                    ),
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
