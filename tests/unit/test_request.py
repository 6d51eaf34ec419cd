"""The input contract: what parses, and the error every bad input gets."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.domain.errors import InvalidInput
from rollout.domain.request import parse_request
from rollout.domain.strategies import Step


def _request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "strategy": "Canary10Percent5Minutes",
        "alarms": ["orders-api-errors"],
        "pollIntervalSeconds": 30,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def _refused(raw: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_request(raw)
    return caught.value


def test_the_readme_example_parses_into_a_canary_plan() -> None:
    parsed = parse_request(_request())

    assert parsed.function_name == "orders-api"
    assert parsed.request.target_version == "7"
    assert parsed.request.alarms == ("orders-api-errors",)
    assert parsed.plan == (Step(10, 300), Step(100, 0))


def test_function_arn_is_reduced_to_its_name_and_region() -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"

    parsed = parse_request(_request(functionName=arn))

    assert parsed.function_name == "orders-api"
    assert parsed.ref.arn is not None
    assert parsed.ref.arn.region == "eu-west-1"


def test_integer_target_version_is_accepted_as_text() -> None:
    assert parse_request(_request(targetVersion=7)).request.target_version == "7"


def test_publish_instead_of_target_version_is_accepted() -> None:
    parsed = parse_request(_request(targetVersion=None, publish=True))

    assert parsed.request.publish is True
    assert parsed.request.target_version is None


def test_alarms_and_poll_interval_are_optional_with_aws_defaults() -> None:
    parsed = parse_request(_request(alarms=None, pollIntervalSeconds=None))

    assert parsed.request.alarms == ()
    assert parsed.request.poll_interval_seconds == 30


@pytest.mark.parametrize("missing", ["functionName", "alias", "strategy"])
def test_missing_required_field_is_named(missing: str) -> None:
    raw = _request()
    del raw[missing]

    error = _refused(raw)

    assert error.field == missing
    assert "is required" in str(error)
    assert "Fix:" in str(error)


def test_missing_target_and_publish_asks_for_one_of_them() -> None:
    error = _refused(_request(targetVersion=None))

    assert error.field == "targetVersion"
    assert "publish" in error.fix


def test_target_and_publish_together_are_refused() -> None:
    assert _refused(_request(publish=True)).field == "targetVersion"


@pytest.mark.parametrize("latest", ["$LATEST", "$latest"])
def test_latest_is_refused_as_a_target(latest: str) -> None:
    error = _refused(_request(targetVersion=latest))

    assert error.field == "targetVersion"
    assert "$LATEST" in error.problem


@pytest.mark.parametrize("bad", ["seven", "7a", "", "-1"])
def test_non_numeric_target_version_is_refused(bad: str) -> None:
    assert _refused(_request(targetVersion=bad)).field == "targetVersion"


def test_unknown_field_is_named_and_the_known_fields_listed() -> None:
    error = _refused(_request(stratgy="AllAtOnce"))

    assert error.field == "stratgy"
    assert "functionName" in error.fix


def test_unknown_strategy_name_is_refused_with_the_valid_names() -> None:
    error = _refused(_request(strategy="Canary10Percent7Minutes"))

    assert error.field == "strategy"
    assert "Canary10Percent5Minutes" in error.fix


@pytest.mark.parametrize(
    ("strategy", "field"),
    [
        ({"type": "canary", "percent": 0, "bakeSeconds": 60}, "strategy.percent"),
        ({"type": "canary", "percent": 101, "bakeSeconds": 60}, "strategy.percent"),
        ({"type": "canary", "percent": 10, "bakeSeconds": -1}, "strategy.bakeSeconds"),
        (
            {
                "type": "steps",
                "steps": [{"percent": 20, "bakeSeconds": 1}, {"percent": 10, "bakeSeconds": 1}],
            },
            "strategy.steps[1].percent",
        ),
    ],
)
def test_bad_strategy_numbers_are_refused_naming_the_field(
    strategy: dict[str, Any], field: str
) -> None:
    assert _refused(_request(strategy=strategy)).field == field


@pytest.mark.parametrize("poll", [0, -5, "fast"])
def test_poll_interval_below_one_second_or_not_a_number_is_refused(poll: Any) -> None:
    assert _refused(_request(pollIntervalSeconds=poll)).field == "pollIntervalSeconds"


@pytest.mark.parametrize("name", ["orders api", "x" * 65, "arn:aws:lambda:us-east-1:1:function:f"])
def test_malformed_function_name_is_refused(name: str) -> None:
    assert _refused(_request(functionName=name)).field == "functionName"


def test_qualified_function_arn_is_refused_because_the_alias_has_its_own_field() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-api:live"

    error = _refused(_request(functionName=arn))

    assert error.field == "functionName"
    assert "alias" in error.fix


@pytest.mark.parametrize("alias", ["12", "live alias", ""])
def test_invalid_alias_name_is_refused(alias: str) -> None:
    assert _refused(_request(alias=alias)).field == "alias"


def test_duplicate_alarm_names_are_refused() -> None:
    assert _refused(_request(alarms=["a", "a"])).field == "alarms"


def test_input_that_is_not_an_object_is_refused() -> None:
    assert _refused(["orders-api"]).field == "input"


@pytest.mark.parametrize("bad", [-1, 3601, 2.5, "180", True, None])
def test_a_bad_settle_delay_is_refused_naming_the_field(bad: Any) -> None:
    error = _refused(_request(analysis={"settleSeconds": bad}))

    assert error.field == "analysis.settleSeconds"


def test_the_settle_delay_is_carried_into_the_deployment_with_its_default() -> None:
    assert parse_request(_request()).request.analysis.settle_seconds == 180
    parsed = parse_request(_request(analysis={"settleSeconds": 600}))
    assert parsed.request.to_wire()["analysis"]["settleSeconds"] == 600
