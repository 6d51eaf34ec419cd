"""Time budgets under a brownout: no AWS attempt outlives the task, a degraded read counts.

The arithmetic is in docs/decisions.md ("Time budgets under a brownout"); the task
timeouts that must hold it are pinned in tests/infra/test_time_budgets.py.
Sources: botocore "Config Reference" (connect_timeout, read_timeout, retries); boto3
"Retries" (standard mode: 3 attempts, retries timeouts and 5xx); Lambda "Using the Lambda
context object" (`get_remaining_time_in_millis`).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError
from ledger_fake import InMemoryLedger, ListEvents
from moto import mock_aws
from test_health_read_failures import T0, FlakyAlarms, _state

from rollout.adapters import aws
from rollout.application import check
from rollout.domain.errors import ServiceUnavailable
from rollout.domain.rollout import Decision, RolloutState


def _context(seconds_left: float) -> Any:
    return SimpleNamespace(get_remaining_time_in_millis=lambda: int(seconds_left * 1000))


def test_one_call_is_bounded_to_24_seconds_with_every_attempt_used() -> None:
    # 3 attempts x (2 s connect + 5 s read) + the throttling backoff between them (1 + 2 s)
    assert aws.attempts_of(aws.CLIENT_CONFIG) == 3
    assert aws.attempt_seconds(aws.CLIENT_CONFIG) == 7
    assert aws.call_budget_seconds(aws.CLIENT_CONFIG) == 24


def test_the_old_config_took_longer_than_a_30s_task() -> None:
    # The defect of issue 11.3: read_timeout=20 with 4 retries (5 attempts)
    old = Config(
        retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=20
    )
    assert aws.call_budget_seconds(old) > 30


@mock_aws
def test_no_attempt_starts_that_the_task_deadline_would_cut_short() -> None:
    cw = aws.make_client("cloudwatch", aws.CLIENT_CONFIG)
    needed = aws.attempt_seconds(aws.CLIENT_CONFIG) + aws.DEADLINE_MARGIN_SECONDS

    with aws.time_budget(_context(needed + 1)):
        cw.describe_alarms()  # enough time left: the call is made
    with (
        aws.time_budget(_context(needed - 1)),
        pytest.raises(ServiceUnavailable, match=r"DescribeAlarms timed out: .* too little"),
        aws.translated("DescribeAlarms"),
    ):
        cw.describe_alarms()


def test_a_read_timeout_is_named_a_timeout() -> None:
    with (
        pytest.raises(ServiceUnavailable, match="GetMetricData timed out"),
        aws.translated("GetMetricData"),
    ):
        raise ReadTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com/")


@mock_aws
def test_a_cached_client_carries_no_deadline_of_an_earlier_invocation() -> None:
    cw = aws.make_client("cloudwatch", aws.CLIENT_CONFIG)
    with aws.time_budget(_context(0)), pytest.raises(aws.TaskDeadlineNear):
        cw.describe_alarms()

    cw.describe_alarms()  # the next invocation (here: none) sets its own bound


class BrownedOutLedger(InMemoryLedger):
    """DynamoDB in a brownout: every read of the lock fails after the clients' retries."""

    def lock(self, function_name: str, alias: str) -> Any:
        raise ServiceUnavailable("GetItem timed out: Read timeout on endpoint URL")


def test_a_ledger_brownout_in_check_is_a_counted_health_read_failure() -> None:
    # Given alarms that read fine and a ledger (DynamoDB) that cannot be read
    out = check.check(
        _state(),
        alarms=FlakyAlarms(0, ServiceUnavailable("unused")),
        ledger=BrownedOutLedger(),
        events=ListEvents(),
        now=T0 + 10,
    )

    # Then the Check polls again and counts it, rather than failing into Revert
    checked = RolloutState.model_validate(out)
    assert checked.cursor.decision == Decision.CONTINUE
    assert checked.cursor.health_read_failures == 1
    assert "GetItem timed out" in checked.cursor.reason
