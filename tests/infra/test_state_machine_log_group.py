"""The state machine logs under /aws/vendedlogs/states/, one log group per stack.

AWS: Step Functions adds the log group a state machine logs to to the account's CloudWatch
Logs resource policy, which holds at most 5,120 characters; log groups whose name starts
with /aws/vendedlogs/ are covered without growing it ("Avoiding Amazon CloudWatch Logs
resource policy size restrictions", Step Functions developer guide,
https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html; AWS::Logs::ResourcePolicy:
PolicyDocument maximum 5120). Without the prefix, enough state machines in one account make
CreateStateMachine fail.
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.control_plane import state_machine_log_group_name

_LOG_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")  # CloudWatch Logs' rule


def _machine_log_group(template_dict: dict[str, Any]) -> dict[str, Any]:
    resources = template_dict["Resources"]
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
    logical_id = arn["Fn::GetAtt"][0]
    group: dict[str, Any] = resources[logical_id]
    return group


def test_the_state_machine_logs_under_vendedlogs_states_named_after_its_stack(
    template_dict: dict[str, Any],
) -> None:
    name = _machine_log_group(template_dict)["Properties"]["LogGroupName"]

    # Then: /aws/vendedlogs/states/<the stack's name>-<the construct's unique id>
    parts = name["Fn::Join"][1]
    assert parts[0] == "/aws/vendedlogs/states/"
    assert parts[1] == {"Ref": "AWS::StackName"}
    assert _LOG_GROUP_NAME.fullmatch(parts[0] + "x" * 128 + parts[2])  # 128: a stack name's max


def test_two_control_planes_in_one_stack_get_two_log_groups() -> None:
    # Given two constructs in one stack (the stack's name is the same for both)
    stack = cdk.Stack(cdk.App(), "Twice")
    names = [
        stack.resolve(state_machine_log_group_name(Construct(stack, id_)))
        for id_ in ("Blue", "Green")
    ]

    # Then their log groups' names differ, each under the prefix
    assert names[0] != names[1]
    assert all(n["Fn::Join"][1][0] == "/aws/vendedlogs/states/" for n in names)
