"""Hardening in the template: every asynchronous invoke has a dead-letter queue, no policy
allows a wildcard principal, every bucket and queue refuses plain HTTP, every log group
expires."""

from __future__ import annotations

from typing import Any

from infra.control_plane import ASYNC_INVOKED

Resources = dict[str, dict[str, Any]]


def _of_type(template_dict: dict[str, Any], kind: str) -> Resources:
    return {k: r for k, r in template_dict["Resources"].items() if r["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _failed_events(template_dict: dict[str, Any]) -> str:
    (queue,) = _of_type(template_dict, "AWS::SQS::Queue")
    return queue


def test_every_rule_target_sends_undeliverable_events_to_the_dead_letter_queue(
    template_dict: dict[str, Any],
) -> None:
    queue = _failed_events(template_dict)
    rules = _of_type(template_dict, "AWS::Events::Rule")
    assert len(rules) >= 4  # Uploaded, Misplaced, ExecutionEnded, Sweep
    for logical_id, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}, logical_id
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 7200, logical_id


def test_only_the_asynchronously_invoked_functions_have_a_dead_letter_queue(
    template_dict: dict[str, Any],
) -> None:
    queue = _failed_events(template_dict)
    with_dlq = {
        f["Properties"]["Handler"].split(".")[-2]
        for f in _of_type(template_dict, "AWS::Lambda::Function").values()
        if f["Properties"].get("DeadLetterConfig") == {"TargetArn": {"Fn::GetAtt": [queue, "Arn"]}}
    }
    assert with_dlq == {"trigger", "reconcile"}
    assert set(ASYNC_INVOKED) == {"Trigger", "Reconcile"}


def test_the_dead_letter_queue_is_encrypted_and_kept_two_weeks(
    template_dict: dict[str, Any],
) -> None:
    queue = _of_type(template_dict, "AWS::SQS::Queue")[_failed_events(template_dict)]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_only_eventbridge_may_send_to_the_dead_letter_queue_and_only_from_our_rules(
    template_dict: dict[str, Any],
) -> None:
    (policy,) = _of_type(template_dict, "AWS::SQS::QueuePolicy").values()
    allows = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert allows
    rules = set(_of_type(template_dict, "AWS::Events::Rule"))
    for statement in allows:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        source = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        assert source["Fn::GetAtt"][0] in rules


def _resource_policies(template_dict: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kinds = {"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"}
    return [
        (logical_id, statement)
        for logical_id, resource in template_dict["Resources"].items()
        if resource["Type"] in kinds
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_no_resource_policy_allows_a_wildcard_principal(template_dict: dict[str, Any]) -> None:
    policies = _resource_policies(template_dict)
    assert policies
    for logical_id, statement in policies:
        if statement["Effect"] != "Allow":
            continue
        principal = statement["Principal"]
        assert principal != "*", logical_id
        assert "*" not in _as_list(principal.get("AWS", [])), logical_id


def test_lambda_permissions_name_a_service_and_the_one_source_that_invokes(
    template_dict: dict[str, Any],
) -> None:
    for logical_id, permission in _of_type(template_dict, "AWS::Lambda::Permission").items():
        properties = permission["Properties"]
        assert properties["Principal"] != "*", logical_id
        assert "SourceArn" in properties, logical_id


def test_every_bucket_and_queue_refuses_requests_without_tls(
    template_dict: dict[str, Any],
) -> None:
    policies = {
        logical_id: resource["Properties"]
        for logical_id, resource in template_dict["Resources"].items()
        if resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy")
    }
    guarded = set()
    for properties in policies.values():
        target = properties.get("Bucket") or properties["Queues"][0]
        for statement in properties["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded.add(next(iter(target.values())))
    stores = set(_of_type(template_dict, "AWS::S3::Bucket")) | set(
        _of_type(template_dict, "AWS::SQS::Queue")
    )
    assert stores
    assert stores == guarded


def test_every_log_group_has_a_retention(template_dict: dict[str, Any]) -> None:
    groups = _of_type(template_dict, "AWS::Logs::LogGroup")
    assert groups
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays"), logical_id
