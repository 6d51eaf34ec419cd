"""The rollout's decisions as pure functions: preflight, routing, verdicts, revert."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.domain import rollout as domain
from rollout.domain.errors import InvalidInput, PreflightFailed
from rollout.domain.request import parse_request
from rollout.domain.rollout import (
    AlarmState,
    AliasSnapshot,
    Decision,
    Health,
    RevertAction,
    RolloutState,
    VersionInfo,
)

T0 = 1_800_000_000.0
ROLE = "arn:aws:iam::123456789012:role/orders"


def _parsed(**overrides: Any):
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "strategy": {
            "type": "steps",
            "steps": [{"percent": 0.5, "bakeSeconds": 60}, {"percent": 10, "bakeSeconds": 0}],
        },
        "alarms": ["errors"],
        "pollIntervalSeconds": 20,
    }
    raw.update(overrides)
    return parse_request(raw)


def _state(**overrides: Any) -> RolloutState:
    return domain.preflight(
        _parsed(**overrides),
        alias=AliasSnapshot(function_version="6", revision_id="r1"),
        target=VersionInfo(version="7", role=ROLE),
        stable=VersionInfo(version="6", role=ROLE),
        alarms={"errors": AlarmState(name="errors", state="OK")},
        execution_id="arn:exec",
        now=T0,
    )


def _shifted(state: RolloutState, *, now: float = T0) -> RolloutState:
    index, _, _ = domain.next_routing(state)
    return domain.begin_step(state, index, f"r{index + 2}", now)


def test_preflight_records_stable_target_plan_and_revision() -> None:
    state = _state()

    assert state.deployment.stable_version == "6"
    assert state.deployment.target_version == "7"
    assert state.deployment.plan == [
        {"percent": 0.5, "bakeSeconds": 60},
        {"percent": 10, "bakeSeconds": 0},
        {"percent": 100, "bakeSeconds": 0},
    ]
    assert state.cursor.revision_id == "r1"
    assert state.cursor.step_index == -1


def test_preflight_refuses_target_equal_to_stable() -> None:
    with pytest.raises(InvalidInput) as caught:
        domain.preflight(
            _parsed(targetVersion="6"),
            alias=AliasSnapshot(function_version="6", revision_id="r1"),
            target=VersionInfo(version="6", role=ROLE),
            stable=VersionInfo(version="6", role=ROLE),
            alarms={"errors": AlarmState(name="errors", state="OK")},
            execution_id="x",
            now=T0,
        )
    assert caught.value.field == "targetVersion"
    assert "already serves" in caught.value.problem


@pytest.mark.parametrize(
    ("alarms", "error"),
    [
        ({}, InvalidInput),
        ({"errors": AlarmState(name="errors", state="ALARM", reason="3 errors")}, PreflightFailed),
    ],
)
def test_preflight_refuses_missing_or_firing_alarm(alarms: dict, error: type) -> None:
    with pytest.raises(error, match="errors"):
        domain.preflight(
            _parsed(),
            alias=AliasSnapshot(function_version="6", revision_id="r1"),
            target=VersionInfo(version="7", role=ROLE),
            stable=VersionInfo(version="6", role=ROLE),
            alarms=alarms,
            execution_id="x",
            now=T0,
        )


def test_preflight_refuses_an_alias_already_split_between_two_versions() -> None:
    with pytest.raises(PreflightFailed, match="already splits"):
        domain.preflight(
            _parsed(),
            alias=AliasSnapshot(
                function_version="6", additional_weights={"5": 0.1}, revision_id="r"
            ),
            target=VersionInfo(version="7", role=ROLE),
            stable=VersionInfo(version="6", role=ROLE),
            alarms={"errors": AlarmState(name="errors", state="OK")},
            execution_id="x",
            now=T0,
        )


def test_preflight_refuses_versions_with_different_roles() -> None:
    with pytest.raises(InvalidInput, match="role"):
        domain.preflight(
            _parsed(),
            alias=AliasSnapshot(function_version="6", revision_id="r"),
            target=VersionInfo(version="7", role=ROLE + "-other"),
            stable=VersionInfo(version="6", role=ROLE),
            alarms={"errors": AlarmState(name="errors", state="OK")},
            execution_id="x",
            now=T0,
        )


def test_routing_sequence_keeps_stable_primary_until_100_percent() -> None:
    state = _state()
    routings = []
    for _ in state.deployment.plan:
        index, primary, additional = domain.next_routing(state)
        routings.append((primary, additional))
        state = domain.begin_step(state, index, "r", T0)

    assert routings == [("6", {"7": 0.005}), ("6", {"7": 0.1}), ("7", {})]


def test_begin_step_waits_the_poll_interval_or_the_bake_if_shorter() -> None:
    state = _shifted(_state())
    assert state.cursor.wait_seconds == 20  # bake 60, poll 20

    state = _shifted(state)
    assert state.cursor.wait_seconds == 0  # bake 0


def test_check_continues_while_the_bake_lasts_and_waits_at_most_the_remainder() -> None:
    state = _shifted(_state())

    judged = domain.judge(
        state, Health(alarms={"errors": AlarmState(name="errors", state="OK")}), T0 + 50
    )

    assert judged.cursor.decision == Decision.CONTINUE
    assert judged.cursor.wait_seconds == 10
    assert judged.steps[-1].decision == Decision.BAKING


def test_check_advances_when_the_bake_is_over() -> None:
    state = _shifted(_state())

    judged = domain.judge(
        state, Health(alarms={"errors": AlarmState(name="errors", state="OK")}), T0 + 60
    )

    assert judged.cursor.decision == Decision.ADVANCE
    assert judged.steps[-1].decision == Decision.ADVANCE


def test_check_promotes_after_the_last_step() -> None:
    state = _state()
    for _ in state.deployment.plan:
        state = _shifted(state)

    judged = domain.judge(
        state, Health(alarms={"errors": AlarmState(name="errors", state="OK")}), T0
    )

    assert judged.cursor.decision == Decision.PROMOTE


def test_alarm_in_alarm_state_fails_the_check_naming_alarm_step_and_weight() -> None:
    state = _shifted(_state())
    health = Health(alarms={"errors": AlarmState(name="errors", state="ALARM", reason="5 > 1")})

    judged = domain.judge(state, health, T0 + 1)

    assert judged.cursor.decision == Decision.FAIL
    assert judged.cursor.reason == "alarm errors in ALARM (5 > 1) at step 1/3 (weight 0.5%)"


def test_alarm_deleted_mid_rollout_fails_the_check() -> None:
    judged = domain.judge(_shifted(_state()), Health(alarms={}), T0 + 1)

    assert judged.cursor.decision == Decision.FAIL
    assert "no longer exists" in judged.cursor.reason


def test_insufficient_data_does_not_fail_a_check() -> None:
    health = Health(alarms={"errors": AlarmState(name="errors", state="INSUFFICIENT_DATA")})

    judged = domain.judge(_shifted(_state()), health, T0 + 1)

    assert judged.cursor.decision == Decision.CONTINUE


@pytest.mark.parametrize(
    ("primary", "additional", "action"),
    [
        ("6", {"7": 0.1}, RevertAction.RESTORE),
        ("7", {}, RevertAction.RESTORE),
        ("6", {}, RevertAction.NOTHING),
        ("8", {}, RevertAction.FOREIGN),
        ("6", {"8": 0.2}, RevertAction.FOREIGN),
    ],
)
def test_revert_touches_only_an_alias_routed_to_our_pair(
    primary: str, additional: dict, action: RevertAction
) -> None:
    alias = AliasSnapshot(function_version=primary, additional_weights=additional, revision_id="r")

    assert domain.revert_action(_state().deployment, alias) is action


def test_rolled_back_cause_says_why_where_and_what_serves_now() -> None:
    state = domain.judge(
        _shifted(_state()),
        Health(alarms={"errors": AlarmState(name="errors", state="ALARM")}),
        T0,
    )
    failure = domain.rolled_back(
        state,
        RevertAction.RESTORE,
        AliasSnapshot(function_version="6", revision_id="r"),
        domain.failure_reason(state.wire()),
    )

    assert failure.error == "DeploymentRolledBack"
    assert failure.cause == (
        "Rolled back orders-api:live to version 6: alarm errors in ALARM at step 1/3 "
        "(weight 0.5%). Before the revert, version 7 had reached 0.5% of traffic; "
        "now version 6 serves 100%."
    )


@pytest.mark.parametrize(
    ("found", "share"),
    [
        (
            AliasSnapshot(function_version="6", additional_weights={"7": 0.1}, revision_id="r"),
            "10%",
        ),
        (AliasSnapshot(function_version="7", revision_id="r"), "100%"),
        (
            AliasSnapshot(function_version="7", additional_weights={"6": 0.25}, revision_id="r"),
            "75%",
        ),
    ],
)
def test_the_cause_says_what_the_revert_found_not_what_the_state_remembers(
    found: AliasSnapshot, share: str
) -> None:
    # A task that crashed after its UpdateAlias leaves a state one step behind the alias.
    state = _shifted(_state())  # the state says 0.5%

    failure = domain.rolled_back(
        state,
        RevertAction.RESTORE,
        AliasSnapshot(function_version="6", revision_id="r2"),
        ("Runtime.ExitError", "the runtime exited"),
        found=found,
    )

    assert f"Before the revert, version 7 had reached {share} of traffic" in failure.cause


def test_refusal_keeps_the_invalid_input_error_and_its_message() -> None:
    caught = {
        "error": {
            "Error": "InvalidInput",
            "Cause": '{"errorType": "InvalidInput", "errorMessage": "alias: bad. Fix: x"}',
        }
    }

    failure = domain.refusal(caught)

    assert (failure.error, failure.cause) == ("InvalidInput", "alias: bad. Fix: x")


def test_unexpected_error_before_any_shift_is_reported_as_deployment_failed() -> None:
    failure = domain.refusal({"error": {"Error": "KeyError", "Cause": "boom"}})

    assert failure.error == "DeploymentFailed"
    assert "KeyError" in failure.cause


# --- the analysis and the operator in the verdict ------------------------------------


def _analysed(**analysis: Any) -> RolloutState:
    state = _shifted(_state(analysis=analysis or {}))
    assert state.deployment.analysis is not None
    return state


def _ok() -> dict[str, AlarmState]:
    return {"errors": AlarmState(name="errors", state="OK")}


def test_failing_analysis_reverts_at_once_with_its_reason() -> None:
    view = domain.AnalysisView(outcome="fail", reason="new version 7: 9 errors in 20")

    judged = domain.judge(_analysed(), Health(alarms=_ok(), analysis=view), T0 + 1)

    assert judged.cursor.decision == Decision.FAIL
    assert judged.cursor.reason == "new version 7: 9 errors in 20 at step 1/3 (weight 0.5%)"


def test_undecided_analysis_extends_the_bake_instead_of_advancing() -> None:
    view = domain.AnalysisView(outcome="undecided", reason="not enough evidence")

    judged = domain.judge(
        _analysed(maxExtensionSeconds=100), Health(alarms=_ok(), analysis=view), T0 + 60
    )

    assert judged.cursor.decision == Decision.CONTINUE
    assert "bake extended" in judged.cursor.reason


@pytest.mark.parametrize(
    ("policy", "decision"), [("rollback", Decision.FAIL), ("promote", Decision.ADVANCE)]
)
def test_still_undecided_after_the_extension_follows_the_policy(
    policy: str, decision: Decision
) -> None:
    view = domain.AnalysisView(outcome="undecided", reason="not enough evidence")
    state = _analysed(maxExtensionSeconds=100, onInconclusive=policy, settleSeconds=0)

    judged = domain.judge(state, Health(alarms=_ok(), analysis=view), T0 + 60 + 100)

    assert judged.cursor.decision == decision
    assert f"onInconclusive={policy}" in judged.cursor.reason


def test_passing_analysis_advances_when_the_bake_is_over_and_records_its_numbers() -> None:
    view = domain.AnalysisView(outcome="pass", reason="ruled out", numbers={"newInvocations": 500})

    judged = domain.judge(_analysed(), Health(alarms=_ok(), analysis=view), T0 + 60)

    assert judged.cursor.decision == Decision.ADVANCE
    assert judged.steps[-1].analysis == {"newInvocations": 500}


def test_passing_analysis_does_not_shorten_the_bake() -> None:
    view = domain.AnalysisView(outcome="pass", reason="ruled out")

    judged = domain.judge(_analysed(), Health(alarms=_ok(), analysis=view), T0 + 10)

    assert judged.cursor.decision == Decision.CONTINUE


def test_analysis_off_in_the_input_leaves_no_config_in_the_deployment() -> None:
    assert _state(analysis={"enabled": False}).deployment.analysis is None


@pytest.mark.parametrize(
    ("action", "decision"),
    [("abort", Decision.FAIL), ("promote", Decision.PROMOTE), ("paused", Decision.CONTINUE)],
)
def test_operator_directives_abort_promote_now_or_hold(action: str, decision: Decision) -> None:
    operator = domain.OperatorDirective(action=action, by="alice")

    judged = domain.judge(_shifted(_state()), Health(alarms=_ok(), operator=operator), T0 + 60)

    assert judged.cursor.decision == decision
    assert "alice" in judged.cursor.reason


def test_paused_time_stops_the_bake_clock() -> None:
    operator = domain.OperatorDirective(paused_seconds=30)

    judged = domain.judge(_shifted(_state()), Health(alarms=_ok(), operator=operator), T0 + 60)

    assert judged.cursor.decision == Decision.CONTINUE  # 60 s bake + 30 s paused
    assert judged.cursor.wait_seconds == 20


def test_an_undecided_step_waits_the_settle_delay_beyond_its_extension_for_its_last_minutes() -> (
    None
):
    # Given a step whose bake ended 100 s ago, with a 100 s extension and a 30 s settle delay
    view = domain.AnalysisView(outcome="undecided", reason="not enough evidence")
    state = _analysed(maxExtensionSeconds=100, settleSeconds=30)

    # Then the bake's last minutes are still awaited, and judged when they settle
    waiting = domain.judge(state, Health(alarms=_ok(), analysis=view), T0 + 60 + 100)
    over = domain.judge(state, Health(alarms=_ok(), analysis=view), T0 + 60 + 130)

    assert waiting.cursor.decision == Decision.CONTINUE
    assert "bake extended" in waiting.cursor.reason
    assert over.cursor.decision == Decision.FAIL
