"""The ledger table (locks, history, signals): durable, encrypted, the schema the Ledger
adapter assumes; the task roles reach it with named actions only; and the reconciler's
rule listens to this state machine's ended executions only."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from rollout.adapters.ledger import table_definition
from rollout.domain import ledger as ledger_domain

Resources = dict[str, dict[str, Any]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _of_type(template_dict: dict[str, Any], kind: str) -> Resources:
    return {k: r for k, r in template_dict["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def table(template_dict: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = _of_type(template_dict, "AWS::DynamoDB::Table").items()
    return found


def test_the_table_has_point_in_time_recovery_and_encryption(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_the_table_outlives_the_stack(table: tuple[str, dict[str, Any]]) -> None:
    _, resource = table
    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"


def test_the_table_expires_items_on_expires_at(table: tuple[str, dict[str, Any]]) -> None:
    _, resource = table
    assert resource["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiresAt",
        "Enabled": True,
    }


def test_the_table_has_the_open_and_by_alias_indexes_of_the_adapter(
    table: tuple[str, dict[str, Any]],
) -> None:
    _, resource = table
    indexes = {i["IndexName"]: i for i in resource["Properties"]["GlobalSecondaryIndexes"]}
    assert (
        set(indexes)
        == {ledger_domain.OPEN_INDEX, ledger_domain.BY_ALIAS_INDEX}
        == {"Open", "ByAlias"}
    )
    keys = {
        name: [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]]
        for name, index in indexes.items()
    }
    assert keys["Open"] == [("openPk", "HASH"), ("openSk", "RANGE")]
    assert keys["ByAlias"] == [("aliasKey", "HASH"), ("startedAt", "RANGE")]
    assert all(i["Projection"]["ProjectionType"] == "INCLUDE" for i in indexes.values())
    assert resource["Properties"]["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def test_the_indexes_project_what_the_adapter_defines(table: tuple[str, dict[str, Any]]) -> None:
    # The sweep reads `Open`: the construct must project what `table_definition` does (no
    # more, so that a lease renewal writes nothing to it; a projection changed later would
    # need a new index, as CloudFormation cannot update a deployed one's).
    _, resource = table
    built = {
        i["IndexName"]: i["Projection"] for i in resource["Properties"]["GlobalSecondaryIndexes"]
    }
    defined = {
        i["IndexName"]: i["Projection"]
        for i in table_definition("ledger")["GlobalSecondaryIndexes"]
    }
    assert built == defined
    assert "leaseExpiresAt" not in built[ledger_domain.OPEN_INDEX]["NonKeyAttributes"]


def _function_role_statements(template_dict: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every statement of the policies attached to each function's role, by function."""
    roles = {
        logical_id: function["Properties"]["Role"]["Fn::GetAtt"][0]
        for logical_id, function in _of_type(template_dict, "AWS::Lambda::Function").items()
    }
    policies = _of_type(template_dict, "AWS::IAM::Policy").values()
    return {
        function: [
            statement
            for policy in policies
            if {"Ref": role} in policy["Properties"].get("Roles", [])
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        for function, role in roles.items()
    }


def test_no_function_role_has_dynamodb_star_or_a_table_action_on_every_resource(
    template_dict: dict[str, Any], table: tuple[str, dict[str, Any]]
) -> None:
    table_id, _ = table
    by_function = _function_role_statements(template_dict)
    assert by_function, "no functions found"
    with_ledger = 0
    for function, statements in by_function.items():
        for statement in statements:
            actions = [str(a) for a in _as_list(statement["Action"])]
            assert not {"*", "dynamodb:*"} & set(actions), (function, statement)
            dynamodb = [a for a in actions if a.startswith("dynamodb:")]
            if not dynamodb:
                continue
            assert all("*" not in a for a in dynamodb), (function, statement)
            resources = _as_list(statement["Resource"])
            assert "*" not in resources, (function, statement)
            # Only the ledger table (and its indexes) itself.
            assert all(table_id in str(r) for r in resources), (function, statement)
            with_ledger += 1
    assert with_ledger, "no function reaches the ledger table"


@pytest.mark.parametrize("task", ["Promote", "Revert", "Reconcile"])
def test_a_task_that_records_an_outcome_can_clear_its_pending_event_marker(
    template_dict: dict[str, Any], task: str
) -> None:
    (statements,) = [
        found
        for function, found in _function_role_statements(template_dict).items()
        if function.startswith(f"ControlPlane{task}Function")
    ]
    actions = {str(a) for s in statements for a in _as_list(s["Action"])}
    # Recording the outcome and removing `outcomeEventPending` are both UpdateItem; the
    # retry reads the marker from the refused write, so Promote needs no GetItem.
    assert "dynamodb:UpdateItem" in actions
    if task == "Promote":
        assert "dynamodb:GetItem" not in actions


def test_the_reconciler_rule_matches_only_this_state_machines_ended_executions(
    template_dict: dict[str, Any],
) -> None:
    (machine_id,) = _of_type(template_dict, "AWS::StepFunctions::StateMachine")
    rules = [
        rule
        for rule in _of_type(template_dict, "AWS::Events::Rule").values()
        if (rule["Properties"].get("EventPattern") or {}).get("source") == ["aws.states"]
    ]
    assert len(rules) == 1, rules
    pattern = rules[0]["Properties"]["EventPattern"]
    statuses = sorted(pattern.get("detail", {}).get("status", []))
    assert statuses == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": pattern["detail"]["status"], "stateMachineArn": [{"Ref": machine_id}]},
    }
    (target,) = rules[0]["Properties"]["Targets"]
    assert "Reconcile" in target["Arn"]["Fn::GetAtt"][0]
