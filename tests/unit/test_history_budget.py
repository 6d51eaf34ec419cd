"""The history budget, the stretched waits, the pause policy, the timeout check and the caps
(issue 11.2): every input validation accepts stays within Step Functions' 25,000 history
events, 256 KiB of state and 32,768 characters of Cause.

`run` drives the domain exactly as the state machine does (Check, then Bake, AwaitApproval
or SetWeight), counting each state's events as the synthesized definition writes them
(pinned in tests/infra/test_history_budget_definition.py)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from rollout.domain import budget
from rollout.domain import rollout as domain
from rollout.domain.analysis import AnalysisConfig
from rollout.domain.errors import InvalidInput
from rollout.domain.request import RESERVED_SECONDS, check_fits_timeout, parse_request
from rollout.domain.rollout import (
    AlarmState,
    AliasSnapshot,
    AnalysisView,
    Decision,
    Health,
    OperatorDirective,
    RolloutState,
    VersionInfo,
)

T0 = 1_800_000_000.0
WEEK = 7 * 86400
TIMEOUT = domain.DEFAULT_STATE_MACHINE_TIMEOUT_SECONDS
STATE_LIMIT = 256 * 1024


def _state(alarms: int = 0, **request: Any) -> RolloutState:
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "strategy": "Canary10Percent5Minutes",
    }
    raw |= {"alarms": [f"alarm-{i:03d}-" + "n" * 240 for i in range(alarms)], **request}
    parsed = parse_request(raw)
    check_fits_timeout(parsed, TIMEOUT)
    names = {n: AlarmState(name=n, state="OK") for n in parsed.request.alarms}
    state = domain.preflight(
        parsed,
        alias=AliasSnapshot(function_version="6", revision_id="r1"),
        target=VersionInfo(version="7"),
        stable=VersionInfo(version="6"),
        alarms=names,
        execution_id="arn:aws:states:us-east-1:123456789012:execution:sm:x",
        now=T0,
        deadline=T0 + TIMEOUT,
    )
    return domain.begin_step(state, 0, "r2", T0)


def run(
    state: RolloutState,
    *,
    analysis: AnalysisView | None = None,
    paused_from: float | None = None,
    firing_at: float | None = None,
) -> tuple[RolloutState, float, int]:
    """Run to the end; returns the last state, the time, and the events counted."""
    now, events = T0, budget.fixed_events(len(state.deployment.plan))
    while True:
        after_gate = state.cursor.decision is Decision.APPROVE
        events += budget.poll_events(after_gate)
        paused = paused_from is not None and now >= paused_from
        operator = OperatorDirective(
            action="paused" if paused else "proceed",
            by="carol",
            paused_seconds=now - paused_from if paused and paused_from is not None else 0.0,
        )
        alarms = {
            name: AlarmState(
                name=name,
                state="ALARM" if firing_at is not None and now >= firing_at else "OK",
                reason="r" * 1_023,
            )
            for name in state.deployment.alarms
        }
        view = analysis if state.deployment.analysis is not None else None
        state = domain.judge(state, Health(alarms=alarms, analysis=view, operator=operator), now)
        decision = state.cursor.decision
        if decision in (Decision.CONTINUE, Decision.APPROVE):
            now += state.cursor.wait_seconds
        elif decision is Decision.ADVANCE:
            state = domain.begin_step(state, state.cursor.step_index + 1, "r", now)
        else:
            return state, now, events


UNDECIDED = AnalysisView(outcome="undecided", reason="too few requests", numbers={})


@pytest.mark.parametrize(
    "request_",
    [
        # the measurements on main: 36,400 and 25,200 events
        {
            "strategy": {"type": "linear", "percent": 1, "intervalSeconds": 600},
            "analysis": {"onInconclusive": "promote"},
        },
        {
            "strategy": "Canary10Percent5Minutes",
            "analysis": {"onInconclusive": "promote", "maxExtensionSeconds": 86400},
        },
    ],
)
def test_an_undecided_plan_that_used_to_exceed_the_history_ends_within_it(
    request_: dict[str, Any],
) -> None:
    state, _, events = run(_state(**request_), analysis=UNDECIDED)

    assert state.cursor.decision is Decision.PROMOTE
    assert events == state.history_events <= budget.BUDGET_EVENTS


def test_a_week_long_pause_at_the_default_poll_ends_by_the_pause_policy() -> None:
    # Given a canary paused in its bake at the default 30 s poll, never resumed
    state, now, events = run(_state(strategy="Canary10Percent30Minutes"), paused_from=T0 + 60)
    # Then the pause holds more than a week, then reverts naming the policy
    assert state.cursor.decision is Decision.FAIL
    assert "longer than this execution can wait" in state.cursor.reason
    assert T0 + WEEK < now < T0 + TIMEOUT - domain.PAUSE_END_MARGIN_SECONDS
    assert events <= budget.BUDGET_EVENTS


def test_the_largest_accepted_input_stays_within_all_three_limits() -> None:
    # Given 100 steps baking almost all the timeout leaves, an analysis that never decides
    # (the extension every step), an approval gate nobody answers for long, both hooks, and
    # 100 alarms whose 1,023-character reasons all fire at the end
    settle = int(getattr(AnalysisConfig(), "settle_seconds", 0))
    room = TIMEOUT - RESERVED_SECONDS - 100 * (60 + settle) - 86400 - 2 * 840
    strategy = {"type": "linear", "percent": 1, "intervalSeconds": room // 99}
    request = {
        "strategy": strategy,
        "analysis": {"maxExtensionSeconds": 60, "onInconclusive": "promote"},
        "approval": {"timeoutSeconds": 86400},
        "hooks": {
            "preTraffic": "CodeDeployHook_a",
            "postTraffic": "CodeDeployHook_b",
            "timeoutSeconds": 840,
        },
    }
    start = _state(alarms=100, **request)
    assert len(start.deployment.plan) == 100
    big = AnalysisView(
        outcome="undecided", reason="u" * 400, numbers={f"n{i}": 1.5 for i in range(12)}
    )
    state, _, events = run(start, analysis=big, firing_at=T0 + room + 3600)
    # Then: the history (counted), the state (as JSON, UTF-8) and the Cause all fit
    failure = domain.rolled_back(
        state,
        domain.RevertAction.RESTORE,
        AliasSnapshot(function_version="6", revision_id="r"),
        domain.failure_reason(state.wire()),
    )
    payload = len(json.dumps({**state.wire(), "failure": failure.wire()}).encode())
    print(
        f"largest input: {events} history events, {payload} bytes of state, "
        f"{len(failure.cause)} characters of Cause"
    )
    assert events <= budget.BUDGET_EVENTS < budget.HISTORY_LIMIT
    assert payload < STATE_LIMIT
    assert len(failure.cause) <= domain.MAX_CAUSE < 32_768
    assert state.cursor.decision is Decision.FAIL
    assert "alarm" in failure.cause


def test_100_firing_alarms_keep_a_short_reason_naming_how_many_more() -> None:
    state = _state(alarms=100)
    alarms = {
        n: AlarmState(name=n, state="ALARM", reason="r" * 1_023) for n in state.deployment.alarms
    }

    judged = domain.judge(state, Health(alarms=alarms), T0 + 1)

    assert judged.cursor.decision is Decision.FAIL
    assert len(judged.cursor.reason) <= domain.MAX_REASON
    assert "more alarms in ALARM" in judged.cursor.reason
    assert len(judged.steps[-1].reason) <= domain.MAX_STEP_REASON
    assert len(AlarmState(name="a", state="ALARM", reason="r" * 1_023).reason) <= 1_000


def test_every_cause_is_capped_and_says_so() -> None:
    failure = domain.Failure(error="X", cause="c" * 50_000)

    assert len(failure.cause) == domain.MAX_CAUSE
    assert failure.cause.endswith("[... cut: 50000 characters in all]")


def test_a_plan_that_cannot_finish_before_the_timeout_is_refused_naming_the_fields() -> None:
    parsed = parse_request(
        {
            "functionName": "orders-api",
            "alias": "live",
            "targetVersion": "7",
            "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 6 * 86400},
            "approval": {"timeoutSeconds": 2 * 86400},
        }
    )

    with pytest.raises(InvalidInput) as refused:
        check_fits_timeout(parsed, TIMEOUT)

    assert refused.value.field == "strategy"
    for field in ("strategy", "analysis.maxExtensionSeconds", "approval.timeoutSeconds"):
        assert field in str(refused.value)
    check_fits_timeout(parsed, 10 * 86400)  # a longer state_machine_timeout fits it


def test_waits_stretch_only_when_the_events_left_cannot_cover_the_time() -> None:
    roomy = budget.stretched_wait(
        30, bake_seconds=300, gate_seconds=0, left=20_000, phase_seconds=300
    )
    tight = budget.stretched_wait(
        30, bake_seconds=WEEK, gate_seconds=0, left=900, phase_seconds=WEEK
    )
    spent = budget.stretched_wait(30, bake_seconds=WEEK, gate_seconds=0, left=5, phase_seconds=WEEK)

    assert roomy == 30
    assert tight is not None
    assert tight * (900 - 9) / 9 >= WEEK
    assert spent is None


def test_a_resume_is_seen_within_the_poll_or_a_twentieth_of_the_pause() -> None:
    # Given a canary paused in its bake at the default 30 s poll
    state = _state(strategy="Canary10Percent30Minutes")
    paused_from = T0 + 60
    for age in (0.0, 60.0, 600.0, 3600.0, 86400.0):
        now = paused_from + age
        operator = OperatorDirective(action="paused", by="carol", paused_seconds=age)
        # When a Check finds it still paused
        judged = domain.judge(state, Health(operator=operator), now)
        # Then the next look comes within max(poll, 5% of the pause so far), not at the
        # pace of a pause that would last the execution's whole timeout (minutes apart)
        assert judged.cursor.decision is Decision.CONTINUE
        assert judged.cursor.wait_seconds <= max(30, math.ceil(0.05 * age)), age


def test_the_pause_looks_are_bounded_by_a_few_hundred_for_a_week() -> None:
    assert budget.pause_polls(30, 0, 7 * 86400) < 300
    assert budget.pause_polls(30, 0, 0) == 0
    assert budget.pause_polls(30, 0, 600) == 20
