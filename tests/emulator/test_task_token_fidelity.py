"""Task tokens (waitForTaskToken): SendTaskSuccess and SendTaskFailure reach the waiting
task as on AWS, which the approval gate relies on."""

from __future__ import annotations

import json
import time
from typing import Any

from emulator_helpers import code_zip

from trafficshift.emulator.cloud import LocalCloud

# The function leaves its task token in a queue, where the test picks it up.
_LEAVE_TOKEN = (
    "import boto3, json, os\n"
    "def handler(event, context):\n"
    "    sqs = boto3.client('sqs', region_name=os.environ['AWS_REGION'])\n"
    "    sqs.send_message(QueueUrl=event['queue'], MessageBody=event['token'])\n"
    "    return {'left': True}\n"
)


def _machine(cloud: LocalCloud, role_arn: str) -> tuple[str, str]:
    lam = cloud.client("lambda")
    function = lam.create_function(
        FunctionName="leave-token",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(_LEAVE_TOKEN)},
    )["FunctionArn"]
    queue = cloud.client("sqs").create_queue(QueueName="tokens")["QueueUrl"]
    definition = {
        "StartAt": "Gate",
        "States": {
            "Gate": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": function,
                    "Payload": {"queue": queue, "token.$": "$$.Task.Token"},
                },
                "TimeoutSeconds": 30,
                "ResultPath": "$.answer",
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = cloud.client("stepfunctions").create_state_machine(
        name="gate", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    return machine, queue


def _token(cloud: LocalCloud, queue: str) -> str:
    sqs = cloud.client("sqs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue).get("Messages", [])
        if messages:
            return str(messages[0]["Body"])
        time.sleep(0.05)
    raise AssertionError("no task token was left")


def _finished(cloud: LocalCloud, execution: str) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


def test_send_task_success_output_lands_at_the_result_path(
    cloud: LocalCloud, role_arn: str
) -> None:
    machine, queue = _machine(cloud, role_arn)
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    sfn.send_task_success(taskToken=_token(cloud, queue), output='{"approvedBy": "alice"}')

    finished = _finished(cloud, execution)
    assert finished["status"] == "SUCCEEDED"
    assert json.loads(finished["output"])["answer"] == {"approvedBy": "alice"}


def test_send_task_failure_gives_the_catch_both_error_and_cause(
    cloud: LocalCloud, role_arn: str
) -> None:
    machine, queue = _machine(cloud, role_arn)
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    sfn.send_task_failure(
        taskToken=_token(cloud, queue), error="Aborted", cause="aborted by carol at the gate"
    )

    finished = _finished(cloud, execution)
    assert finished["status"] == "SUCCEEDED"
    assert json.loads(finished["output"])["error"] == {
        "Error": "Aborted",
        "Cause": "aborted by carol at the gate",
    }
