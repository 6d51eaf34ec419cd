"""The demo's sample function: `orders-api`, with a `live` alias and two healthy versions.

Its code zip holds `app.py`, whose handler fails with probability ERROR_RATE (raising
RuntimeError, which Lambda reports as an Unhandled function error) and returns a simulated
latency drawn around LATENCY_MS. It does not sleep unless SLEEP_FOR_LATENCY is "true":
in-process invocations are serialized, so sleeping would slow every other function.

Works against the emulator (in-process or server) and against AWS alike: it only uses
the Lambda and IAM APIs, and waits for `LastUpdateStatus: Successful` between an update
and the publish, as AWS requires.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SAMPLE_ROLE_NAME",
    "SampleFunction",
    "create_sample_function",
    "publish_version_with",
    "sample_code_zip",
]

SAMPLE_ROLE_NAME = "trafficshift-sample-function"
# The tag the control plane's default (tag mode) IAM requires on every function it changes;
# infra.managed_functions.MANAGED_TAG_KEY / MANAGED_TAG_VALUE (a test keeps them equal).
MANAGED_TAGS = {"trafficshift:managed": "true"}
_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
_WAIT = {"Delay": 1, "MaxAttempts": 120}

_APP_SOURCE = '''\
"""orders-api: a sample function for trafficshift demos (build {build})."""

import os
import random
import time

BUILD = "{build}"


def handler(event, context):
    error_rate = float(os.environ.get("ERROR_RATE", "0"))
    base_ms = float(os.environ.get("LATENCY_MS", "40"))
    latency_ms = max(1.0, random.gauss(base_ms, base_ms / 5))
    if os.environ.get("SLEEP_FOR_LATENCY", "false") == "true":
        time.sleep(latency_ms / 1000)
    if random.random() < error_rate:
        raise RuntimeError("orders-api failed (simulated, ERROR_RATE=%s)" % error_rate)
    return {{
        "statusCode": 200,
        "build": BUILD,
        "version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
        "latencyMs": round(latency_ms, 3),
    }}
'''


@dataclass(frozen=True)
class SampleFunction:
    name: str
    alias: str
    stable_version: str
    candidate_version: str
    function_arn: str


def sample_code_zip(build: str) -> bytes:
    """The code zip of build `build` (a different build has a different CodeSha256)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("app.py", date_time=(2025, 1, 1, 0, 0, 0))
        archive.writestr(info, _APP_SOURCE.format(build=build))
    return buffer.getvalue()


def source_zip(source: str) -> bytes:
    """A code zip holding `source` as app.py."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def create_function_from_source(lam_client: Any, name: str, source: str) -> str:
    """A function (python3.13, `app.handler`, tagged for the control plane's tag mode) that
    runs `source`, e.g. a hook; returns its name once it is Active."""
    lam_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=_role_arn(lam_client),
        Handler="app.handler",
        Code={"ZipFile": source_zip(source)},
        Timeout=30,
        Tags=dict(MANAGED_TAGS),
    )
    lam_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=_WAIT)
    return name


def _role_arn(lam_client: Any) -> str:
    import boto3

    # A custom endpoint (the emulator's server) serves IAM too; AWS's own does not.
    endpoint = lam_client.meta.endpoint_url
    extra = {} if "amazonaws.com" in endpoint else {"endpoint_url": endpoint}
    iam = boto3.client("iam", region_name=lam_client.meta.region_name, **extra)
    try:
        return str(iam.get_role(RoleName=SAMPLE_ROLE_NAME)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=SAMPLE_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(_TRUST_POLICY),
            Description="Execution role of the trafficshift sample function",
        )
        return str(role["Role"]["Arn"])


def _publish(lam_client: Any, name: str, description: str) -> str:
    lam_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=_WAIT)
    latest = lam_client.get_function_configuration(FunctionName=name)
    published = lam_client.publish_version(
        FunctionName=name,
        CodeSha256=latest["CodeSha256"],
        RevisionId=latest["RevisionId"],
        Description=description,
    )
    return str(published["Version"])


def create_sample_function(
    lam_client: Any,
    name: str = "orders-api",
    alias: str = "live",
    *,
    role_arn: str | None = None,
    latency_ms: float = 40.0,
    runtime: str = "python3.13",
) -> SampleFunction:
    """Create the function (tagged for the control plane's tag mode), publish healthy
    versions 1 and 2 (new code), alias -> 1."""
    created = lam_client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role_arn or _role_arn(lam_client),
        Handler="app.handler",
        Code={"ZipFile": sample_code_zip("1")},
        Timeout=10,
        MemorySize=256,
        Description="trafficshift sample function",
        Environment={"Variables": {"ERROR_RATE": "0", "LATENCY_MS": str(latency_ms)}},
        Tags=dict(MANAGED_TAGS),
    )
    lam_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=_WAIT)
    stable = _publish(lam_client, name, "build 1 (healthy)")
    lam_client.update_function_code(FunctionName=name, ZipFile=sample_code_zip("2"))
    candidate = _publish(lam_client, name, "build 2 (healthy, new code)")
    lam_client.create_alias(FunctionName=name, Name=alias, FunctionVersion=stable)
    return SampleFunction(name, alias, stable, candidate, str(created["FunctionArn"]))


def publish_version_with(
    lam_client: Any,
    name: str,
    error_rate: float,
    *,
    latency_ms: float | None = None,
    build: str | None = None,
    description: str = "",
) -> str:
    """Set ERROR_RATE (and LATENCY_MS), optionally upload build `build`, publish.

    Returns the new version number.
    """
    if not 0 <= error_rate <= 1:
        raise ValueError("error_rate must be within [0, 1]")
    current = lam_client.get_function_configuration(FunctionName=name)
    variables = dict((current.get("Environment") or {}).get("Variables") or {})
    variables["ERROR_RATE"] = str(error_rate)
    if latency_ms is not None:
        variables["LATENCY_MS"] = str(latency_ms)
    lam_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": variables}
    )
    if build is not None:
        lam_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=_WAIT)
        lam_client.update_function_code(FunctionName=name, ZipFile=sample_code_zip(build))
    return _publish(lam_client, name, description or f"ERROR_RATE={error_rate}")


def create_errors_alarm(cw: Any, function: str) -> str:
    """An alarm on the function's AWS/Lambda `Errors` (any error in a minute): its name.

    moto never evaluates it; tests and benchmarks drive it with SetAlarmState.
    """
    name = f"{function}-errors"
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    return name
