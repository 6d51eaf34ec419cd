"""cdk-nag (AwsSolutions and Serverless): nothing unacknowledged, and every acknowledgment
says why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from infra.app_factory import STACK_NAME

AppFactory = Callable[..., cdk.App]


def _acknowledgments(app: cdk.App) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in entry.data.items():
                    found[(construct.node.path, rule_id)] = reason
    return found


def test_synth_reports_no_unacknowledged_finding(synthesized: Any) -> None:
    # Given the app synthesized with the AwsSolutions checks (the fixture would have raised
    # on a failure) / Then the validation report lists no violation at any severity
    violations = [
        (report["pluginName"], violation["ruleName"], violation["severity"])
        for report in synthesized.validation_report["pluginReports"]
        for violation in report.get("violations", [])
    ]
    assert violations == []


def test_both_rule_packs_run_at_synth(synthesized: Any) -> None:
    plugins = {report["pluginName"] for report in synthesized.validation_report["pluginReports"]}
    assert {"AwsSolutions", "Serverless"} <= plugins


def test_every_acknowledgment_gives_a_reason(synthesized: Any) -> None:
    acknowledgments = _acknowledgments(synthesized.app)
    assert acknowledgments, "expected the design's accepted findings to be acknowledged"
    for (path, rule_id), reason in acknowledgments.items():
        assert rule_id.startswith(("AwsSolutions::AwsSolutions-", "Serverless::Serverless-")), (
            path,
            rule_id,
        )
        assert len(reason.strip()) >= 40, (path, rule_id, reason)


def test_acknowledgments_sit_on_the_constructs_not_the_stack(synthesized: Any) -> None:
    # A stack- or app-wide acknowledgment would also hide the next, unintended finding.
    for path, rule_id in _acknowledgments(synthesized.app):
        assert path.count("/") >= 2, (path, rule_id)


def test_a_new_wildcard_grant_fails_synth(make_app: AppFactory) -> None:
    # Given the app with one more wildcard grant nobody acknowledged
    app = make_app()
    stack = app.node.find_child(STACK_NAME)
    role = iam.Role(stack, "Careless", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["lambda:UpdateAlias"], resources=["*"]))
    # When it is synthesized / Then cdk-nag stops the synth
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_a_rule_target_without_a_dead_letter_queue_fails_synth(make_app: AppFactory) -> None:
    # Given the app with one more EventBridge rule whose target has no DLQ (Serverless pack)
    app = make_app()
    stack = app.node.find_child(STACK_NAME)
    target = lambda_.Function.from_function_arn(
        stack, "Elsewhere", "arn:aws:lambda:us-east-1:123456789012:function:elsewhere"
    )
    events.Rule(
        stack,
        "CarelessRule",
        event_pattern=events.EventPattern(source=["aws.s3"]),
        targets=[targets.LambdaFunction(target)],
    )
    # When it is synthesized / Then cdk-nag stops the synth
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_acknowledgments_hold_with_code_signing(make_app: AppFactory) -> None:
    app = make_app({"trafficshift:codeSigning": "true"})
    app.synth()  # would raise on any unacknowledged finding


def test_acknowledgments_follow_narrower_managed_function_names(make_app: AppFactory) -> None:
    # Given one named function (no wildcard) and one pattern
    app = make_app({"trafficshift:managedFunctions": ["orders-api", "billing-*"]})
    # When synthesized / Then every finding is still acknowledged (synth would raise)
    app.synth()


def test_acknowledgments_follow_arns_that_are_tokens_until_deploy_time(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment-agnostic stack: account and region are Refs in every ARN
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    app = make_app(env=None)
    # When synthesized / Then every finding is still acknowledged (synth would raise)
    app.synth()
