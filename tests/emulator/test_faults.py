"""Fault injection: the emulator throttles (or fails) API calls when a test asks it to."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRIES, returns

from trafficshift.emulator import faults


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


def test_throttle_fails_the_next_calls_with_429_like_aws(lam: Any, function: str) -> None:
    # Given UpdateAlias throttled three times
    with faults.throttle("UpdateAlias", times=3) as fault:
        # When UpdateAlias is called four times (the client does not retry)
        errors = []
        for _ in range(3):
            with pytest.raises(ClientError) as error:
                lam.update_alias(FunctionName=function, Name="live", Description="x")
            errors.append(error.value.response)
        lam.update_alias(FunctionName=function, Name="live", Description="finally")

    # Then the first three got Lambda's TooManyRequestsException (429) and the fourth went through
    assert {(e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]) for e in errors} == {
        ("TooManyRequestsException", 429)
    }
    assert errors[0]["Reason"] == "CallerRateLimitExceeded"
    assert fault.injected == 3
    assert lam.get_alias(FunctionName=function, Name="live")["Description"] == "finally"


def test_throttle_affects_only_the_named_action(lam: Any, function: str) -> None:
    with faults.throttle("UpdateAlias", times=1) as fault:
        lam.get_alias(FunctionName=function, Name="live")
        lam.invoke(FunctionName=function, Qualifier="live")

    assert fault.injected == 0
    assert faults.active_faults() == []


def test_throttled_invoke_is_counted_per_call_across_threads(lam: Any, function: str) -> None:
    # Given Invoke throttled 10 times and 4 threads invoking 5 times each
    outcomes: list[str] = []
    lock = threading.Lock()

    def invoke_five_times() -> None:
        for _ in range(5):
            try:
                lam.invoke(FunctionName=function, Qualifier="live")
                result = "ok"
            except ClientError as error:
                result = error.response["Error"]["Code"]
            with lock:
                outcomes.append(result)

    with faults.throttle("Invoke", times=10) as fault:
        threads = [threading.Thread(target=invoke_five_times) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    # Then exactly 10 calls were throttled
    assert fault.injected == 10
    assert sorted(outcomes).count("TooManyRequestsException") == 10
    assert outcomes.count("ok") == 10


def test_inject_error_fails_a_step_functions_call(cloud: Any) -> None:
    sfn = cloud.client("stepfunctions", config=NO_RETRIES)
    with (
        faults.inject_error(
            "ListStateMachines", "ServiceUnavailable", "try later", service="stepfunctions"
        ) as fault,
        pytest.raises(ClientError) as error,
    ):
        sfn.list_state_machines()

    assert error.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert fault.injected == 1
    assert sfn.list_state_machines()["stateMachines"] == []


def test_faults_refuse_services_without_a_json_protocol() -> None:
    with (
        pytest.raises(ValueError, match="supports"),
        faults.throttle("PutMetricData", service="cloudwatch"),
    ):
        pass
