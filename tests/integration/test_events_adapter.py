"""The events adapter: EventBridge (and SNS when configured) on moto, and never raising."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rollout.adapters import events as events_module
from rollout.adapters.events import Events
from rollout.domain.events import DeploymentEvent, DetailType

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:one"


def _event(detail_type: DetailType = DetailType.SHIFTED, **overrides: Any) -> DeploymentEvent:
    raw: dict[str, Any] = {
        "detail_type": detail_type,
        "execution_arn": EXECUTION,
        "function_name": "orders-api",
        "alias": "live",
        "stable_version": "1",
        "target_version": "2",
        "reason": "step 1/3 (weight 10%)",
        "weight_percent": 10.0,
        "time": "2027-01-15T08:00:00.000+00:00",
    }
    raw.update(overrides)
    return DeploymentEvent(**raw)


@pytest.fixture
def cloud() -> Iterator[SimpleNamespace]:
    """A bus with a rule on source `trafficshift` into a queue, and a topic into another."""
    with mock_aws():
        events_module._client.cache_clear()
        sqs = boto3.client("sqs")
        eb = boto3.client("events")
        sns = boto3.client("sns")

        def queue(name: str) -> tuple[str, str]:
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            return url, arn["Attributes"]["QueueArn"]

        bus_queue, bus_queue_arn = queue("bus")
        eb.create_event_bus(Name="deployments")
        eb.put_rule(
            Name="all", EventBusName="deployments", EventPattern='{"source": ["trafficshift"]}'
        )
        eb.put_targets(
            Rule="all", EventBusName="deployments", Targets=[{"Id": "q", "Arn": bus_queue_arn}]
        )
        topic_queue, topic_queue_arn = queue("topic")
        topic = sns.create_topic(Name="deployments")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=topic_queue_arn)
        yield SimpleNamespace(
            sqs=sqs, eb=eb, sns=sns, bus_queue=bus_queue, topic_queue=topic_queue, topic=topic
        )
        events_module._client.cache_clear()


def _messages(sqs: Any, url: str) -> list[dict[str, Any]]:
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in found]


def test_event_reaches_the_bus_with_source_detail_type_and_detail(cloud: SimpleNamespace) -> None:
    events = Events(bus_name="deployments")

    assert events.emit(_event())

    (received,) = _messages(cloud.sqs, cloud.bus_queue)
    assert received["source"] == "trafficshift"
    assert received["detail-type"] == "Traffic Shifted"
    assert received["resources"] == [EXECUTION]
    detail = received["detail"]
    assert detail["executionArn"] == EXECUTION
    assert (detail["functionName"], detail["alias"]) == ("orders-api", "live")
    assert (detail["stableVersion"], detail["targetVersion"]) == ("1", "2")
    assert detail["weightPercent"] == 10.0
    assert detail["reason"] == "step 1/3 (weight 10%)"
    assert (events.sent, events.failed) == (1, 0)
    assert _messages(cloud.sqs, cloud.topic_queue) == []  # no topic configured


def test_event_is_also_published_to_the_topic_when_one_is_set(cloud: SimpleNamespace) -> None:
    events = Events(bus_name="deployments", topic_arn=cloud.topic)

    assert events.emit(_event(DetailType.ROLLED_BACK, weight_percent=None, reason="alarm"))

    (notification,) = _messages(cloud.sqs, cloud.topic_queue)
    assert notification["Subject"] == "trafficshift: Deployment Rolled Back orders-api:live"
    body = json.loads(notification["Message"])
    assert body["detail-type"] == "Deployment Rolled Back"
    assert body["detail"]["reason"] == "alarm"
    assert notification["MessageAttributes"]["detailType"]["Value"] == "Deployment Rolled Back"
    assert len(_messages(cloud.sqs, cloud.bus_queue)) == 1


def test_unreachable_bus_is_logged_and_counted_never_raised(
    cloud: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    events = Events(bus_name="no-such-bus")

    with caplog.at_level(logging.WARNING, logger="rollout.adapters.events"):
        delivered = events.emit(_event())

    assert not delivered
    assert (events.sent, events.failed) == (0, 1)
    assert "Could not send 'Traffic Shifted' to EventBridge" in caplog.text


class _Refusing:
    """An EventBridge client that accepts the call but rejects the entry."""

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        return {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
        }


class _Throttling:
    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "PutEvents")

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "Throttling"}}, "Publish")


def test_rejected_entry_counts_as_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    events = Events(_Refusing())

    with caplog.at_level(logging.WARNING, logger="rollout.adapters.events"):
        assert not events.emit(_event())

    assert events.failed == 1
    assert "InternalFailure" in caplog.text


def test_failed_topic_fails_the_emit_but_not_the_caller(cloud: SimpleNamespace) -> None:
    events = Events(sns_client=_Throttling(), bus_name="deployments", topic_arn=cloud.topic)

    assert not events.emit(_event())
    assert events.emit_all([_event(), _event()]) == 0

    assert events.failed == 3
    assert len(_messages(cloud.sqs, cloud.bus_queue)) == 3  # EventBridge still got each one


def test_throttled_eventbridge_never_raises() -> None:
    events = Events(_Throttling())

    assert not events.emit(_event())
    assert events.failed == 1


def test_clients_are_bounded() -> None:
    config = events_module.EVENTS_CLIENT_CONFIG

    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert config.connect_timeout + config.read_timeout <= 5
