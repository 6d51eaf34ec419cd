"""IAM: one role per function, Lambda mutations scoped to the managed functions only:
by the tag condition (the default) or by name, never to every function unconditioned."""

from __future__ import annotations

import json
import re
import tempfile
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app_factory import cdk_json_context
from infra.control_plane import HANDLERS, TrafficShiftControlPlane
from infra.managed_functions import MANAGED_TAG_KEY, MANAGED_TAG_VALUE, ManagedFunctions

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"
MUTATING = {
    "lambda:UpdateAlias",
    "lambda:PublishVersion",
    "lambda:UpdateFunctionCode",
    "lambda:InvokeFunction",
}
TAG_CONDITION = {"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG_KEY}": MANAGED_TAG_VALUE}}
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


def _rendered(value: Any) -> str:
    """A resource as text: literals as they are, intrinsics as `<...>` (never a wildcard)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_rendered(part) for part in parts)
    return f"<{json.dumps(value, sort_keys=True)}>"


_WILDCARD_FUNCTION = re.compile(r"(^\*$)|(:function:[*?]+(:[*?]+)?$)")


def _unconditioned_wildcard_mutations(statements: Statements) -> list[tuple[str, str, str]]:
    """(policy, action, resource) of every Allow of a mutating Lambda action on `*` or on a
    wildcard function ARN (`function:*`, `function:*:*`) with no condition."""
    found = []
    for logical_id, statement in statements:
        if statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        actions = set(_as_list(statement["Action"]))
        risky = actions & (MUTATING | {"lambda:*", "*"})
        for resource in map(_rendered, _as_list(statement["Resource"])):
            if _WILDCARD_FUNCTION.search(resource):
                found += [(logical_id, action, resource) for action in sorted(risky)]
    return found


def _statements_of_template(template: Template) -> Statements:
    return [
        (logical_id, statement)
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_wildcard_check_catches_an_unconditioned_mutation_on_every_function() -> None:
    # Given the statements the check must refuse, and their conditioned twins
    bad: Statements = [
        ("A", {"Effect": "Allow", "Action": "lambda:UpdateAlias", "Resource": "*"}),
        (
            "B",
            {
                "Effect": "Allow",
                "Action": ["lambda:PublishVersion"],
                "Resource": [f"{ACCOUNT_ARN}:*", f"{ACCOUNT_ARN}:*:*"],
            },
        ),
        (
            "C",
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": {
                    "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":lambda:r:1:function:*"]]
                },
            },
        ),
    ]
    good: Statements = [(k, {**s, "Condition": TAG_CONDITION}) for k, s in bad] + [
        (
            "D",
            {
                "Effect": "Allow",
                "Action": "lambda:UpdateAlias",
                "Resource": f"{ACCOUNT_ARN}:orders-*",
            },
        )
    ]
    # Then it names each bad one and none of the good ones
    assert {(k, a) for k, a, _ in _unconditioned_wildcard_mutations(bad)} == {
        ("A", "lambda:UpdateAlias"),
        ("B", "lambda:PublishVersion"),
        ("C", "lambda:InvokeFunction"),
    }
    assert _unconditioned_wildcard_mutations(good) == []


def test_no_mutating_lambda_action_is_granted_on_a_wildcard_function_without_a_condition(
    policy_statements: Statements,
) -> None:
    assert _unconditioned_wildcard_mutations(policy_statements) == []


@pytest.mark.parametrize(
    "options",
    [
        {"managed_functions": ManagedFunctions.named(["orders-*"])},
        {"managed_functions": ManagedFunctions.tagged("team", "orders")},
        {"code_signing": True},
    ],
    ids=["named", "custom-tag", "code-signing"],
)
def test_no_configuration_grants_an_unconditioned_wildcard_mutation(
    options: dict[str, Any],
) -> None:
    template = _construct_template(**options)
    assert _unconditioned_wildcard_mutations(_statements_of_template(template)) == []


def test_tag_mode_is_the_default_and_conditions_every_lambda_function_statement(
    policy_statements: Statements,
) -> None:
    lambda_statements = [
        (k, s)
        for k, s in policy_statements
        if any(a.startswith("lambda:") for a in _as_list(s["Action"]))
        and "StateMachineRole" not in k  # CDK's invoke of our own functions, by ARN
    ]
    assert lambda_statements
    for logical_id, statement in lambda_statements:
        assert statement.get("Condition") == TAG_CONDITION, (logical_id, statement)


@pytest.mark.parametrize("task", ["SetWeight", "Promote", "Revert"])
def test_alias_shifting_tasks_may_only_read_and_update_aliases_of_tagged_functions(
    policy_statements: Statements, task: str
) -> None:
    lambda_statements = [
        s for s in _statements_of(policy_statements, task) if "lambda:" in str(s["Action"])
    ]
    assert lambda_statements == [
        {
            "Action": ["lambda:GetAlias", "lambda:UpdateAlias"],
            "Condition": TAG_CONDITION,
            "Effect": "Allow",
            # function:* matches the unqualified ARN and every version and alias.
            "Resource": f"{ACCOUNT_ARN}:*",
        }
    ]


def test_prepare_may_publish_versions_and_read_alarms_only(policy_statements: Statements) -> None:
    statements = _statements_of(policy_statements, "Prepare")
    by_action = {a: s["Resource"] for s in statements for a in _as_list(s["Action"])}
    conditions = {a: s.get("Condition") for s in statements for a in _as_list(s["Action"])}
    for action in (
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
        "lambda:PublishVersion",
    ):
        assert by_action[action] == f"{ACCOUNT_ARN}:*"
        assert conditions[action] == TAG_CONDITION
    # Only what Prepare calls: no GetFunction (code download URLs), no version listing.
    assert {a for a in by_action if a.startswith("lambda:")} == {
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
        "lambda:PublishVersion",
    }
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


def test_a_custom_tag_is_the_condition_of_every_managed_function_grant() -> None:
    template = _construct_template(managed_functions=ManagedFunctions.tagged("team", "orders"))
    statements = _statements_of_template(template)
    updates = [s for _, s in statements if "lambda:UpdateAlias" in _as_list(s["Action"])]
    assert updates
    for statement in updates:
        assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/team": "orders"}}


def test_tag_mode_grants_hook_invocations_only_on_tagged_hook_functions() -> None:
    template = _construct_template()
    invokes = [
        (k, s)
        for k, s in _statements_of_template(template)
        if "lambda:InvokeFunction" in _as_list(s["Action"]) and "StateMachineRole" not in k
    ]
    for logical_id, statement in invokes:
        assert statement["Condition"] == TAG_CONDITION, logical_id


def test_tag_mode_refuses_an_action_lambda_does_not_evaluate_tags_for() -> None:
    # Given an action whose only resource is "*" (the tag would be ignored)
    stack = cdk.Stack(_app(), "Given", env=cdk.Environment(account="1" * 12, region="us-east-1"))
    # Then tag mode will not grant it on function:*; a fallback list scopes it instead
    with pytest.raises(ValueError, match="ignore aws:ResourceTag"):
        ManagedFunctions.tagged().statements(stack, ["lambda:ListFunctions"])
    statements = ManagedFunctions.tagged(fallback_names=["orders-*"]).statements(
        stack, ["lambda:UpdateAlias", "lambda:ListFunctions"]
    )
    rendered = [stack.resolve(s.to_statement_json()) for s in statements]
    assert rendered[0]["Condition"] == TAG_CONDITION
    assert rendered[1]["Resource"] == [
        "arn:aws:lambda:us-east-1:111111111111:function:orders-*",
        "arn:aws:lambda:us-east-1:111111111111:function:orders-*:*",
    ]
    assert "Condition" not in rendered[1]


@pytest.mark.parametrize("key", ["", "aws:managed", "bad,key"])
def test_tag_mode_refuses_reserved_or_malformed_tag_keys(key: str) -> None:
    with pytest.raises(ValueError, match="tag"):
        ManagedFunctions.tagged(key)


def test_managed_functions_and_managed_function_names_are_one_or_the_other() -> None:
    stack = cdk.Stack(_app(), "Given")
    with pytest.raises(ValueError, match="not both"):
        TrafficShiftControlPlane(
            stack,
            "ControlPlane",
            managed_functions=ManagedFunctions.tagged(),
            managed_function_names=["orders-api"],
        )


@pytest.mark.parametrize(
    "names",
    [
        [],
        ["arn:aws:lambda:us-east-1:123456789012:function:x"],
        ["fn:alias"],
        [""],
        ["*"],
        ["orders-api", "**"],
    ],
)
def test_managed_function_names_reject_arns_qualifiers_and_nothing(names: list[str]) -> None:
    stack = cdk.Stack(_app(), "Given")
    with pytest.raises(ValueError, match=r"managed_function_names|not a function name"):
        TrafficShiftControlPlane(stack, "ControlPlane", managed_function_names=names)
    with pytest.raises(ValueError, match=r"managed_function_names|not a function name"):
        ManagedFunctions.named(names)


def test_managed_function_names_reject_a_bare_string() -> None:
    stack = cdk.Stack(_app(), "Given")
    with pytest.raises(TypeError):
        TrafficShiftControlPlane(stack, "ControlPlane", managed_function_names="orders-api")


def test_the_sample_function_carries_the_tag_that_tag_mode_requires() -> None:
    from trafficshift.emulator.sample import MANAGED_TAGS

    assert MANAGED_TAGS == {MANAGED_TAG_KEY: MANAGED_TAG_VALUE}
