"""Loading a template into the emulator, and running its state machine on moto's interpreter.

Also pins the Step Functions and EventBridge fidelity patches, which need a state machine.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from trafficshift.emulator import lambda_runtime
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.template import (
    DeployedControlPlane,
    IntrinsicResolver,
    TemplateError,
    load_template,
    physical_name,
)


def _wait(sfn: Any, execution_arn: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(execution)
        time.sleep(0.02)


@pytest.fixture
def deployed_cloud(small_template: dict[str, Any]) -> Any:
    with LocalCloud(small_template, routing_seed=1) as cloud:
        yield cloud


# -- intrinsic functions ------------------------------------------------------------------


@pytest.fixture
def resolver() -> IntrinsicResolver:
    from trafficshift.emulator.template import DeployedResource

    resolver = IntrinsicResolver(
        region="eu-west-1",
        account_id="111122223333",
        parameters={"Stage": "prod"},
        conditions={"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
    )
    resolver.resources["Fn"] = DeployedResource(
        "Fn", "AWS::Lambda::Function", "my-fn", {"Arn": "arn:aws:lambda:eu-west-1:1:function:my-fn"}
    )
    return resolver


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "Fn"}, "my-fn"),
        ({"Fn::GetAtt": ["Fn", "Arn"]}, "arn:aws:lambda:eu-west-1:1:function:my-fn"),
        ({"Fn::GetAtt": "Fn.Arn"}, "arn:aws:lambda:eu-west-1:1:function:my-fn"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, "b"]]}, "a-prod-b"),
        ({"Fn::Sub": "${AWS::AccountId}/${Fn}/${Fn.Arn}/${!Literal}"}, None),
        ({"Fn::Sub": ["${X}-${Stage}", {"X": {"Ref": "AWS::Partition"}}]}, "aws-prod"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::If": ["IsProd", "yes", "no"]}, "yes"),
        ({"k": {"Ref": "AWS::NoValue"}, "j": 1}, {"j": 1}),
    ],
)
def test_intrinsic_functions_resolve_like_cloudformation(
    resolver: IntrinsicResolver, expression: Any, expected: Any
) -> None:
    resolved = resolver.resolve(expression)

    if expected is None:  # the Fn::Sub case, spelled out
        expected = "111122223333/my-fn/arn:aws:lambda:eu-west-1:1:function:my-fn/${Literal}"
    assert resolved == expected


def test_ref_to_an_unknown_resource_is_a_template_error(resolver: IntrinsicResolver) -> None:
    with pytest.raises(TemplateError, match="Nope"):
        resolver.resolve({"Ref": "Nope"})


def test_default_physical_names_are_prefixed_and_bounded() -> None:
    long_ids = ["ControlPlane" + "X" * 60 + suffix for suffix in ("AAAA1111", "BBBB2222")]

    assert physical_name("PrepareFn") == "TrafficShift-PrepareFn"
    assert [len(physical_name(logical_id)) for logical_id in long_ids] == [64, 64]
    assert physical_name(long_ids[0]) != physical_name(long_ids[1])


# -- load_template ------------------------------------------------------------------------


def test_template_resources_are_created_in_dependency_order(deployed_cloud: LocalCloud) -> None:
    # Given the small template loaded into a LocalCloud
    deployed: DeployedControlPlane = deployed_cloud.deployed
    lam = deployed_cloud.client("lambda")

    # Then its functions exist with the template's settings and resolved environment
    assert deployed.function_names == {
        "DoubleFn": "TrafficShift-DoubleFn",
        "RejectFn": "reject-orders",
    }
    config = lam.get_function_configuration(FunctionName="TrafficShift-DoubleFn")
    table_name = deployed.resources["Table"].physical_id
    assert config["Environment"]["Variables"] == {"GREETING": "hello", "TABLE_NAME": table_name}
    assert (config["Timeout"], config["MemorySize"], config["Architectures"]) == (
        30,
        256,
        ["arm64"],
    )
    assert config["Handler"] == "emulator_test_handlers.double"
    # And the table, and the state machine named after its logical id
    deployed_cloud.client("dynamodb").describe_table(TableName=table_name)
    assert deployed.state_machine_arn.endswith(":stateMachine:TrafficShift-Machine")
    # And what the emulator does not need was skipped, with a placeholder
    assert not deployed.resources["HandlerRoleDefaultPolicy"].created
    assert not deployed.resources["CDKMetadata"].created
    # And the functions run the package code
    assert lambda_runtime.is_package_function("reject-orders")


def test_state_machine_task_runs_a_package_code_function(deployed_cloud: LocalCloud) -> None:
    # Given the loaded template, whose state machine doubles the input then rejects it
    sfn = deployed_cloud.client("stepfunctions")

    # When an execution starts
    started = sfn.start_execution(
        stateMachineArn=deployed_cloud.state_machine_arn, input=json.dumps({"value": 21})
    )
    execution = _wait(sfn, started["executionArn"])

    # Then the handler ran in-process with its environment, and the Catch matched the
    # exception's class name as the state's Error
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert (output["value"], output["greeting"]) == (42, "hello")
    assert output["error"]["Error"] == "OrderRejected"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "order 42 rejected"


def test_stop_unregisters_the_template_functions(small_template: dict[str, Any]) -> None:
    with LocalCloud(small_template):
        assert lambda_runtime.is_package_function("reject-orders")

    assert not lambda_runtime.is_package_function("reject-orders")


def test_a_failing_resource_names_its_logical_id(cloud: LocalCloud) -> None:
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Role": "arn:aws:iam::123456789012:role/missing", "Handler": "x.y"},
            }
        }
    }

    with pytest.raises(TemplateError, match=r"^Fn \(AWS::Lambda::Function\)"):
        load_template(template, region=cloud.region, client_factory=cloud.client)


# -- start_execution_generates_name / start_execution_while_others_exist -----------------


def test_start_execution_without_name_gets_unique_name(deployed_cloud: LocalCloud) -> None:
    # Given the loaded state machine
    sfn = deployed_cloud.client("stepfunctions")
    arn = deployed_cloud.state_machine_arn

    # When two executions start without a name, with the same input
    first = sfn.start_execution(stateMachineArn=arn, input='{"value": 1}')["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input='{"value": 1}')["executionArn"]

    # Then, as on AWS, each got a UUID name (moto named both "None" and refused the second)
    names = [execution_arn.rsplit(":", 1)[1] for execution_arn in (first, second)]
    assert names[0] != names[1]
    assert all(len(name) == 36 and name != "None" for name in names)
    assert {_wait(sfn, first)["status"], _wait(sfn, second)["status"]} == {"SUCCEEDED"}


def test_many_executions_of_one_state_machine_run(deployed_cloud: LocalCloud) -> None:
    # Given the loaded state machine (moto failed every StartExecution after the first)
    sfn = deployed_cloud.client("stepfunctions")

    # When several executions start, some while others are still running
    arns = [
        sfn.start_execution(
            stateMachineArn=deployed_cloud.state_machine_arn,
            name=f"run-{n}",
            input=json.dumps({"value": n}),
        )["executionArn"]
        for n in range(5)
    ]

    # Then all of them succeed, each with its own result
    outputs = [json.loads(_wait(sfn, arn)["output"])["value"] for arn in arns]
    assert outputs == [0, 2, 4, 6, 8]


def test_start_execution_with_same_name_and_input_is_idempotent(deployed_cloud: LocalCloud) -> None:
    sfn = deployed_cloud.client("stepfunctions")
    arn = deployed_cloud.state_machine_arn

    first = sfn.start_execution(stateMachineArn=arn, name="dedupe", input='{"value": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name="dedupe", input='{"value": 1}')

    assert first["executionArn"] == again["executionArn"]


# -- event_rules_deliver_to_lambda_and_step_functions ------------------------------------


def test_event_rule_starts_state_machine_with_transformed_input(deployed_cloud: LocalCloud) -> None:
    # Given a rule on the default bus whose target is the state machine, with a transformer
    events = deployed_cloud.client("events")
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(
        Rule="orders",
        Targets=[
            {
                "Id": "machine",
                "Arn": deployed_cloud.state_machine_arn,
                "RoleArn": "arn:aws:iam::123456789012:role/events",
                "InputTransformer": {
                    "InputPathsMap": {"v": "$.detail.value"},
                    "InputTemplate": '{"value": <v>}',
                },
            }
        ],
    )

    # When a matching event is put
    events.put_events(
        Entries=[{"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"value": 5})}]
    )

    # Then, as on AWS, an execution started with the transformed input
    sfn = deployed_cloud.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=deployed_cloud.state_machine_arn)
    assert len(executions["executions"]) == 1
    execution = _wait(sfn, executions["executions"][0]["executionArn"])
    assert json.loads(execution["input"]) == {"value": 5}
    assert json.loads(execution["output"])["value"] == 10


def test_s3_object_created_event_reaches_a_lambda_target(deployed_cloud: LocalCloud) -> None:
    # Given a bucket that sends its events to EventBridge, and a rule -> a Lambda function
    s3 = deployed_cloud.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_notification_configuration(
        Bucket="artifacts", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    events = deployed_cloud.client("events")
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"]}
    events.put_rule(Name="uploads", EventPattern=json.dumps(pattern))
    function_arn = deployed_cloud.client("lambda").get_function(FunctionName="reject-orders")[
        "Configuration"
    ]["FunctionArn"]
    events.put_targets(
        Rule="uploads",
        Targets=[
            {
                "Id": "fn",
                "Arn": function_arn,
                "InputTransformer": {
                    "InputPathsMap": {"key": "$.detail.object.key"},
                    "InputTemplate": '{"value": <key>}',
                },
            }
        ],
    )
    seen: list[Any] = []
    import emulator_test_handlers

    original = emulator_test_handlers.reject
    emulator_test_handlers.reject = lambda event, context: seen.append(event)  # type: ignore[assignment]
    try:
        # When an object is uploaded
        s3.put_object(Bucket="artifacts", Key="orders-api/build-7.zip", Body=b"zip")
    finally:
        emulator_test_handlers.reject = original

    # Then the function got the transformed event (moto skipped transformers for S3 events)
    assert seen == [{"value": "orders-api/build-7.zip"}]


def test_input_transformer_quotes_strings_like_eventbridge() -> None:
    # The example of EventBridge's user guide (eb-transform-target-input)
    from trafficshift.emulator.fidelity.events import _transform

    class _Rule:
        name, arn = "r", "arn:aws:events:us-east-1:123456789012:rule/r"

    event = {"detail": {"instance-id": "i-0123456789", "state": "RUNNING"}}
    transformer = {
        "InputPathsMap": {"instance": "$.detail.instance-id", "state": "$.detail.state"},
        "InputTemplate": '{"instance": <instance>, "state": [9, <state>, true], "n": "<state>!"}',
    }

    assert _transform(_Rule(), transformer, event) == {  # type: ignore[arg-type]
        "instance": "i-0123456789",
        "state": [9, "RUNNING", True],
        "n": "RUNNING!",
    }


# -- LocalCloud -----------------------------------------------------------------------------


def test_local_cloud_stop_undoes_patches_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from trafficshift.emulator import fidelity

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)

    with LocalCloud(load_control_plane=False, region="eu-west-1") as cloud:
        assert fidelity.installed()
        assert cloud.client("lambda").meta.region_name == "eu-west-1"
        with pytest.raises(RuntimeError, match="No control plane"):
            _ = cloud.state_machine_arn

    assert not fidelity.installed()
    assert "AWS_DEFAULT_REGION" not in lambda_runtime.os.environ


def test_synthesized_control_plane_loads_into_local_cloud() -> None:
    # Given the CDK app (skipped until infra/ can synthesize)
    pytest.importorskip("infra.app_factory")

    # When LocalCloud starts with its default, the synthesized template
    with LocalCloud() as cloud:
        deployed = cloud.deployed
        lam = cloud.client("lambda")
        handlers = {
            lam.get_function_configuration(FunctionName=name)["Handler"]
            for name in deployed.function_names.values()
        }
        machine = cloud.client("stepfunctions").describe_state_machine(
            stateMachineArn=cloud.state_machine_arn
        )

    # Then its functions run the `rollout` package, and the state machine is valid ASL
    # whose Lambda tasks point at the deployed functions
    assert deployed.function_names
    assert all(handler.startswith("rollout.handlers.") for handler in handlers)
    definition = machine["definition"]
    assert json.loads(definition)["StartAt"]
    # (every function but the upload trigger and the reconciler, which EventBridge invokes)
    tasks = [
        n
        for logical_id, n in deployed.function_names.items()
        if "Trigger" not in logical_id and "Reconcile" not in logical_id
    ]
    assert tasks
    assert all(name in definition for name in tasks)
