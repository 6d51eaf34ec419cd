"""IAM: one role per function, Lambda mutations scoped to the managed functions only."""

from __future__ import annotations

import tempfile
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app_factory import cdk_json_context
from infra.control_plane import HANDLERS, TrafficShiftControlPlane

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"
MUTATING = {"lambda:UpdateAlias", "lambda:PublishVersion", "lambda:UpdateFunctionCode"}
Statements = list[tuple[str, dict[str, Any]]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements_of(policy_statements: Statements, task: str) -> list[dict[str, Any]]:
    return [s for logical_id, s in policy_statements if f"{task}Role" in logical_id]


def test_no_statement_grants_lambda_mutations_on_every_resource(
    policy_statements: Statements,
) -> None:
    for logical_id, statement in policy_statements:
        actions = set(_as_list(statement["Action"]))
        if "*" not in _as_list(statement["Resource"]):
            continue
        assert not actions & (MUTATING | {"lambda:*", "*"}), (logical_id, statement)


def test_every_statement_on_every_resource_is_an_api_without_resource_scoping(
    policy_statements: Statements,
) -> None:
    # X-Ray, vended-log delivery and GetMetricData accept only "*"; nothing else may.
    allowed_prefixes = ("xray:", "logs:")
    for logical_id, statement in policy_statements:
        if "*" not in _as_list(statement["Resource"]):
            continue
        for action in _as_list(statement["Action"]):
            assert action.startswith(allowed_prefixes) or action == "cloudwatch:GetMetricData", (
                logical_id,
                action,
            )


def test_each_function_has_its_own_role_and_no_managed_policy(
    template_dict: dict[str, Any],
) -> None:
    functions = [
        r for r in template_dict["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    ]
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions}
    assert len(functions) == len(roles) == len(HANDLERS)
    for resource in template_dict["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            assert "ManagedPolicyArns" not in resource["Properties"]


@pytest.mark.parametrize("task", ["SetWeight", "Promote", "Revert"])
def test_alias_shifting_tasks_may_only_read_and_update_aliases_of_managed_functions(
    policy_statements: Statements, task: str
) -> None:
    lambda_statements = [
        s for s in _statements_of(policy_statements, task) if "lambda:" in str(s["Action"])
    ]
    assert lambda_statements == [
        {
            "Action": ["lambda:GetAlias", "lambda:UpdateAlias"],
            "Effect": "Allow",
            "Resource": [f"{ACCOUNT_ARN}:*", f"{ACCOUNT_ARN}:*:*"],
        }
    ]


def test_prepare_may_publish_versions_and_read_alarms_only(policy_statements: Statements) -> None:
    statements = _statements_of(policy_statements, "Prepare")
    by_action = {a: s["Resource"] for s in statements for a in _as_list(s["Action"])}
    for action in (
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
        "lambda:GetFunction",
        "lambda:PublishVersion",
        "lambda:ListVersionsByFunction",
    ):
        assert by_action[action] == [f"{ACCOUNT_ARN}:*", f"{ACCOUNT_ARN}:*:*"]
    assert by_action["cloudwatch:DescribeAlarms"] == (
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"
    )
    assert "lambda:UpdateAlias" not in by_action
    assert "lambda:UpdateFunctionCode" not in by_action


def test_check_reads_alarms_and_metrics_and_changes_nothing(
    policy_statements: Statements,
) -> None:
    statements = _statements_of(policy_statements, "Check")
    actions = {a for s in statements for a in _as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("lambda:")}
    assert {"cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"} <= actions


def _app() -> cdk.App:
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    return cdk.App(context=context, outdir=tempfile.mkdtemp())


def _construct_template(**options: Any) -> Template:
    app = _app()
    stack = cdk.Stack(app, "Given", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    TrafficShiftControlPlane(stack, "ControlPlane", **options)
    return Template.from_stack(stack)


def test_managed_function_names_narrow_every_lambda_grant() -> None:
    # Given a control plane limited to one team's functions
    template = _construct_template(managed_function_names=["orders-*", "billing"])
    # Then no Lambda statement reaches beyond them
    prefix = "arn:aws:lambda:eu-west-1:123456789012:function:"
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = _as_list(statement["Action"])
            if any(a.startswith("lambda:") and a != "lambda:InvokeFunction" for a in actions):
                assert sorted(statement["Resource"]) == sorted(
                    f"{prefix}{name}" for name in ("orders-*", "orders-*:*", "billing", "billing:*")
                )


@pytest.mark.parametrize(
    "names",
    [[], ["arn:aws:lambda:us-east-1:123456789012:function:x"], ["fn:alias"], [""]],
)
def test_managed_function_names_reject_arns_qualifiers_and_nothing(names: list[str]) -> None:
    stack = cdk.Stack(_app(), "Given")
    with pytest.raises(ValueError, match=r"managed_function_names|not a function name"):
        TrafficShiftControlPlane(stack, "ControlPlane", managed_function_names=names)


def test_managed_function_names_reject_a_bare_string() -> None:
    stack = cdk.Stack(_app(), "Given")
    with pytest.raises(TypeError):
        TrafficShiftControlPlane(stack, "ControlPlane", managed_function_names="orders-api")
