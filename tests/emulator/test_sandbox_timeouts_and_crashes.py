"""A function's sandbox on the emulator: its Timeout, its runtime dying, its own environment.

AWS stops an invocation at the function's Timeout and reports `Sandbox.Timedout`; a runtime
that exits reports `Runtime.ExitError`; each function sees only its own environment
variables (fidelity: `lambda_functions_time_out`, `function_environments_are_isolated`;
faults: `handler_fault`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from emulator_helpers import code_zip

from trafficshift.emulator import faults

SLOW_THEN_WRITE = """
import time
import boto3

def handler(event, context):
    time.sleep(event["sleep"])
    boto3.client("lambda").create_alias(
        FunctionName=event["function"], Name=event["alias"], FunctionVersion="1"
    )
    return {"wrote": event["alias"]}
"""

WRITES_TWICE = """
import boto3

def handler(event, context):
    lam = boto3.client("lambda")
    lam.create_alias(FunctionName=event["function"], Name="first", FunctionVersion="1")
    lam.create_alias(FunctionName=event["function"], Name="second", FunctionVersion="1")
    return "done"
"""

ENVIRONMENT_VIEWS = """
import os
import threading

def handler(event, context):
    seen = {}
    reader = threading.Thread(target=lambda: seen.update(other=os.environ.get("ONLY_MINE")))
    reader.start()
    reader.join()
    return {"mine": os.environ.get("ONLY_MINE"), "otherThread": seen["other"]}
"""


def _function(lam: Any, role_arn: str, name: str, source: str, **extra: Any) -> str:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(source)},
        **extra,
    )
    lam.publish_version(FunctionName=name)
    return name


def _invoke(lam: Any, name: str, event: Any) -> tuple[str | None, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def _aliases(lam: Any, name: str) -> list[str]:
    return sorted(a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"])


def test_an_invocation_past_its_timeout_returns_sandbox_timedout_and_makes_no_later_call(
    lam: Any, role_arn: str
) -> None:
    name = _function(lam, role_arn, "slow", SLOW_THEN_WRITE, Timeout=1)

    error, payload = _invoke(lam, name, {"sleep": 1.2, "function": name, "alias": "late"})

    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].startswith("RequestId: ")
    assert payload["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    # Lambda stopped it while it slept: the call after the deadline was never made
    assert _aliases(lam, name) == []


def test_an_invocation_within_its_timeout_runs_to_the_end(lam: Any, role_arn: str) -> None:
    name = _function(lam, role_arn, "quick", SLOW_THEN_WRITE, Timeout=3)

    error, payload = _invoke(lam, name, {"sleep": 0.1, "function": name, "alias": "ok"})

    assert error is None
    assert payload == {"wrote": "ok"}
    assert _aliases(lam, name) == ["ok"]


def test_a_crash_after_a_call_keeps_that_call_and_runs_nothing_after_it(
    lam: Any, role_arn: str
) -> None:
    name = _function(lam, role_arn, "crashy", WRITES_TWICE)

    with faults.handler_fault(name, after="CreateAlias", how="crash") as fault:
        error, payload = _invoke(lam, name, {"function": name})
        again = _invoke(lam, name, {"function": name})  # `times=1`: the next one is left alone

    assert fault.fired == 1
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: exit status 1")
    assert again[0] == "Unhandled"  # "first" exists now: the second run's CreateAlias conflicts
    assert _aliases(lam, name) == ["first"]


def test_a_call_that_outlives_the_timeout_ends_the_invocation_before_its_next_call(
    lam: Any, role_arn: str
) -> None:
    name = _function(lam, role_arn, "stuck", WRITES_TWICE, Timeout=30)

    with faults.handler_fault(name, after="CreateAlias", how="timeout") as fault:
        error, payload = _invoke(lam, name, {"function": name})

    assert fault.fired == 1
    assert (error, payload["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    assert "Task timed out after 30.00 seconds" in payload["errorMessage"]
    assert _aliases(lam, name) == ["first"]


def test_a_throttled_invocation_gets_429_on_every_later_call(lam: Any, role_arn: str) -> None:
    name = _function(lam, role_arn, "throttled", WRITES_TWICE)

    with faults.handler_fault(name, after="CreateAlias", how="throttle"):
        error, payload = _invoke(lam, name, {"function": name})
        # the fault is the invocation's: calls from outside it are not throttled
        outside = lam.get_function(FunctionName=name)["Configuration"]["FunctionName"]

    assert (error, payload["errorType"]) == ("Unhandled", "TooManyRequestsException")
    assert outside == name
    assert _aliases(lam, name) == ["first"]


def test_a_function_s_environment_is_invisible_to_other_threads(lam: Any, role_arn: str) -> None:
    import os

    name = _function(
        lam,
        role_arn,
        "private",
        ENVIRONMENT_VIEWS,
        Environment={"Variables": {"ONLY_MINE": "secret"}},
    )
    copies_failed: list[BaseException] = []
    stop = threading.Event()

    def copy_environment() -> None:  # what botocore does whenever it builds a client
        while not stop.is_set():
            try:
                os.environ.copy()
            except BaseException as exc:
                copies_failed.append(exc)

    copier = threading.Thread(target=copy_environment)
    copier.start()
    try:
        results = [_invoke(lam, name, {}) for _ in range(20)]
    finally:
        stop.set()
        copier.join()

    assert {json.dumps(r) for r in results} == {
        json.dumps([None, {"mine": "secret", "otherThread": None}])
    }
    assert os.environ.get("ONLY_MINE") is None
    assert copies_failed == []


@pytest.mark.parametrize("how", ["explode", ""])
def test_an_unknown_fault_kind_is_refused(how: str) -> None:
    with (
        pytest.raises(ValueError, match="how must be one of"),
        faults.handler_fault("f", after="UpdateAlias", how=how),
    ):
        pass
