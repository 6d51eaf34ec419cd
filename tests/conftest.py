"""Shared test set-up: never reach a real AWS account."""

from __future__ import annotations

import os

import pytest

# Fake credentials and a fixed region before any boto3 client exists, so that a test that
# forgets its mock fails on moto's side instead of calling a real account.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "trafficshift",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "TrafficShift",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def region() -> str:
    return "us-east-1"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print each `record_property("summary", ...)` of a passed test, e.g. the fuzz count.

    Reports carry their properties from xdist's workers, so this works with -n too.
    """
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", ()):
            if name == "summary":
                terminalreporter.write_line(str(value))
