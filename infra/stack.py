"""The trafficshift stack: composes the control plane and its dashboard, tags them, and
outputs the state machine's ARN and the dashboard's URL."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.control_plane import TrafficShiftControlPlane
from infra.dashboard import ControlPlaneDashboard

MANAGED_FUNCTIONS_CONTEXT = "trafficshift:managedFunctions"
CODE_SIGNING_CONTEXT = "trafficshift:codeSigning"


class TrafficShiftStack(Stack):
    """One control plane per account and region.

    Context ``trafficshift:managedFunctions`` (a list, a JSON list, or a comma-separated
    string) names the functions it may shift; default: the construct's default, every
    function tagged ``trafficshift:managed=true``. Context ``trafficshift:codeSigning``
    (``true``) turns on the construct's ``code_signing``; default: off.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "description", "trafficshift: shifts Lambda alias traffic step by step, or reverts"
        )
        super().__init__(scope, construct_id, **kwargs)
        options: dict[str, Any] = {}
        managed = _function_names(self.node.try_get_context(MANAGED_FUNCTIONS_CONTEXT))
        if managed is not None:
            options["managed_function_names"] = managed
        if str(self.node.try_get_context(CODE_SIGNING_CONTEXT)).lower() == "true":
            options["code_signing"] = True

        self.control_plane = TrafficShiftControlPlane(self, "ControlPlane", **options)
        self.dashboard = ControlPlaneDashboard(
            self,
            "Dashboard",
            state_machine=self.control_plane.state_machine,
            functions=self.control_plane.functions,
            failed_events_alarm=self.control_plane.failed_events_alarm,
        )

        Tags.of(self).add("project", "trafficshift")
        Tags.of(self).add("component", "control-plane")
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.control_plane.state_machine.state_machine_arn,
            description="Start a deployment by starting an execution of this state machine",
        )
        CfnOutput(
            self,
            "ArtifactBucketName",
            value=self.control_plane.artifact_bucket.bucket_name,
            description="Upload <function-name>/<name>.zip here to roll the new code out",
        )
        CfnOutput(
            self,
            "LedgerTableName",
            value=self.control_plane.table.table_name,
            description="The ledger: per-alias locks, deployment history, operator signals",
        )
        CfnOutput(
            self,
            "DashboardUrl",
            value=self.dashboard.url,
            description="The control plane's CloudWatch dashboard",
        )
        CfnOutput(
            self,
            "FailedEventsQueueUrl",
            value=self.control_plane.failed_events.queue_url,
            description="Uploads and reconciler events that could not be delivered or handled",
        )
        if self.control_plane.code_signing_config is not None:
            CfnOutput(
                self,
                "CodeSigningConfigArn",
                value=self.control_plane.code_signing_config.code_signing_config_arn,
                description="Attach to the managed functions; uploads must be signed",
            )
        if self.control_plane.signing_profile is not None:
            CfnOutput(
                self,
                "SigningProfileName",
                value=self.control_plane.signing_profile.signing_profile_name,
                description="Sign uploads with this AWS Signer profile",
            )


def _function_names(value: object) -> list[str] | None:
    """Accept the context as cdk.json gives it (a list) or as `-c key=value` gives it (text)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        parsed = json.loads(text) if text.startswith("[") else text.split(",")
        value = [str(name).strip() for name in parsed]
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise TypeError(f"{MANAGED_FUNCTIONS_CONTEXT} must be a list of function names")
    return [name for name in value if name]
