"""Hostile input fuzzer: whatever a deployment's input is, Prepare refuses it by name or runs.

Every generated input goes through `prepare.prepare` against in-memory Lambda and CloudWatch
ports that answer as AWS would for `orders-api` (alias `live` -> 1, versions 1 and 2). For
each one, Prepare either returns a state within every Step Functions limit, or raises
`InvalidInput` that names a field of the input, says "Fix:", stays short and printable, and
follows no AWS mutation. Any other exception fails the test.

The runs are derandomized (the same inputs on every run, in CI too) and sized to take well
under a minute on two cores; TRAFFICSHIFT_FUZZ_SCALE=10 runs ten times as many inputs.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ledger_fake import InMemoryLedger, ListEvents
from strategies_for_inputs import (
    ACCOUNT,
    ALIAS,
    EXISTING_ALARMS,
    FIELDS,
    FUNCTION,
    FUZZED,
    PARTITION,
    PREPARED,
    QUARTER_MB,
    REGION,
    STABLE,
    TARGET,
    VALID,
    FakeAlarms,
    FakeFunctions,
    extra_fields,
    function_arns,
    hostile_values,
    json_values,
    missing_fields,
    names_a_field,
    near_valid_inputs,
    one_field_replaced,
    root_of,
    schedules,
    strategy_objects,
)

from rollout.application import prepare
from rollout.domain import budget
from rollout.domain.errors import InvalidInput
from rollout.domain.gates import APPROVAL_MAX_TIMEOUT_SECONDS
from rollout.domain.rollout import RolloutState
from rollout.domain.strategies import MAX_POLLS, MAX_STEPS, MAX_TOTAL_BAKE_SECONDS, Step

NOW = 1_750_000_000.0
LOCAL_ARN = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
MAX_MESSAGE = 2_000  # a Cause may hold 32,768 characters; ours stay far below
STATE_LIMIT = 256 * 1024  # Step Functions' payload limit between states, in bytes
HISTORY_LIMIT = 25_000  # Step Functions' events per execution

_SCALE = float(os.environ.get("TRAFFICSHIFT_FUZZ_SCALE", "1"))
BUDGET: dict[str, int] = {}


def fuzz(name: str, examples: int) -> settings:
    """Derandomized settings for one fuzz test; its input count is recorded in BUDGET."""
    BUDGET[name] = max(1, int(examples * _SCALE))
    return settings(
        max_examples=BUDGET[name],
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


# --- the properties every input must satisfy ----------------------------------------------


def prepared(test: str, raw: Any) -> dict[str, Any] | InvalidInput:
    """Run Prepare on `raw`; check the refusal or the state it gives; return it."""
    FUZZED[test] += 1
    functions, alarms = FakeFunctions(), FakeAlarms()
    try:
        state = prepare.prepare(
            raw,
            execution="x",
            started_at=NOW,
            functions=functions,
            alarms=alarms,
            ledger=InMemoryLedger(),
            events=ListEvents(),
            now=NOW,
            region=REGION,
            account=ACCOUNT,
            partition=PARTITION,
        ).wire()
    except InvalidInput as refused:
        _check_refusal(raw, refused, functions)
        return refused
    _check_state(raw, state, functions, alarms)
    PREPARED[test] += 1
    return state


def _check_refusal(raw: Any, refused: InvalidInput, functions: FakeFunctions) -> None:
    message = str(refused)
    assert isinstance(refused.field, str)
    assert refused.field, "the field is named"
    assert names_a_field(raw, refused.field), f"{refused.field[:200]!r} is not in the input"
    assert "Fix:" in message
    assert len(message) < MAX_MESSAGE, f"a Cause of {len(message)} characters"
    # Echoed values are escaped: no newline, NUL, bidi override or lone surrogate reaches
    # the Cause or the logs.
    assert message.isprintable(), message[:300]
    message.encode("utf-8")
    assert functions.mutations == [], "a refused input moved nothing"


def _check_state(
    raw: Any, state: dict[str, Any], functions: FakeFunctions, alarms: FakeAlarms
) -> None:
    assert len(json.dumps(state, allow_nan=False).encode()) < STATE_LIMIT
    parsed = RolloutState.model_validate(state)
    d = parsed.deployment
    published = raw.get("publish") is True
    assert (d.function_name, d.alias, d.stable_version) == (FUNCTION, ALIAS, STABLE)
    assert d.target_version == ("3" if published else TARGET)
    assert [call for call, _ in functions.mutations] == (["publish_version"] if published else [])
    assert set(d.alarms) <= set(EXISTING_ALARMS)
    assert all(len(names) <= 100 for names in alarms.calls)
    steps = [d.step(i) for i in range(len(d.plan))]
    assert_within_step_functions_limits(steps, d.poll_interval_seconds)


def assert_within_step_functions_limits(steps: list[Step], poll: int) -> None:
    assert 1 <= len(steps) <= MAX_STEPS
    assert steps[-1].percent == 100
    assert all(a.percent < b.percent for a, b in itertools.pairwise(steps))
    assert sum(s.bake_seconds for s in steps) <= MAX_TOTAL_BAKE_SECONDS
    assert 1 <= poll <= MAX_TOTAL_BAKE_SECONDS
    polls = sum(max(1, math.ceil(s.bake_seconds / poll)) for s in steps)
    assert polls <= MAX_POLLS
    assert history_events(len(steps), polls) <= HISTORY_LIMIT


def history_events(steps: int, polls: int, gate_polls: int = 0, hooks: int = 0) -> int:
    """The events of a successful execution, counted from the state machine's shape.

    A Lambda task state logs 5 events (entered, scheduled, started, succeeded, exited), a
    Wait or Choice 2. Each step is one SetWeight; each poll one Bake, Check and Decide.
    An approval gate's poll is AwaitApproval (a callback task: entered, scheduled, started,
    submitted, timed out, exited), Check and Decide; a hook one task, and the two Has*Hook
    Choices are always passed.
    """
    task, passing, callback = 5, 2, 6
    execution = 2 + task + task + passing  # started/succeeded, Prepare, Promote, Promoted
    execution += 2 * passing + hooks * task  # HasPreTrafficHook, HasPostTrafficHook
    return (
        execution
        + steps * task
        + polls * (passing + task + passing)
        + gate_polls * (callback + task + passing)
    )


def refused(outcome: dict[str, Any] | InvalidInput) -> InvalidInput:
    assert isinstance(outcome, InvalidInput), "this input must be refused"
    return outcome


# --- whole inputs ---------------------------------------------------------------------------


@fuzz("whole_input", 400)
@given(raw=st.one_of(hostile_values(), json_values(30)))
@example(raw=[VALID])
@example(raw=json.dumps(VALID))
@example(raw=None)
def test_any_json_value_as_the_whole_input_is_refused_by_name(raw: Any) -> None:
    refusal = refused(prepared("whole_input", raw))

    if not isinstance(raw, Mapping):
        assert refusal.field == "input"


@fuzz("near_valid", 1_200)
@given(raw=near_valid_inputs())
@example(raw=VALID)
@example(raw={**VALID, "targetVersion": None, "publish": True, "alarms": ["no-such-alarm"]})
def test_any_mix_of_fields_prepares_or_names_a_field(raw: dict[str, Any]) -> None:
    outcome = prepared("near_valid", raw)

    if isinstance(outcome, InvalidInput):
        assert root_of(outcome.field) in FIELDS


def _acceptable(name: str, value: Any) -> bool:
    """Whether `value` is a valid value of `name` in the fakes' world."""
    if name == "functionName":
        return value in (FUNCTION, LOCAL_ARN)
    if name == "alias":
        return value == ALIAS
    if name == "targetVersion":
        return value == TARGET or (type(value) is int and str(value) == TARGET)
    if name == "publish":
        return value is False
    if name == "alarms":
        return (
            type(value) is list
            and len(set(value)) == len(value)
            and all(a in EXISTING_ALARMS for a in value)
        )
    if name == "pollIntervalSeconds":
        return (type(value) is int or type(value) is float) and (
            float(value).is_integer() and 1 <= value <= MAX_TOTAL_BAKE_SECONDS
        )
    return isinstance(value, str | Mapping)  # strategy: plan() decides the rest


@fuzz("one_field", 1_500)
@given(case=one_field_replaced())
@example(case=("alarms", [f"alarm-{i}" for i in range(10_000)], None))
@example(case=("alias", "live\n", None))
@example(case=("functionName", "orders-api\n", None))
@example(case=("targetVersion", "2\n", None))
@example(case=("targetVersion", int("9" * 4300), None))
@example(case=("pollIntervalSeconds", True, None))
@example(case=("pollIntervalSeconds", "30", None))
@example(case=("pollIntervalSeconds", 10**400, None))
@example(case=("publish", "false", None))
@example(case=("alias", "\ud800" * QUARTER_MB, None))
@example(case=("functionName", [[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]], None))
def test_a_hostile_value_in_one_field_is_refused_under_that_field(
    case: tuple[str, Any, dict[str, Any] | None],
) -> None:
    # Given the valid request with one field replaced by a hostile value
    name, value, raw = case
    raw = raw if raw is not None else {**VALID, name: value}
    # When Prepare runs
    outcome = prepared("one_field", raw)
    # Then it is refused under that field, unless the value is a valid one
    if isinstance(outcome, InvalidInput):
        expected = "targetVersion" if name == "publish" and value is True else name
        assert root_of(outcome.field) == expected
    else:
        assert _acceptable(name, value), f"{name}={value!r:.200} was accepted"


@fuzz("arns", 300)
@given(arn=function_arns())
@example(arn="arn:aws:lambda:us-east-1:210987654321:function:orders-api")
@example(arn="arn:aws-cn:lambda:us-east-1:123456789012:function:orders-api")
@example(arn="arn:aws:lambda:eu-west-1:123456789012:function:orders-api")
@example(arn="arn:aws:lambda:us-east-1:123456789012:function:orders-api:live")
def test_only_the_unqualified_arn_of_this_account_and_region_is_accepted(arn: str) -> None:
    outcome = prepared("arns", {**VALID, "functionName": arn})

    if arn == LOCAL_ARN:
        assert isinstance(outcome, dict)
    else:
        assert refused(outcome).field == "functionName"


@fuzz("extra_fields", 300)
@given(raw=extra_fields())
def test_an_unknown_field_is_refused_by_its_name(raw: dict[str, Any]) -> None:
    refusal = refused(prepared("extra_fields", raw))

    assert refusal.field not in FIELDS


@fuzz("missing_fields", 60)
@given(raw=missing_fields())
def test_a_missing_required_field_is_refused_by_its_name(raw: dict[str, Any]) -> None:
    outcome = prepared("missing_fields", raw)

    required = {"functionName", "alias", "strategy", "targetVersion"}
    if required <= raw.keys():
        assert isinstance(outcome, dict)
    else:
        assert refused(outcome).field in required - raw.keys()


# --- strategies and the limits of Step Functions ------------------------------------------


@fuzz("strategy_objects", 1_200)
@given(strategy=strategy_objects())
@example(strategy={"type": "steps", "steps": [{"percent": 1, "bakeSeconds": 1}] * 10_000})
@example(
    strategy={
        "type": "exponential",
        "startPercent": 1,
        "growthFactor": 10**400,
        "intervalSeconds": 60,
    }
)
@example(strategy={"type": "canary", "percent": 10, "bakeSeconds": 10**400})
@example(strategy={"type": "canary", "percent": "10", "bakeSeconds": 60})
@example(strategy={"type": "linear", "percent": True, "intervalSeconds": 60})
@example(strategy={"type": "canary", "percent": math.nan, "bakeSeconds": math.inf})
@example(strategy={"type": "canary", "percent": -0.0, "bakeSeconds": 1e308})
def test_a_hostile_strategy_object_is_refused_under_strategy(strategy: Any) -> None:
    outcome = prepared("strategy_objects", {**VALID, "strategy": strategy})

    if isinstance(outcome, InvalidInput):
        assert root_of(outcome.field) == "strategy"


@fuzz("schedules", 800)
@given(strategy=schedules(), poll=st.integers(min_value=1, max_value=7 * 86_400))
@example(strategy={"type": "canary", "percent": 10, "bakeSeconds": 30 * 86_400}, poll=1)
@example(strategy={"type": "linear", "percent": 0.01, "intervalSeconds": 60}, poll=1)
@example(strategy={"type": "canary", "percent": 10, "bakeSeconds": 7 * 86_400}, poll=1)
@example(strategy={"type": "linear", "percent": 1, "intervalSeconds": 6_000}, poll=1)
@example(
    strategy={
        "type": "steps",
        "steps": [{"percent": (i + 1) / 100, "bakeSeconds": 1} for i in range(10_000)],
    },
    poll=1,
)
def test_a_schedule_beyond_step_functions_limits_is_refused_at_validation(
    strategy: dict[str, Any], poll: int
) -> None:
    # Given a well-formed strategy of up to 10,000 steps and 30 days, polled every `poll` s
    raw = {**VALID, "strategy": strategy, "pollIntervalSeconds": poll}
    # When Prepare runs
    outcome = prepared("schedules", raw)
    # Then it is refused under strategy, or (checked in `prepared`) its execution fits in
    # MAX_STEPS steps, 7 days, MAX_POLLS polls and Step Functions' 25,000 history events
    if isinstance(outcome, InvalidInput):
        assert root_of(outcome.field) == "strategy"


def test_history_of_the_largest_accepted_plan_fits_step_functions() -> None:
    # Every loop (bake, extension, pause, gate) draws on one budget carried in the state
    # (domain.budget); what no Check counts (the once-only states and their retries, the
    # upload's WaitForCode share, a SetWeight a step) leaves room for the polls of the
    # largest plan. Run to its end, with every loop, in
    # tests/unit/test_history_budget.py (the largest accepted input, within all three limits).
    fixed = budget.fixed_events(MAX_STEPS)
    polls = budget.events_left(fixed, MAX_STEPS - 1) // budget.GATE_POLL_EVENTS
    assert polls >= 1_000  # a thousand of the dearest polls, whatever the plan
    assert budget.BUDGET_EVENTS <= HISTORY_LIMIT - 2_500


def _gates_acceptable(field: str, value: Any) -> bool:
    """Whether `value` is valid for the gates' field `field` (approval or hooks)."""
    if field == "approval":
        if value is None or type(value) is bool:
            return True
        timeout = value.get("timeoutSeconds", 1) if isinstance(value, Mapping) else None
        return (
            isinstance(value, Mapping)
            and set(value) <= {"timeoutSeconds"}
            and type(timeout) is int
            and 1 <= timeout <= APPROVAL_MAX_TIMEOUT_SECONDS
        )
    if value is None:
        return True
    if not isinstance(value, Mapping) or not set(value) <= {
        "preTraffic",
        "postTraffic",
        "timeoutSeconds",
    }:
        return False
    timeout = value.get("timeoutSeconds", 1)
    names = [value[k] for k in ("preTraffic", "postTraffic") if value.get(k) is not None]
    return (
        type(timeout) is int
        and 1 <= timeout <= 840
        and all(isinstance(n, str) and n.startswith("CodeDeployHook_") for n in names)
    )


def _gate_values() -> st.SearchStrategy[tuple[str, Any]]:
    nested = st.one_of(hostile_values(), st.integers(), st.sampled_from(["CodeDeployHook_ok"]))
    approval = st.one_of(
        hostile_values(),
        st.fixed_dictionaries({}, optional={"timeoutSeconds": nested, "timeout": nested}),
    )
    hooks = st.one_of(
        hostile_values(),
        st.fixed_dictionaries(
            {},
            optional={
                "preTraffic": st.one_of(nested, function_arns()),
                "postTraffic": nested,
                "timeoutSeconds": nested,
            },
        ),
    )
    return st.one_of(st.tuples(st.just("approval"), approval), st.tuples(st.just("hooks"), hooks))


@fuzz("gates", 600)
@given(case=_gate_values())
@example(case=("approval", {"timeoutSeconds": float("nan")}))
@example(case=("approval", {"timeoutSeconds": 10**400}))
@example(case=("hooks", {"preTraffic": "CodeDeployHook_x\n"}))
@example(case=("hooks", {"preTraffic": "../../CodeDeployHook_x"}))
@example(case=("hooks", {"postTraffic": "arn:aws:lambda:us-east-1:210987654321:function:x"}))
@example(case=("hooks", {"preTraffic": "CodeDeployHook_" + "x" * 100_000}))
def test_a_hostile_approval_or_hooks_is_refused_under_that_field(
    case: tuple[str, Any],
) -> None:
    # Given the valid request with a hostile approval gate or hooks
    field, value = case
    # When Prepare runs (the default hook names: CodeDeployHook_*, TrafficShiftHook*)
    outcome = prepared("gates", {**VALID, field: value})
    # Then it is refused under that field, unless the value is a valid one
    if isinstance(outcome, InvalidInput):
        assert root_of(outcome.field) == field
    else:
        assert _gates_acceptable(field, value), f"{field}={value!r:.200} was accepted"


# --- the count, for the record ------------------------------------------------------------


def test_every_fuzz_test_that_ran_tried_its_whole_budget(
    record_property: Callable[[str, object], None],
) -> None:
    # Runs last in this module (pytest keeps file order; xdist's loadfile keeps it whole).
    ran = {name: FUZZED[name] for name in BUDGET if FUZZED[name]}
    if not ran:
        pytest.skip("no fuzz test ran in this process")
    for name, count in ran.items():
        assert count >= BUDGET[name], f"{name}: {count} of {BUDGET[name]} inputs"
    # The run's log shows the count (tests/conftest.py prints each "summary").
    each = ", ".join(f"{name} {count}" for name, count in ran.items())
    record_property(
        "summary",
        f"fuzz: {sum(ran.values())} hostile inputs through Prepare, "
        f"{sum(PREPARED.values())} of them valid ({each})",
    )
