"""Build the CDK app: one `TrafficShift` stack, checked by cdk-nag (AwsSolutions and
Serverless).

`app.py` calls `create_app()`; the tests call it with a fixed environment and context.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.nag import acknowledge_control_plane
from infra.stack import TrafficShiftStack

STACK_NAME = "TrafficShift"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def create_app(
    context: dict[str, Any] | None = None,
    *,
    outdir: str | None = None,
    env: cdk.Environment | None = None,
) -> cdk.App:
    """The app with its one stack, cdk-nag checks and acknowledgments in place.

    :param context: context on top of cdk.json's (so tests synthesize with the same
        feature flags as ``cdk synth``). Default: none.
    :param outdir: the cloud assembly directory. Default: CDK's (``cdk.out``, or the
        CLI's choice).
    :param env: the stack's account and region. Default: ``CDK_DEFAULT_ACCOUNT`` and
        ``CDK_DEFAULT_REGION`` if set, else environment-agnostic.
    """
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    stack = TrafficShiftStack(app, STACK_NAME, env=env or _default_env())
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    acknowledge_control_plane(stack.control_plane)
    return app


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags included), or nothing without a cdk.json.

    The CLI passes it to the app itself; reading it here too makes an app that the
    tests build synthesize with the same feature flags as ``cdk synth``.
    """
    try:
        context = json.loads(CDK_JSON.read_text()).get("context", {})
    except FileNotFoundError:
        return {}
    return dict(context)


def _default_env() -> cdk.Environment | None:
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    if account and region:
        return cdk.Environment(account=account, region=region)
    return None
