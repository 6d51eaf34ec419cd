"""Code signing as a construct option: a signing profile, an enforcing code signing config,
and UpdateCode told which profile to require, with the read-only lookups it needs."""

from __future__ import annotations

import tempfile
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_signer as signer
from aws_cdk.assertions import Template

from infra.app_factory import cdk_json_context
from infra.control_plane import TrafficShiftControlPlane

SIGNING_ENV = "TRAFFICSHIFT_SIGNING_PROFILE_VERSION_ARN"


def _template(**options: Any) -> tuple[Template, TrafficShiftControlPlane]:
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=tempfile.mkdtemp())
    stack = cdk.Stack(app, "Given", env=cdk.Environment(account="123456789012", region="us-east-1"))
    control_plane = TrafficShiftControlPlane(stack, "ControlPlane", **options)
    return Template.from_stack(stack), control_plane


@pytest.fixture(scope="module")
def signed() -> tuple[Template, TrafficShiftControlPlane]:
    return _template(code_signing=True)


def _update_code(template: Template) -> dict[str, Any]:
    (function,) = [
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].endswith("update_code.handler")
    ]
    return dict(function["Properties"])


def _update_code_statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if "UpdateCodeRole" in logical_id
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_code_signing_creates_a_lambda_signing_profile_and_an_enforcing_config(
    signed: tuple[Template, TrafficShiftControlPlane],
) -> None:
    template, control_plane = signed
    template.has_resource_properties(
        "AWS::Signer::SigningProfile", {"PlatformId": "AWSLambda-SHA384-ECDSA"}
    )
    (config,) = template.find_resources("AWS::Lambda::CodeSigningConfig").values()
    properties = config["Properties"]
    assert properties["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    (profile_id,) = template.find_resources("AWS::Signer::SigningProfile")
    assert properties["AllowedPublishers"]["SigningProfileVersionArns"] == [
        {"Fn::GetAtt": [profile_id, "ProfileVersionArn"]}
    ]
    assert control_plane.code_signing_config is not None  # exposed to attach to functions


def test_code_signing_tells_update_code_which_profile_version_to_require(
    signed: tuple[Template, TrafficShiftControlPlane],
) -> None:
    template, _ = signed
    (profile_id,) = template.find_resources("AWS::Signer::SigningProfile")
    variables = _update_code(template)["Environment"]["Variables"]
    assert variables[SIGNING_ENV] == {"Fn::GetAtt": [profile_id, "ProfileVersionArn"]}


def test_code_signing_grants_update_code_only_read_only_code_signing_lookups(
    signed: tuple[Template, TrafficShiftControlPlane],
) -> None:
    template, _ = signed
    by_action = {
        action: statement
        for statement in _update_code_statements(template)
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    function_lookup = by_action["lambda:GetFunctionCodeSigningConfig"]
    assert function_lookup["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:*"
    assert function_lookup["Condition"] == {
        "StringEquals": {"aws:ResourceTag/trafficshift:managed": "true"}
    }
    config_lookup = by_action["lambda:GetCodeSigningConfig"]
    assert config_lookup["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:code-signing-config:*"
    )
    # A config's tags are not the function's: no function tag condition on it.
    assert "Condition" not in config_lookup
    assert not {a for a in by_action if "PutFunctionCodeSigningConfig" in a or "Delete" in a}


def test_without_code_signing_there_is_no_profile_and_update_code_requires_none() -> None:
    template, control_plane = _template()
    assert template.find_resources("AWS::Signer::SigningProfile") == {}
    assert template.find_resources("AWS::Lambda::CodeSigningConfig") == {}
    assert SIGNING_ENV not in _update_code(template)["Environment"]["Variables"]
    assert control_plane.signing_profile is None
    assert control_plane.code_signing_config is None


def test_an_existing_signing_profile_is_required_instead_of_a_new_one() -> None:
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=tempfile.mkdtemp())
    stack = cdk.Stack(app, "Given", env=cdk.Environment(account="123456789012", region="us-east-1"))
    profile = signer.SigningProfile.from_signing_profile_attributes(
        stack, "Theirs", signing_profile_name="releases", signing_profile_version="abc123"
    )
    TrafficShiftControlPlane(stack, "ControlPlane", signing_profile=profile)
    template = Template.from_stack(stack)
    assert template.find_resources("AWS::Signer::SigningProfile") == {}
    variables = _update_code(template)["Environment"]["Variables"]
    assert stack.resolve(variables[SIGNING_ENV]) == stack.resolve(
        profile.signing_profile_version_arn
    )
