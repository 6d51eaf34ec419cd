"""A brownout reaches botocore as AWS's would: late answers, read timeouts and 5xx.

AWS sources:
- botocore, "Config Reference": `read_timeout` is "the time in seconds till a timeout
  exception is thrown when attempting to read from a connection" (default 60); it raises
  `ReadTimeoutError`.
- boto3 guide, "Retries": standard mode retries transient errors ("socket timeouts",
  HTTP 500, 502, 503, 504) and throttling, 3 attempts by default.
- CloudWatch API Reference, "Common Errors": InternalFailure (500), ServiceUnavailable
  (503). CloudWatch speaks JSON 1.0 with `awsQueryCompatible` to botocore 1.4x (its model's
  `protocols`: smithy-rpc-v2-cbor, json, query; botocore prefers json), and the query
  protocol to older clients.
- DynamoDB Developer Guide, "Error handling with DynamoDB": HTTP 500 InternalServerError
  and 503 ServiceUnavailable, both retryable.
- Lambda Developer Guide, "Using the Lambda context object to retrieve Python function
  information": `get_remaining_time_in_millis()`; "Configure Lambda function timeout":
  Lambda stops the invocation at its Timeout, whatever it waits for.

The emulator compresses time: a request's latency is charged to the running invocation's
clock instead of being slept, so these tests take no wall time for 25 s latencies.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.model
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from trafficshift.emulator import faults, lambda_runtime
from trafficshift.emulator.cloud import LocalCloud

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=5)
THREE_ATTEMPTS = Config(retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=5)


def _get_metric_data(cw: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return dict(
        cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "inv",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations"},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=now - timedelta(minutes=5),
            EndTime=now,
        )
    )


def _table(cloud: LocalCloud) -> Any:
    ddb = cloud.client("dynamodb", config=ONE_ATTEMPT)
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


@pytest.fixture
def invocation() -> Any:
    """A Lambda invocation with a 30 s Timeout running on this thread."""
    context = lambda_runtime.LambdaContext(
        function_name="f",
        function_version="1",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        memory_limit_in_mb=256,
        timeout_seconds=30,
    )
    with lambda_runtime.invocation("f", context) as running:
        yield running


def test_cloudwatch_503_reaches_botocore_as_cloudwatch_answers_it(cloud: LocalCloud) -> None:
    cw = cloud.client("cloudwatch", config=ONE_ATTEMPT)
    with faults.brownout("cloudwatch", status=503, actions={"DescribeAlarms"}) as outage:
        with pytest.raises(ClientError) as error:
            cw.describe_alarms()
        cw.list_metrics()  # another action: untouched

    response = error.value.response
    assert response["Error"]["Code"] == "ServiceUnavailable"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # awsQueryCompatible: the query protocol's error type, a server fault
    assert response["Error"].get("Type") == "Receiver"
    assert (outage.requests, outage.failed) == (1, 1)


def test_cloudwatch_faults_work_in_the_query_protocol_too(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client that speaks CloudWatch's query protocol (an older botocore's choice)
    monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", ("query",))
    cw = cloud.client("cloudwatch", config=ONE_ATTEMPT)
    assert cw.meta.service_model.resolved_protocol == "query"

    with (
        faults.inject_error(
            "DescribeAlarms", "InternalFailure", "boom", status=500, service="cloudwatch"
        ),
        pytest.raises(ClientError) as error,
    ):
        cw.describe_alarms()

    assert error.value.response["Error"]["Code"] == "InternalFailure"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_botocore_retries_a_cloudwatch_5xx_as_on_aws(cloud: LocalCloud) -> None:
    cw = cloud.client("cloudwatch", config=THREE_ATTEMPTS)
    with faults.brownout("cloudwatch", status=503, actions={"GetMetricData"}, times=2) as outage:
        answer = _get_metric_data(cw)

    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert outage.failed == 2


def test_dynamodb_500_is_internal_server_error(cloud: LocalCloud) -> None:
    ddb = _table(cloud)
    with (
        faults.brownout("dynamodb", status=500, actions={"GetItem"}),
        pytest.raises(ClientError) as error,
    ):
        ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})

    assert error.value.response["Error"]["Code"] == "InternalServerError"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_latency_past_the_read_timeout_is_a_read_timeout_at_no_wall_time(
    cloud: LocalCloud, invocation: Any
) -> None:
    cw = cloud.client("cloudwatch", config=ONE_ATTEMPT)
    before = invocation.context.get_remaining_time_in_millis()
    started = time.monotonic()
    with (
        faults.brownout("cloudwatch", latency=25, actions={"GetMetricData"}) as outage,
        pytest.raises(ReadTimeoutError),
    ):
        _get_metric_data(cw)

    # The client gave up after its read timeout (5 s of the invocation's time), not 25 s
    spent = (before - invocation.context.get_remaining_time_in_millis()) / 1000
    assert 5 <= spent < 6
    assert time.monotonic() - started < 2
    assert (outage.timed_out, outage.seconds) == (1, 5)


def test_botocore_retries_a_read_timeout_and_each_attempt_costs_its_timeout(
    cloud: LocalCloud, invocation: Any
) -> None:
    cw = cloud.client("cloudwatch", config=THREE_ATTEMPTS)
    before = invocation.context.get_remaining_time_in_millis()
    with faults.brownout("cloudwatch", latency=25, actions={"GetMetricData"}, times=2) as outage:
        answer = _get_metric_data(cw)

    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert outage.timed_out == 2
    assert (before - invocation.context.get_remaining_time_in_millis()) / 1000 >= 10


def test_a_latency_within_the_read_timeout_answers_late(cloud: LocalCloud, invocation: Any) -> None:
    ddb = _table(cloud)
    before = invocation.context.get_remaining_time_in_millis()
    with faults.brownout("dynamodb", latency=3, actions={"PutItem"}) as outage:
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}})

    assert outage.delayed == 1
    assert 3 <= (before - invocation.context.get_remaining_time_in_millis()) / 1000 < 4


def test_a_write_whose_answer_timed_out_may_still_have_been_made(cloud: LocalCloud) -> None:
    ddb = _table(cloud)
    with (
        faults.brownout("dynamodb", latency=25, actions={"PutItem"}, times=1),
        pytest.raises(ReadTimeoutError),
    ):
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}})

    assert "Item" in ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})


def test_a_latency_past_the_lambda_timeout_ends_the_invocation(
    cloud: LocalCloud, invocation: Any
) -> None:
    # Given a client that would wait 60 s, and 30 s left of the invocation
    cw = cloud.client("cloudwatch", config=Config(retries={"total_max_attempts": 1}))
    with (
        faults.brownout("cloudwatch", latency=45, actions={"DescribeAlarms"}),
        pytest.raises(lambda_runtime.SandboxTimedOut),
    ):
        cw.describe_alarms()
