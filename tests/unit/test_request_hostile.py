"""Hostile inputs that the fuzzer (tests/fuzz) found mishandled, pinned one by one.

Each test names the input, and the refusal it now gets: `InvalidInput` under the right
field, a short printable Cause, and no AWS call that changes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from ledger_fake import InMemoryLedger, ListEvents

from rollout.application import prepare
from rollout.domain.errors import InvalidInput, NotFound
from rollout.domain.request import parse_request
from rollout.domain.rollout import AlarmState, AliasSnapshot, VersionInfo
from rollout.domain.strategies import MAX_TOTAL_BAKE_SECONDS, plan

ACCOUNT = "123456789012"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-api"
QUARTER_MB = 256 * 1024


def _request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "2",
        "strategy": "Canary10Percent5Minutes",
        "alarms": ["orders-api-errors"],
    }
    return {**base, **overrides}


def _refused(raw: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_request(raw)
    error = caught.value
    assert "Fix:" in str(error)
    assert len(str(error)) < 2_000
    assert str(error).isprintable()
    return error


def _nested(depth: int) -> Any:
    value: Any = "orders-api"
    for _ in range(depth):
        value = [value]
    return value


# --- names that only looked valid -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("functionName", "orders-api\n"),
        ("functionName", f"{ARN}\n"),
        ("alias", "live\n"),
        ("targetVersion", "2\n"),
    ],
)
def test_a_trailing_newline_no_longer_passes_as_a_valid_name(field: str, value: str) -> None:
    # `$` also matches before a final newline, so "live\n" passed the alias pattern and
    # reached Lambda, which answered with a ValidationException instead of InvalidInput.
    assert _refused(_request(**{field: value})).field == field


def test_an_arn_account_of_non_ascii_digits_is_refused() -> None:
    # `\d` matches any Unicode digit; an AWS account id is twelve ASCII digits.
    arn = "arn:aws:lambda:us-east-1:١٢٣٤٥٦٧٨٩٠١٢:function:orders-api"

    assert _refused(_request(functionName=arn)).field == "functionName"


# --- unknown keys -------------------------------------------------------------------------


def test_an_unknown_key_that_is_not_utf8_is_named_rather_than_the_whole_input() -> None:
    # Given a key with a lone surrogate (json.loads returns one for "\ud800")
    # When parsed; before, pydantic named the whole input
    error = _refused(_request(**{"\ud800": 1}))
    # Then the key is named, escaped
    assert error.field == "'\\ud800'"
    assert "is not a field of the input" in error.problem


@pytest.mark.parametrize("key", ["", "\x00", "x\nFunctionName: forged", "k" * 100_000])
def test_an_empty_control_or_huge_unknown_key_is_named_quoted_and_short(key: str) -> None:
    error = _refused(_request(**{key: 1}))

    assert error.field.startswith("'")
    assert len(error.field) <= 80


def test_snake_case_names_are_unknown_keys_not_a_second_spelling() -> None:
    # pydantic's populate_by_name also took "function_name" for "functionName": a second,
    # undocumented spelling of the contract.
    raw = _request(function_name="orders-api")
    del raw["functionName"]

    assert _refused(raw).field == "function_name"


def test_an_unknown_strategy_key_that_is_empty_is_named_quoted() -> None:
    error = _refused(_request(strategy={"type": "canary", "percent": 10, "bakeSeconds": 1, "": 1}))

    assert error.field == "strategy.''"


# --- values echoed into the Cause -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("alias", "a" * QUARTER_MB),
        ("alias", "\ud800" * QUARTER_MB),
        ("functionName", [{"percent": 1, "bakeSeconds": 1}] * 10_000),
        ("targetVersion", int("9" * 4_300)),  # the longest int json.loads returns
        ("strategy", "Canary" * 50_000),
        ("strategy", {"type": "c" * QUARTER_MB}),
    ],
)
def test_a_huge_value_is_echoed_shortened(field: str, value: Any) -> None:
    # A Cause is capped at 32,768 characters; a 256 KB value used to be echoed whole.
    error = _refused(_request(**{field: value}))

    assert error.field.split(".")[0] == field
    assert len(str(error)) < 1_000


@pytest.mark.parametrize("field", ["functionName", "alias", "alarms"])
def test_a_value_nested_1000_deep_is_refused_without_recursion_error(field: str) -> None:
    # repr() of a list nested 1,000 deep raised RecursionError while building the message.
    error = _refused(_request(**{field: _nested(1_000)}))

    assert error.field == field
    assert "[[[...]]]" in error.problem


# --- wrong types that pydantic's lax mode accepted ---------------------------------------


@pytest.mark.parametrize("publish", ["false", "true", "yes", 0, 1, None])
def test_publish_takes_only_a_json_boolean(publish: Any) -> None:
    # Lax mode read "yes" or 1 as true: a string decided whether a version is published.
    assert _refused(_request(targetVersion=None, publish=publish)).field == "publish"


@pytest.mark.parametrize("poll", [True, False, "30", MAX_TOTAL_BAKE_SECONDS + 1, 10**400])
def test_poll_interval_is_not_a_boolean_text_or_beyond_7_days(poll: Any) -> None:
    assert _refused(_request(pollIntervalSeconds=poll)).field == "pollIntervalSeconds"


def test_poll_interval_written_as_a_whole_float_is_still_accepted() -> None:
    assert parse_request(_request(pollIntervalSeconds=30.0)).request.poll_interval_seconds == 30


# --- alarms -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a" * 256, "orders-api-errors\n", "x\x00", "\ud800", "\u202e"])
def test_an_alarm_name_cloudwatch_cannot_take_is_refused_by_index(name: str) -> None:
    # It went to DescribeAlarms: a ValidationError, or a UnicodeEncodeError for a lone
    # surrogate, instead of InvalidInput.
    assert _refused(_request(alarms=["orders-api-errors", name])).field == "alarms[1]"


def test_10000_alarm_names_are_refused_by_count_before_any_name_is_read() -> None:
    error = _refused(_request(alarms=[f"alarm-{i}" for i in range(10_000)]))

    assert error.field == "alarms"
    assert "10000 names" in error.problem


# --- numbers beyond float range -------------------------------------------------------


def _refused_strategy(strategy: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        plan(strategy)
    return caught.value


@pytest.mark.parametrize(
    ("strategy", "field"),
    [
        (
            {
                "type": "exponential",
                "startPercent": 1,
                "growthFactor": 10**400,
                "intervalSeconds": 60,
            },
            "strategy.growthFactor",
        ),
        ({"type": "canary", "percent": 10**400, "bakeSeconds": 60}, "strategy.percent"),
    ],
)
def test_an_int_beyond_float_range_is_refused_not_an_overflow_error(
    strategy: dict[str, Any], field: str
) -> None:
    # math.isfinite(10**400) raised OverflowError.
    error = _refused_strategy(strategy)

    assert error.field == field
    assert "finite number" in error.problem


@pytest.mark.parametrize("bake", [10**400, 1e308, MAX_TOTAL_BAKE_SECONDS + 1])
def test_one_bake_beyond_7_days_is_refused_before_the_bakes_are_summed(bake: Any) -> None:
    # The total's day count, total / 86400, raised OverflowError for 10**400.
    error = _refused_strategy({"type": "canary", "percent": 10, "bakeSeconds": bake})

    assert error.field == "strategy.bakeSeconds"
    assert "the longest supported schedule is 7 days" in error.problem
    assert len(str(error)) < 400


@pytest.mark.parametrize("index", [0, 57])
def test_a_bake_beyond_7_days_in_a_list_of_steps_is_named_by_its_index(index: int) -> None:
    steps = [{"percent": i + 1, "bakeSeconds": 60} for i in range(60)]
    steps[index]["bakeSeconds"] = 10**400

    error = _refused_strategy({"type": "steps", "steps": steps})

    assert error.field == f"strategy.steps[{index}].bakeSeconds"


# --- Prepare: nothing moves when the input is refused --------------------------------------


class _Functions:
    """orders-api, alias live -> 1, versions 1 and 2; records the calls that write."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
        if (function_name, alias) != ("orders-api", "live"):
            raise NotFound(alias)
        return AliasSnapshot(function_version="1", revision_id="rev-1")

    def get_version(self, function_name: str, version: str) -> VersionInfo:
        if version not in ("1", "2", "3", "$LATEST"):
            raise NotFound(version)
        return VersionInfo(version=version, code_sha256=f"sha-{version}")

    def publish_version(self, function_name: str, code_sha256: str, description: str) -> str:
        self.writes.append("publish_version")
        return "3"

    def update_alias(self, function_name: str, alias: str, **_: Any) -> AliasSnapshot:
        self.writes.append("update_alias")
        return AliasSnapshot(function_version="1", revision_id="rev-2")


class _Alarms:
    def states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        known = {"orders-api-errors"}
        return {n: AlarmState(name=n, state="OK") for n in names if n in known}


def _prepare(raw: dict[str, Any], functions: _Functions, **where: str) -> dict[str, Any]:
    return prepare.prepare(
        raw,
        execution="x",
        started_at=0.0,
        functions=functions,
        alarms=_Alarms(),
        ledger=InMemoryLedger(),
        events=ListEvents(),
        now=0.0,
        **where,
    ).wire()


def test_publish_with_a_missing_alarm_is_refused_before_a_version_is_published() -> None:
    # Given publish: true and an alarm that does not exist
    functions = _Functions()
    raw = _request(targetVersion=None, publish=True, alarms=["no-such-alarm"])
    # When Prepare runs; before, it published version 3 and then refused the alarm
    with pytest.raises(InvalidInput) as caught:
        _prepare(raw, functions)
    # Then the alarm is named and nothing was published
    assert caught.value.field == "alarms[0]"
    assert functions.writes == []


def test_publish_with_existing_alarms_still_publishes() -> None:
    functions = _Functions()

    state = _prepare(_request(targetVersion=None, publish=True), functions)

    assert state["deployment"]["targetVersion"] == "3"
    assert functions.writes == ["publish_version"]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:lambda:us-east-1:210987654321:function:orders-api",
        f"arn:aws-cn:lambda:us-east-1:{ACCOUNT}:function:orders-api",
        f"arn:aws-us-gov:lambda:us-east-1:{ACCOUNT}:function:orders-api",
    ],
)
def test_a_function_arn_of_another_account_or_partition_is_refused(arn: str) -> None:
    # Before, only the name was kept: this account's orders-api would have been deployed.
    functions = _Functions()

    with pytest.raises(InvalidInput) as caught:
        _prepare(_request(functionName=arn), functions, account=ACCOUNT, partition="aws")

    assert caught.value.field == "functionName"
    assert "control plane runs in" in caught.value.problem
    assert functions.writes == []


def test_the_arn_of_this_account_and_partition_is_accepted() -> None:
    state = _prepare(_request(functionName=ARN), _Functions(), account=ACCOUNT, partition="aws")

    assert state["deployment"]["functionName"] == "orders-api"


def test_the_prepare_handler_knows_its_own_account_from_its_arn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the handler runs in account 123456789012 and the input names another account
    from rollout.handlers import prepare

    monkeypatch.setenv("TABLE_NAME", "ledger")  # built, never called: refused before
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    context = SimpleNamespace(
        function_name="trafficshift-prepare",
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:trafficshift-prepare",
        memory_limit_in_mb=256,
        aws_request_id="req-1",
        log_group_name="/aws/lambda/trafficshift-prepare",
        log_stream_name="s",
        get_remaining_time_in_millis=lambda: 30_000,
    )
    other = "arn:aws:lambda:us-east-1:210987654321:function:orders-api"
    # When it runs, Then the input is refused before any AWS call
    with pytest.raises(InvalidInput) as caught:
        prepare.handler({"input": _request(functionName=other), "executionId": "x"}, context)
    assert "account 210987654321" in caught.value.problem
