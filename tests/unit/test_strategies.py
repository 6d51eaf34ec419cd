"""Exact weight sequences for every strategy, and the error for every bad input."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from rollout.domain.errors import InvalidInput
from rollout.domain.strategies import (
    CODEDEPLOY_PREDEFINED,
    MAX_POLLS,
    MAX_STEPS,
    MAX_TOTAL_BAKE_SECONDS,
    Step,
    effective_poll_interval,
    plan,
    total_bake_seconds,
)


def pairs(steps: tuple[Step, ...]) -> list[tuple[float, int]]:
    return [(s.percent, s.bake_seconds) for s in steps]


def invalid(strategy: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        plan(strategy)
    return caught.value


def linear_10(bake: int) -> list[tuple[float, int]]:
    return [(p, bake) for p in (10, 20, 30, 40, 50, 60, 70, 80, 90)] + [(100, 0)]


# --- CodeDeploy predefined names ------------------------------------------------------

PREDEFINED = {
    "Canary10Percent5Minutes": [(10, 300), (100, 0)],
    "Canary10Percent10Minutes": [(10, 600), (100, 0)],
    "Canary10Percent15Minutes": [(10, 900), (100, 0)],
    "Canary10Percent30Minutes": [(10, 1800), (100, 0)],
    "Linear10PercentEvery1Minute": linear_10(60),
    "Linear10PercentEvery2Minutes": linear_10(120),
    "Linear10PercentEvery3Minutes": linear_10(180),
    "Linear10PercentEvery10Minutes": linear_10(600),
    "AllAtOnce": [(100, 0)],
}


@pytest.mark.parametrize(("name", "expected"), PREDEFINED.items())
@pytest.mark.parametrize("prefix", ["", "CodeDeployDefault.Lambda"])
def test_codedeploy_predefined_name_plans_its_exact_steps(
    name: str, expected: list[tuple[float, int]], prefix: str
) -> None:
    # Given a CodeDeploy name, bare as in SAM or prefixed as in CodeDeploy
    # When it is planned
    # Then the steps are exactly CodeDeploy's
    assert pairs(plan(prefix + name)) == expected


def test_codedeploy_predefined_table_holds_exactly_the_nine_names() -> None:
    assert list(CODEDEPLOY_PREDEFINED) == list(PREDEFINED)


def test_linear_10_percent_every_minute_plans_ten_steps_ending_at_100() -> None:
    assert plan("Linear10PercentEvery1Minute") == (
        Step(10, 60),
        Step(20, 60),
        Step(30, 60),
        Step(40, 60),
        Step(50, 60),
        Step(60, 60),
        Step(70, 60),
        Step(80, 60),
        Step(90, 60),
        Step(100, 0),
    )


def test_unknown_name_lists_valid_names_and_suggests_the_closest() -> None:
    # Given a name with a typo
    error = invalid("Canary10Percent5Minute")
    # Then the error is on `strategy`, suggests the right name and lists them all
    assert error.field == "strategy"
    assert "'Canary10Percent5Minute'" in error.problem
    assert "did you mean 'Canary10Percent5Minutes'?" in error.fix
    for name in PREDEFINED:
        assert name in error.fix


def test_unknown_name_in_the_wrong_case_still_gets_a_suggestion() -> None:
    error = invalid("linear10percentevery1minute")
    assert error.field == "strategy"
    assert "did you mean 'Linear10PercentEvery1Minute'?" in error.fix


def test_unknown_prefixed_name_suggests_the_bare_name() -> None:
    error = invalid("CodeDeployDefault.LambdaAllAtOnc")
    assert "did you mean 'AllAtOnce'?" in error.fix


def test_name_far_from_any_gets_no_suggestion_but_the_list() -> None:
    error = invalid("blue-green")
    assert error.field == "strategy"
    assert "did you mean" not in error.fix
    assert "AllAtOnce" in error.fix
    assert "canary, linear, exponential or steps" in error.fix


# --- canary ---------------------------------------------------------------------------


def test_canary_object_plans_its_percent_then_100() -> None:
    strategy = {"type": "canary", "percent": 5, "bakeSeconds": 120}
    assert pairs(plan(strategy)) == [(5, 120), (100, 0)]


def test_canary_accepts_a_fractional_percent() -> None:
    strategy = {"type": "canary", "percent": 0.5, "bakeSeconds": 600}
    assert pairs(plan(strategy)) == [(0.5, 600), (100, 0)]


def test_canary_at_100_percent_is_rejected_and_points_at_all_at_once() -> None:
    error = invalid({"type": "canary", "percent": 100, "bakeSeconds": 60})
    assert error.field == "strategy.percent"
    assert "got 100" in error.problem
    assert "AllAtOnce" in error.fix


# --- linear ---------------------------------------------------------------------------


def test_linear_object_with_30_percent_plans_30_60_90_100() -> None:
    strategy = {"type": "linear", "percent": 30, "intervalSeconds": 45}
    assert pairs(plan(strategy)) == [(30, 45), (60, 45), (90, 45), (100, 0)]


def test_linear_object_with_10_percent_matches_the_predefined_linear() -> None:
    strategy = {"type": "linear", "percent": 10, "intervalSeconds": 60}
    assert plan(strategy) == plan("Linear10PercentEvery1Minute")


def test_linear_float_drift_never_makes_a_step_just_below_100() -> None:
    # Given a percent whose third multiple is 99.99999 in exact arithmetic
    strategy = {"type": "linear", "percent": 33.33333, "intervalSeconds": 60}
    # Then it rounds to 100 and is not a step of its own
    assert pairs(plan(strategy)) == [(33.3333, 60), (66.6667, 60), (100, 0)]


def test_linear_fractional_percent_multiplies_without_drift() -> None:
    strategy = {"type": "linear", "percent": 12.5, "intervalSeconds": 10}
    assert [s.percent for s in plan(strategy)] == [12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100]


def test_linear_1_percent_plans_exactly_max_steps() -> None:
    steps = plan({"type": "linear", "percent": 1, "intervalSeconds": 0})
    assert [s.percent for s in steps] == list(range(1, 101))
    assert len(steps) == MAX_STEPS


def test_linear_half_percent_is_rejected_naming_200_steps_and_the_limit() -> None:
    # Given a percent that needs 199 steps below 100, plus the final 100%
    error = invalid({"type": "linear", "percent": 0.5, "intervalSeconds": 60})
    # Then the error names the count and the limit
    assert error.field == "strategy.percent"
    assert "200 steps" in error.problem
    assert f"MAX_STEPS={MAX_STEPS}" in error.problem
    assert "at most 100 steps" in error.fix


def test_linear_with_a_vanishing_percent_is_rejected_without_building_the_plan() -> None:
    error = invalid({"type": "linear", "percent": 5e-324, "intervalSeconds": 60})
    assert error.field == "strategy.percent"
    assert "millions of steps" in error.problem


# --- exponential ----------------------------------------------------------------------


def test_exponential_from_1_doubling_plans_powers_of_two_then_100() -> None:
    strategy = {"type": "exponential", "startPercent": 1, "growthFactor": 2, "intervalSeconds": 30}
    assert pairs(plan(strategy)) == [
        (1, 30),
        (2, 30),
        (4, 30),
        (8, 30),
        (16, 30),
        (32, 30),
        (64, 30),
        (100, 0),
    ]


def test_exponential_fractional_start_tripling() -> None:
    strategy = {
        "type": "exponential",
        "startPercent": 0.5,
        "growthFactor": 3,
        "intervalSeconds": 60,
    }
    assert [s.percent for s in plan(strategy)] == [0.5, 1.5, 4.5, 13.5, 40.5, 100]


def test_exponential_rounds_each_percent_to_4_decimals() -> None:
    strategy = {
        "type": "exponential",
        "startPercent": 1,
        "growthFactor": 1.1,
        "intervalSeconds": 60,
    }
    percents = [s.percent for s in plan(strategy)]
    assert percents[:4] == [1, 1.1, 1.21, 1.331]
    assert percents[-3:] == [88.1975, 97.0172, 100]
    assert len(percents) == 50


@pytest.mark.parametrize("growth", [1, 0.5, 0, -2])
def test_exponential_growth_factor_of_1_or_less_is_rejected(growth: float) -> None:
    strategy = {
        "type": "exponential",
        "startPercent": 1,
        "growthFactor": growth,
        "intervalSeconds": 60,
    }
    error = invalid(strategy)
    assert error.field == "strategy.growthFactor"
    assert f"got {growth!r}" in error.problem
    assert "above 1" in error.fix


def test_exponential_with_too_many_steps_names_the_count() -> None:
    strategy = {
        "type": "exponential",
        "startPercent": 1,
        "growthFactor": 1.01,
        "intervalSeconds": 0,
    }
    error = invalid(strategy)
    assert error.field == "strategy.growthFactor"
    assert "464 steps" in error.problem
    assert f"MAX_STEPS={MAX_STEPS}" in error.problem


def test_exponential_start_that_rounds_to_zero_is_rejected() -> None:
    strategy = {
        "type": "exponential",
        "startPercent": 0.00001,
        "growthFactor": 2,
        "intervalSeconds": 60,
    }
    error = invalid(strategy)
    assert error.field == "strategy.startPercent"
    assert "0.0001" in error.fix


def test_exponential_steps_that_round_to_the_same_percent_are_rejected() -> None:
    # Given a start and factor whose first two steps both round to 0.0001%
    strategy = {
        "type": "exponential",
        "startPercent": 0.00006,
        "growthFactor": 1.5,
        "intervalSeconds": 60,
    }
    error = invalid(strategy)
    # Then the plan is not silently flat: the user is told to grow faster
    assert error.field == "strategy.growthFactor"
    assert "both round to 0.0001%" in error.problem
    assert "larger growthFactor" in error.fix


def test_exponential_huge_growth_factor_jumps_straight_to_100() -> None:
    strategy = {
        "type": "exponential",
        "startPercent": 1,
        "growthFactor": 1e308,
        "intervalSeconds": 60,
    }
    assert pairs(plan(strategy)) == [(1, 60), (100, 0)]


# --- explicit steps -------------------------------------------------------------------


def test_steps_half_percent_then_10_then_appended_100() -> None:
    strategy = {
        "type": "steps",
        "steps": [{"percent": 0.5, "bakeSeconds": 60}, {"percent": 10, "bakeSeconds": 300}],
    }
    assert pairs(plan(strategy)) == [(0.5, 60), (10, 300), (100, 0)]


def test_steps_ending_at_100_keep_its_final_bake() -> None:
    strategy = {
        "type": "steps",
        "steps": [{"percent": 25, "bakeSeconds": 60}, {"percent": 100, "bakeSeconds": 900}],
    }
    assert pairs(plan(strategy)) == [(25, 60), (100, 900)]


def test_steps_with_a_single_100_step_bakes_at_full_traffic() -> None:
    strategy = {"type": "steps", "steps": [{"percent": 100, "bakeSeconds": 120}]}
    assert pairs(plan(strategy)) == [(100, 120)]


def test_steps_accept_a_list_of_99_below_100_plus_the_appended_100() -> None:
    raw = [{"percent": p, "bakeSeconds": 1} for p in range(1, 100)]
    steps = plan({"type": "steps", "steps": raw})
    assert len(steps) == MAX_STEPS
    assert steps[-1] == Step(100, 0)


def test_steps_of_100_below_100_are_too_many_once_100_is_appended() -> None:
    raw = [{"percent": p / 2, "bakeSeconds": 1} for p in range(1, 101)]
    error = invalid({"type": "steps", "steps": raw})
    assert error.field == "strategy.steps"
    assert "101 steps" in error.problem


def test_steps_list_longer_than_max_steps_is_rejected_before_parsing_each() -> None:
    raw: list[Any] = ["not even a step"] * (MAX_STEPS + 1)
    error = invalid({"type": "steps", "steps": raw})
    assert error.field == "strategy.steps"
    assert f"{MAX_STEPS + 1} steps" in error.problem


def test_steps_that_do_not_increase_name_the_index_of_the_offender() -> None:
    # Given a third step no larger than the second
    strategy = {
        "type": "steps",
        "steps": [
            {"percent": 1, "bakeSeconds": 60},
            {"percent": 20, "bakeSeconds": 60},
            {"percent": 20, "bakeSeconds": 60},
        ],
    }
    error = invalid(strategy)
    # Then the error points at steps[2] and says how to order them
    assert error.field == "strategy.steps[2].percent"
    assert "make each step's percent larger than the one before" in error.fix


def test_steps_with_100_before_the_end_are_rejected_at_that_step() -> None:
    strategy = {
        "type": "steps",
        "steps": [{"percent": 100, "bakeSeconds": 60}, {"percent": 100, "bakeSeconds": 60}],
    }
    error = invalid(strategy)
    assert error.field == "strategy.steps[0].percent"
    assert "only on the last step" in error.problem


def test_empty_steps_list_is_rejected() -> None:
    error = invalid({"type": "steps", "steps": []})
    assert error.field == "strategy.steps"
    assert "at least one step" in error.fix


@pytest.mark.parametrize("raw", ["10,20", {"percent": 10}, 10, None])
def test_steps_that_are_not_a_list_are_rejected(raw: Any) -> None:
    error = invalid({"type": "steps", "steps": raw})
    assert error.field == "strategy.steps"
    assert "give a list" in error.fix


def test_a_step_that_is_not_an_object_is_rejected_at_its_index() -> None:
    error = invalid({"type": "steps", "steps": [{"percent": 1, "bakeSeconds": 0}, 50]})
    assert error.field == "strategy.steps[1]"
    assert "got 50" in error.problem


def test_a_step_missing_its_bake_is_rejected_naming_the_key() -> None:
    error = invalid({"type": "steps", "steps": [{"percent": 10}]})
    assert error.field == "strategy.steps[0].bakeSeconds"
    assert "missing" in error.problem
    assert "bakeSeconds" in error.fix


def test_a_step_with_a_typo_key_is_rejected_with_a_suggestion() -> None:
    error = invalid({"type": "steps", "steps": [{"percent": 10, "bakeSecond": 60}]})
    assert error.field == "strategy.steps[0].bakeSecond"
    assert "did you mean 'bakeSeconds'?" in error.fix


# --- percent and seconds values -------------------------------------------------------

BAD_PERCENTS = [0, -5, 150, True, "10", None, math.nan, math.inf, -math.inf, [10]]


@pytest.mark.parametrize("bad", BAD_PERCENTS)
def test_bad_canary_percent_is_rejected_saying_what_was_received(bad: Any) -> None:
    error = invalid({"type": "canary", "percent": bad, "bakeSeconds": 60})
    assert error.field == "strategy.percent"
    assert f"got {bad!r}" in error.problem
    assert "percent above 0" in error.fix


@pytest.mark.parametrize("bad", BAD_PERCENTS)
def test_bad_step_percent_is_rejected_at_its_index(bad: Any) -> None:
    strategy = {
        "type": "steps",
        "steps": [{"percent": 1, "bakeSeconds": 60}, {"percent": bad, "bakeSeconds": 60}],
    }
    error = invalid(strategy)
    assert error.field == "strategy.steps[1].percent"
    assert f"got {bad!r}" in error.problem


@pytest.mark.parametrize("bad", [0, 100, True, math.nan])
def test_bad_linear_percent_is_rejected(bad: Any) -> None:
    error = invalid({"type": "linear", "percent": bad, "intervalSeconds": 60})
    assert error.field == "strategy.percent"


@pytest.mark.parametrize("bad", [0, 100, False, math.inf])
def test_bad_exponential_start_is_rejected(bad: Any) -> None:
    strategy = {"type": "exponential", "startPercent": bad, "growthFactor": 2, "intervalSeconds": 1}
    error = invalid(strategy)
    assert error.field == "strategy.startPercent"


@pytest.mark.parametrize("bad", [True, "2", math.nan, math.inf])
def test_growth_factor_that_is_not_a_finite_number_is_rejected(bad: Any) -> None:
    strategy = {"type": "exponential", "startPercent": 1, "growthFactor": bad, "intervalSeconds": 1}
    error = invalid(strategy)
    assert error.field == "strategy.growthFactor"
    assert f"got {bad!r}" in error.problem


@pytest.mark.parametrize("bad", [1.5, -1, -60.0, True, "60", None, math.nan, math.inf])
def test_bad_bake_seconds_is_rejected_asking_for_whole_seconds(bad: Any) -> None:
    error = invalid({"type": "canary", "percent": 10, "bakeSeconds": bad})
    assert error.field == "strategy.bakeSeconds"
    assert f"got {bad!r}" in error.problem
    assert "whole number of seconds, 0 or more" in error.fix


@pytest.mark.parametrize("bad", [2.5, -1])
def test_bad_interval_seconds_is_rejected(bad: Any) -> None:
    error = invalid({"type": "linear", "percent": 50, "intervalSeconds": bad})
    assert error.field == "strategy.intervalSeconds"


def test_bad_step_bake_seconds_is_rejected_at_its_index() -> None:
    error = invalid({"type": "steps", "steps": [{"percent": 1, "bakeSeconds": -3}]})
    assert error.field == "strategy.steps[0].bakeSeconds"


def test_integral_float_seconds_are_accepted_as_ints() -> None:
    steps = plan({"type": "canary", "percent": 10, "bakeSeconds": 60.0})
    assert pairs(steps) == [(10, 60), (100, 0)]
    assert type(steps[0].bake_seconds) is int


def test_zero_bake_is_allowed() -> None:
    assert pairs(plan({"type": "linear", "percent": 50, "intervalSeconds": 0})) == [
        (50, 0),
        (100, 0),
    ]


# --- strategy object shape ------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "field"),
    [
        ({"type": "canary", "percent": 10}, "strategy.bakeSeconds"),
        ({"type": "canary", "bakeSeconds": 60}, "strategy.percent"),
        ({"type": "linear", "percent": 10}, "strategy.intervalSeconds"),
        ({"type": "exponential", "startPercent": 1, "intervalSeconds": 1}, "strategy.growthFactor"),
        ({"type": "steps"}, "strategy.steps"),
    ],
)
def test_missing_required_key_is_rejected_naming_it(strategy: Any, field: str) -> None:
    error = invalid(strategy)
    assert error.field == field
    assert "missing" in error.problem
    assert field.removeprefix("strategy.") in error.fix


def test_typo_key_is_rejected_with_the_allowed_keys_and_a_suggestion() -> None:
    # Given `bakeSecond` for `bakeSeconds`
    error = invalid({"type": "canary", "percent": 10, "bakeSecond": 60})
    # Then the typo is named, not just the missing key
    assert error.field == "strategy.bakeSecond"
    assert "did you mean 'bakeSeconds'?" in error.fix
    assert "type, percent, bakeSeconds" in error.fix


def test_key_of_another_type_is_rejected() -> None:
    error = invalid({"type": "canary", "percent": 10, "bakeSeconds": 60, "intervalSeconds": 60})
    assert error.field == "strategy.intervalSeconds"


def test_missing_type_lists_the_four_types() -> None:
    error = invalid({"percent": 10, "bakeSeconds": 60})
    assert error.field == "strategy.type"
    assert "canary, linear, exponential or steps" in error.fix


@pytest.mark.parametrize("kind", ["bluegreen", 3, None])
def test_unknown_type_lists_the_four_types(kind: Any) -> None:
    error = invalid({"type": kind})
    assert error.field == "strategy.type"
    assert f"{kind!r}" in error.problem
    assert "canary, linear, exponential or steps" in error.fix


def test_type_in_the_wrong_case_gets_a_suggestion() -> None:
    error = invalid({"type": "Linear", "percent": 10, "intervalSeconds": 60})
    assert "did you mean 'linear'?" in error.fix


@pytest.mark.parametrize("strategy", [10, None, ["AllAtOnce"], 1.5])
def test_strategy_that_is_neither_name_nor_object_is_rejected(strategy: Any) -> None:
    error = invalid(strategy)
    assert error.field == "strategy"
    assert "Canary10Percent5Minutes" in error.fix


# --- limits ---------------------------------------------------------------------------


def test_canary_baking_exactly_7_days_is_accepted() -> None:
    steps = plan({"type": "canary", "percent": 1, "bakeSeconds": MAX_TOTAL_BAKE_SECONDS})
    assert total_bake_seconds(steps) == 7 * 24 * 3600


def test_canary_baking_over_7_days_is_rejected() -> None:
    error = invalid({"type": "canary", "percent": 1, "bakeSeconds": MAX_TOTAL_BAKE_SECONDS + 1})
    assert error.field == "strategy.bakeSeconds"
    assert "the longest supported schedule is 7 days" in error.problem


def test_linear_whose_intervals_add_up_to_over_7_days_is_rejected() -> None:
    # Given 9 steps of one day each
    error = invalid({"type": "linear", "percent": 10, "intervalSeconds": 86400})
    assert error.field == "strategy.intervalSeconds"
    assert "777600 seconds" in error.problem
    assert "7 days" in error.problem


def test_steps_whose_bakes_add_up_to_over_7_days_are_rejected() -> None:
    strategy = {
        "type": "steps",
        "steps": [
            {"percent": 50, "bakeSeconds": 4 * 86400},
            {"percent": 100, "bakeSeconds": 4 * 86400},
        ],
    }
    error = invalid(strategy)
    assert error.field == "strategy.steps"
    assert "7 days" in error.problem


def test_total_bake_seconds_sums_every_step() -> None:
    assert total_bake_seconds(plan("Linear10PercentEvery10Minutes")) == 9 * 600
    assert total_bake_seconds(()) == 0


# --- Step -----------------------------------------------------------------------------


def test_step_round_trips_through_its_dict() -> None:
    step = Step(0.5, 60)
    assert step.to_dict() == {"percent": 0.5, "bakeSeconds": 60}
    assert Step.from_dict(step.to_dict()) == step


def test_step_percent_is_always_a_float_in_its_dict() -> None:
    # Uniform JSON in the state machine: 100 and 100.0 never both appear
    assert plan("AllAtOnce")[0].to_dict() == {"percent": 100.0, "bakeSeconds": 0}
    assert type(plan("AllAtOnce")[0].to_dict()["percent"]) is float


def test_step_from_bad_dict_raises_invalid_input_on_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        Step.from_dict({"percent": 0, "bakeSeconds": 1}, field="plan[3]")
    assert caught.value.field == "plan[3].percent"


@pytest.mark.parametrize(("percent", "bake"), [(0, 1), (101, 1), (True, 1), (10, -1), (10, 1.0)])
def test_step_refuses_to_hold_an_impossible_value(percent: Any, bake: Any) -> None:
    with pytest.raises(ValueError, match="Step"):
        Step(percent, bake)


def test_every_plan_ends_at_100() -> None:
    strategies: list[Any] = [
        *PREDEFINED,
        {"type": "canary", "percent": 1, "bakeSeconds": 1},
        {"type": "linear", "percent": 7, "intervalSeconds": 1},
        {"type": "exponential", "startPercent": 3, "growthFactor": 1.7, "intervalSeconds": 1},
        {"type": "steps", "steps": [{"percent": 99.9999, "bakeSeconds": 1}]},
    ]
    for strategy in strategies:
        steps = plan(strategy)
        assert steps[-1].percent == 100
        assert all(a.percent < b.percent for a, b in itertools.pairwise(steps))


# --- effective_poll_interval ----------------------------------------------------------


def test_requested_poll_interval_is_honoured_when_polls_fit() -> None:
    # Canary10Percent30Minutes at 30 s: 60 polls + 1 for the 100% step
    assert effective_poll_interval(plan("Canary10Percent30Minutes"), 30) == 30


def test_poll_interval_is_raised_for_a_7_day_bake() -> None:
    # Given a 7-day canary polled every 30 s: 20,160 polls
    steps = plan({"type": "canary", "percent": 10, "bakeSeconds": MAX_TOTAL_BAKE_SECONDS})
    # When the interval is chosen
    interval = effective_poll_interval(steps, 30)
    # Then it is the smallest that fits: ceil(604800 / 303) + 1 = 1998 <= 2000 < 2004 at 302
    assert interval == 303
    assert math.ceil(MAX_TOTAL_BAKE_SECONDS / interval) + 1 <= MAX_POLLS
    assert math.ceil(MAX_TOTAL_BAKE_SECONDS / (interval - 1)) + 1 > MAX_POLLS


def test_zero_bake_steps_each_cost_one_poll() -> None:
    # Given 100 steps: 99 of 1 hour and the final 100% with no bake
    steps = plan({"type": "linear", "percent": 1, "intervalSeconds": 3600})
    # At 180 s: 99 * 20 + 1 = 1981 polls; at 179 s: 99 * 21 + 1 = 2080
    assert effective_poll_interval(steps, 1) == 180
    assert effective_poll_interval(steps, 180) == 180
    assert effective_poll_interval(steps, 600) == 600


def test_final_step_without_bake_tips_the_poll_count_over_the_limit() -> None:
    # Given a bake of exactly MAX_POLLS polls at 60 s, then the 100% step with no bake
    steps = (Step(50, MAX_POLLS * 60), Step(100, 0))
    # When 60 s is requested, the 100% step's one poll makes 2001
    # Then the next interval up is used
    assert effective_poll_interval(steps, 60) == 61


@pytest.mark.parametrize("requested", [0, -5])
def test_poll_interval_below_1_is_treated_as_1(requested: int) -> None:
    assert effective_poll_interval(plan("Canary10Percent5Minutes"), requested) == 1


def test_poll_interval_of_a_plan_without_bake_is_the_requested_one() -> None:
    assert effective_poll_interval(plan("AllAtOnce"), 30) == 30
