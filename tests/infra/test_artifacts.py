"""The artifact bucket, its rules and the upload path of the state machine, in the template."""

from __future__ import annotations

import json
import tempfile
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app_factory import cdk_json_context
from infra.control_plane import TrafficShiftControlPlane
from rollout.domain.errors import InvalidInput

Resources = dict[str, dict[str, Any]]


def _of_type(template_dict: dict[str, Any], kind: str) -> Resources:
    return {k: r for k, r in template_dict["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def buckets(template_dict: dict[str, Any]) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """(artifact bucket id, its properties, access-log bucket id, its properties)."""
    found = _of_type(template_dict, "AWS::S3::Bucket")
    (artifacts,) = [k for k in found if "ArtifactsBucket" in k]
    (logs,) = [k for k in found if "AccessLogs" in k]
    return artifacts, found[artifacts]["Properties"], logs, found[logs]["Properties"]


@pytest.fixture(scope="module")
def bucket_policies(template_dict: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]["Statement"]
        for r in _of_type(template_dict, "AWS::S3::BucketPolicy").values()
    }


# -- the bucket, hardened -----------------------------------------------------------------

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


@pytest.mark.parametrize("which", [1, 3], ids=["artifacts", "access-logs"])
def test_both_buckets_block_all_public_access_and_disable_acls(
    buckets: tuple[Any, ...], which: int
) -> None:
    properties = buckets[which]
    assert properties["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }


@pytest.mark.parametrize("which", [0, 2], ids=["artifacts", "access-logs"])
def test_both_buckets_refuse_every_request_without_ssl(
    buckets: tuple[Any, ...], bucket_policies: dict[str, list[dict[str, Any]]], which: int
) -> None:
    bucket = buckets[which]
    deny = [s for s in bucket_policies[bucket] if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [
                {"Fn::GetAtt": [bucket, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]},
            ],
        }
    ]


def test_the_artifact_bucket_is_versioned(buckets: tuple[Any, ...]) -> None:
    assert buckets[1]["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("which", [1, 3], ids=["artifacts", "access-logs"])
def test_both_buckets_are_encrypted_at_rest(buckets: tuple[Any, ...], which: int) -> None:
    assert buckets[which]["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }


def test_server_access_logs_go_to_the_log_bucket(
    buckets: tuple[Any, ...], bucket_policies: dict[str, list[dict[str, Any]]]
) -> None:
    artifacts, properties, logs, _ = buckets
    assert properties["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs},
        "LogFilePrefix": "artifacts/",
    }
    # S3's log delivery may write there, for this bucket only
    (allow,) = [s for s in bucket_policies[logs] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::GetAtt": [artifacts, "Arn"]}}


def test_old_artifact_versions_and_access_logs_expire(buckets: tuple[Any, ...]) -> None:
    assert buckets[1]["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "expire-old-artifacts",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            "Status": "Enabled",
        }
    ]
    assert buckets[3]["LifecycleConfiguration"]["Rules"] == [
        {"Id": "expire-access-logs", "ExpirationInDays": 90, "Status": "Enabled"}
    ]


def test_both_buckets_outlive_the_stack(template_dict: dict[str, Any]) -> None:
    for bucket in _of_type(template_dict, "AWS::S3::Bucket").values():
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_eventbridge_notifications_are_native_without_a_custom_resource(
    template_dict: dict[str, Any], buckets: tuple[Any, ...]
) -> None:
    assert buckets[1]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    kinds = {r["Type"] for r in template_dict["Resources"].values()}
    assert not {k for k in kinds if k.startswith("Custom::")}
    handlers = {
        r["Properties"]["Handler"]
        for r in _of_type(template_dict, "AWS::Lambda::Function").values()
    }
    assert all(h.startswith("rollout.handlers.") for h in handlers)


# -- the rules ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rules(template_dict: dict[str, Any]) -> Resources:
    return {
        ("uploaded" if "UploadedRule" in k else "misplaced"): r["Properties"]
        for k, r in _of_type(template_dict, "AWS::Events::Rule").items()
        if "UploadRules" in k
    }


def _trigger(template_dict: dict[str, Any]) -> str:
    (trigger,) = [
        k
        for k, r in _of_type(template_dict, "AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == "rollout.handlers.trigger.handler"
    ]
    return trigger


@pytest.mark.parametrize(
    ("rule", "key_filter"),
    [
        ("uploaded", [{"wildcard": "*/*.zip"}]),
        ("misplaced", [{"anything-but": {"wildcard": "*/*.zip"}}]),
    ],
)
def test_each_rule_is_scoped_to_this_buckets_object_created_events(
    rules: Resources, buckets: tuple[Any, ...], rule: str, key_filter: list[Any]
) -> None:
    assert rules[rule]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": buckets[0]}]}, "object": {"key": key_filter}},
    }


def test_the_convention_rule_and_its_complement_both_invoke_the_trigger(
    rules: Resources, template_dict: dict[str, Any]
) -> None:
    # Together they cover every key of the bucket, so no upload is ever silent; only the
    # first is the convention, the second makes a misplaced upload fail by name.
    trigger = _trigger(template_dict)
    for rule in rules.values():
        assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [trigger, "Arn"]}]
    permissions = [
        r["Properties"]
        for r in _of_type(template_dict, "AWS::Lambda::Permission").values()
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [trigger, "Arn"]}
    ]
    assert sorted(p["SourceArn"]["Fn::GetAtt"][0] for p in permissions) == sorted(
        k for k in _of_type(template_dict, "AWS::Events::Rule") if "UploadRules" in k
    )
    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}


# -- who may do what ----------------------------------------------------------------------


def _statements(template_dict: dict[str, Any], role_part: str) -> list[dict[str, Any]]:
    return [
        statement
        for k, r in _of_type(template_dict, "AWS::IAM::Policy").items()
        if role_part in k or any(role_part in ref["Ref"] for ref in r["Properties"]["Roles"])
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def _by_action(statements: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            found[action] = statement["Resource"]
    return found


def test_the_trigger_may_only_start_this_state_machine(template_dict: dict[str, Any]) -> None:
    actions = _by_action(_statements(template_dict, "TriggerRole"))
    (machine,) = _of_type(template_dict, "AWS::StepFunctions::StateMachine")
    assert actions["states:StartExecution"] == {"Ref": machine}
    assert not [a for a in actions if a.startswith(("s3:", "lambda:"))]


def test_update_code_reads_only_this_buckets_objects_and_this_machines_executions(
    template_dict: dict[str, Any], buckets: tuple[Any, ...]
) -> None:
    actions = _by_action(_statements(template_dict, "UpdateCode"))
    artifacts = buckets[0]
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [artifacts, "Arn"]}, "/*"]]}
    assert actions["s3:GetObject"] == actions["s3:GetObjectVersion"] == objects
    assert actions["s3:ListBucket"] == {"Fn::GetAtt": [artifacts, "Arn"]}
    assert not [a for a in actions if a.startswith("s3:") and "Get" not in a and "List" not in a]
    (machine,) = _of_type(template_dict, "AWS::StepFunctions::StateMachine")
    assert actions["states:ListExecutions"] == {"Ref": machine}
    assert machine in json.dumps(actions["states:DescribeExecution"])
    assert "lambda:UpdateFunctionCode" in actions
    assert "lambda:PublishVersion" not in actions
    assert "lambda:UpdateAlias" not in actions


def test_publish_artifact_may_only_read_and_publish(template_dict: dict[str, Any]) -> None:
    actions = _by_action(_statements(template_dict, "PublishArtifactRole"))
    lambda_actions = {a for a in actions if a.startswith("lambda:")}
    assert lambda_actions == {"lambda:GetFunctionConfiguration", "lambda:PublishVersion"}


def test_update_code_gets_the_bucket_and_the_defaults(template_dict: dict[str, Any]) -> None:
    (function,) = [
        r["Properties"]
        for r in _of_type(template_dict, "AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "rollout.handlers.update_code.handler"
    ]
    variables = function["Environment"]["Variables"]
    assert variables["TRAFFICSHIFT_ARTIFACT_BUCKET"]["Ref"].startswith(
        "ControlPlaneArtifactsBucket"
    )
    assert variables["TRAFFICSHIFT_DEFAULT_ALIAS"] == "live"
    assert variables["TRAFFICSHIFT_DEFAULT_STRATEGY"] == "Canary10Percent5Minutes"
    assert variables["TRAFFICSHIFT_DEFAULT_POLL_INTERVAL_SECONDS"] == "30"
    assert variables["TRAFFICSHIFT_CODE_UPDATE_TIMEOUT_SECONDS"] == "600"


# -- the upload path of the state machine --------------------------------------------------


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = definition["States"]
    return states


def test_an_input_with_an_artifact_goes_through_update_code_first(
    definition: dict[str, Any],
) -> None:
    source = _states(definition)["Source"]
    assert source["Choices"] == [
        {"Variable": "$.artifact", "IsPresent": True, "Next": "UpdateCode"}
    ]
    assert source["Default"] == "Prepare"


def test_the_code_update_is_waited_for_by_a_wait_loop_then_published_then_prepared(
    definition: dict[str, Any],
) -> None:
    states = _states(definition)
    assert states["UpdateCode"]["Next"] == "WaitForCode"
    assert states["WaitForCode"] == {
        "Type": "Wait",
        "SecondsPath": "$.update.waitSeconds",
        "Next": "PublishArtifact",
    }
    assert states["PublishArtifact"]["Next"] == "CodePublished"
    assert states["CodePublished"]["Choices"] == [
        {"Variable": "$.targetVersion", "IsPresent": True, "Next": "Prepare"}
    ]
    assert states["CodePublished"]["Default"] == "WaitForCode"


def test_update_code_gets_the_input_like_prepare(definition: dict[str, Any]) -> None:
    assert _states(definition)["UpdateCode"]["Parameters"] == {
        "input.$": "$",
        "executionId.$": "$$.Execution.Id",
        "executionStartTime.$": "$$.Execution.StartTime",
    }


@pytest.mark.parametrize("task", ["UpdateCode", "PublishArtifact"])
def test_a_function_being_updated_is_waited_for_by_retries(
    definition: dict[str, Any], task: str
) -> None:
    (retry,) = [
        r for r in _states(definition)[task]["Retry"] if r["ErrorEquals"] == ["FunctionNotReady"]
    ]
    assert retry == {
        "ErrorEquals": ["FunctionNotReady"],
        "IntervalSeconds": 2,
        "MaxAttempts": 20,
        "BackoffRate": 1.5,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }


# -- construct options ----------------------------------------------------------------------


def _construct_template(**options: Any) -> dict[str, Any]:
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=tempfile.mkdtemp())
    stack = cdk.Stack(app, "Given", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    TrafficShiftControlPlane(stack, "ControlPlane", **options)
    return Template.from_stack(stack).to_json()


def test_upload_defaults_and_timeouts_are_construct_options() -> None:
    template = _construct_template(
        default_alias="prod",
        default_strategy={"type": "linear", "percent": 20, "intervalSeconds": 60},
        default_poll_interval=cdk.Duration.seconds(10),
        code_update_timeout=cdk.Duration.minutes(2),
        artifact_noncurrent_version_expiration=cdk.Duration.days(7),
    )
    (function,) = [
        r["Properties"]
        for r in _of_type(template, "AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "rollout.handlers.update_code.handler"
    ]
    variables = function["Environment"]["Variables"]
    assert variables["TRAFFICSHIFT_DEFAULT_ALIAS"] == "prod"
    assert json.loads(variables["TRAFFICSHIFT_DEFAULT_STRATEGY"]) == {
        "type": "linear",
        "percent": 20,
        "intervalSeconds": 60,
    }
    assert variables["TRAFFICSHIFT_DEFAULT_POLL_INTERVAL_SECONDS"] == "10"
    assert variables["TRAFFICSHIFT_CODE_UPDATE_TIMEOUT_SECONDS"] == "120"
    (bucket,) = [
        r["Properties"]
        for k, r in _of_type(template, "AWS::S3::Bucket").items()
        if "ArtifactsBucket" in k
    ]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 7
    }


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"default_strategy": "Canary10Percent7Minutes"}, "strategy"),
        ({"default_alias": "7"}, "alias"),
    ],
)
def test_a_default_every_upload_would_fail_on_fails_the_synth(
    options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _construct_template(**options)
    assert refused.value.field == field
