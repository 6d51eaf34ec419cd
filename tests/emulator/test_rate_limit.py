"""Lambda's account-level control-plane limit: one token bucket shared by every control-plane
call (15 requests per second), throttling with TooManyRequestsException (429) when empty."""

from __future__ import annotations

import random
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from emulator_helpers import returns

from rollout.adapters.aws import CLIENT_CONFIG
from trafficshift.emulator import faults
from trafficshift.emulator.metering import count_api_calls


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def function(lam: Any, role_arn: str) -> str:
    lam.create_function(
        FunctionName="f",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": returns("one")},
    )
    lam.publish_version(FunctionName="f")
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")
    return "f"


def _code(call: Any) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def test_calls_beyond_the_burst_get_429_until_tokens_refill(lam: Any, function: str) -> None:
    clock = FakeClock()
    with faults.control_plane_rate_limit(rate=2, burst=3, clock=clock) as bucket:
        # Given a full bucket of 3, four calls in the same instant
        outcomes = [
            _code(lambda: lam.get_alias(FunctionName=function, Name="live")) for _ in range(4)
        ]
        with pytest.raises(ClientError) as throttled:
            lam.get_alias(FunctionName=function, Name="live")
        # When half a second passes (rate 2/s: one token)
        clock.now += 0.5
        after_refill = _code(lambda: lam.get_alias(FunctionName=function, Name="live"))

    # Then the fourth and fifth were throttled as Lambda throttles, and the refill admitted one
    assert outcomes == ["ok", "ok", "ok", "TooManyRequestsException"]
    response = throttled.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "CallerRateLimitExceeded"
    assert after_refill == "ok"
    assert (bucket.admitted, bucket.throttled) == (4, 2)
    assert bucket.throttled_by_action == {"GetAlias": 2}


def test_the_bucket_is_shared_by_every_control_plane_action(lam: Any, function: str) -> None:
    clock = FakeClock()
    with faults.control_plane_rate_limit(rate=1, burst=3, clock=clock) as bucket:
        outcomes = [
            _code(lambda: lam.get_alias(FunctionName=function, Name="live")),
            _code(lambda: lam.update_alias(FunctionName=function, Name="live", Description="x")),
            _code(lambda: lam.list_versions_by_function(FunctionName=function)),
            _code(lambda: lam.get_function_configuration(FunctionName=function)),
            _code(lambda: lam.publish_version(FunctionName=function)),
        ]

    assert outcomes == ["ok", "ok", "ok", "TooManyRequestsException", "TooManyRequestsException"]
    assert bucket.throttled_by_action == {"GetFunctionConfiguration": 1, "PublishVersion": 1}


def test_invoke_and_the_apis_with_their_own_quota_are_not_counted(lam: Any, function: str) -> None:
    clock = FakeClock()
    with faults.control_plane_rate_limit(rate=1, burst=1, clock=clock) as bucket:
        lam.get_alias(FunctionName=function, Name="live")  # takes the only token
        invoked = [
            _code(lambda: lam.invoke(FunctionName=function, Qualifier="live")) for _ in range(5)
        ]
        got = [_code(lambda: lam.get_function(FunctionName=function)) for _ in range(3)]
        refused = _code(lambda: lam.get_alias(FunctionName=function, Name="live"))

    assert invoked == ["ok"] * 5  # data plane
    assert got == ["ok"] * 3  # GetFunction: 100/s of its own
    assert refused == "TooManyRequestsException"
    assert (bucket.admitted, bucket.throttled) == (1, 1)


def test_other_services_are_not_limited(cloud: Any, lam: Any, function: str) -> None:
    sfn = cloud.client("stepfunctions")
    with faults.control_plane_rate_limit(rate=1, burst=1, clock=FakeClock()) as bucket:
        for _ in range(5):
            sfn.list_state_machines()

    assert bucket.calls == 0


def test_fifteen_per_second_in_real_time(lam: Any, function: str) -> None:
    # Given the real limit, and a caller that does not retry
    started = time.monotonic()
    with faults.control_plane_rate_limit() as bucket:
        outcomes = [
            _code(lambda: lam.get_alias(FunctionName=function, Name="live")) for _ in range(60)
        ]
    elapsed = time.monotonic() - started

    # Then about 15 plus 15 per elapsed second got through, and the rest were throttled
    assert outcomes.count("ok") == bucket.admitted
    assert bucket.throttled == 60 - bucket.admitted > 0
    assert 15 <= bucket.admitted <= 15 + 15 * elapsed + 1


def test_botocore_standard_retries_absorb_short_throttling(cloud: Any, function: str) -> None:
    # The rollout's own client settings: standard retries with backoff and jitter.
    rollout_client = boto3.client("lambda", region_name=cloud.region, config=CLIENT_CONFIG)
    # botocore's full jitter draws from `random`; seeded, no backoff falls under the 67 ms a
    # token takes to refill at 15/s, so 3 attempts (CLIENT_CONFIG) always suffice here.
    random.seed(0)
    with faults.control_plane_rate_limit(rate=15, burst=3) as bucket:
        for _ in range(8):
            rollout_client.get_alias(FunctionName=function, Name="live")

    assert bucket.admitted == 8
    assert bucket.throttled > 0  # absorbed by the client's retries, as on AWS


def test_limit_and_metering_nest_and_restore_moto(lam: Any, function: str) -> None:
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action
    with count_api_calls() as calls, faults.control_plane_rate_limit(burst=100) as bucket:
        lam.get_alias(FunctionName=function, Name="live")
        with faults.throttle("UpdateAlias") as fault:
            assert _code(lambda: lam.update_alias(FunctionName=function, Name="live")) == (
                "TooManyRequestsException"
            )
        lam.get_alias(FunctionName=function, Name="live")

    assert fault.injected == 1
    assert bucket.admitted == 2  # an injected fault answers before the bucket is asked
    assert calls.of("lambda")["GetAlias"] == 2
    assert BaseResponse.call_action is original


def test_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"), faults.control_plane_rate_limit(rate=0):
        pass
    assert faults.active_faults() == []
