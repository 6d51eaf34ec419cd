"""The approval gate and the traffic hooks: input, decisions and hook answers (pure + fakes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ledger_fake import InMemoryLedger, ListEvents

from rollout.application import check as check_task
from rollout.application import hooks as gate_tasks
from rollout.domain import budget, gates
from rollout.domain import rollout as domain
from rollout.domain.errors import HookFailed, InvalidInput
from rollout.domain.request import parse_request
from rollout.domain.rollout import (
    AlarmState,
    AliasSnapshot,
    Decision,
    Health,
    OperatorDirective,
    RolloutState,
    VersionInfo,
)

T0 = 1_800_000_000.0
ROLE = "arn:aws:iam::123456789012:role/orders"
EXEC = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"


def _raw(**overrides: Any) -> dict[str, Any]:
    return {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 60},
        "pollIntervalSeconds": 10,
        "analysis": {"enabled": False},
        **overrides,
    }


def _state(**overrides: Any) -> RolloutState:
    return domain.preflight(
        parse_request(_raw(**overrides)),
        alias=AliasSnapshot(function_version="6", revision_id="r1"),
        target=VersionInfo(version="7", role=ROLE),
        stable=VersionInfo(version="6", role=ROLE),
        alarms={"errors": AlarmState(name="errors", state="OK")},
        execution_id=EXEC,
        now=T0,
    )


def _at_canary(**overrides: Any) -> RolloutState:
    return domain.begin_step(_state(**overrides), 0, "r2", T0)


def _judge(state: RolloutState, now: float, **operator: Any) -> RolloutState:
    return domain.judge(state, Health(operator=OperatorDirective(**operator)), now)


# --- input -------------------------------------------------------------------------------


def test_approval_true_means_the_default_timeout_and_false_means_no_gate() -> None:
    assert parse_request(_raw(approval=True)).request.approval == gates.ApprovalConfig()
    assert parse_request(_raw(approval=False)).request.approval is None
    assert _state(approval=True).deployment.approval == {"timeoutSeconds": 86400}


@pytest.mark.parametrize(
    ("approval", "field"),
    [
        ({"timeoutSeconds": 0}, "approval.timeoutSeconds"),
        ({"timeoutSeconds": "3600"}, "approval.timeoutSeconds"),
        ({"timeoutSeconds": 8 * 86400}, "approval.timeoutSeconds"),
        ({"timeout": 60}, "approval.timeout"),
        ("yes", "approval"),
    ],
)
def test_a_bad_approval_is_refused_naming_the_field(approval: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_request(_raw(approval=approval))
    assert caught.value.field == field


def test_approval_with_a_plan_that_starts_at_100_percent_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_request(_raw(approval=True, strategy="AllAtOnce"))
    assert caught.value.field == "approval"
    assert "AllAtOnce" in caught.value.problem


@pytest.mark.parametrize(
    ("hooks", "field"),
    [
        ({"preTraffic": "../etc/passwd"}, "hooks.preTraffic"),
        ({"postTraffic": "a b"}, "hooks.postTraffic"),
        ({"preTraffic": "CodeDeployHook_x", "timeoutSeconds": 900}, "hooks.timeoutSeconds"),
        ({"preTraffic": "CodeDeployHook_x", "timeoutSeconds": True}, "hooks.timeoutSeconds"),
        ({"preTrafic": "CodeDeployHook_x"}, "hooks.preTrafic"),
    ],
)
def test_bad_hooks_are_refused_naming_the_field(hooks: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_request(_raw(hooks=hooks))
    assert caught.value.field == field


@pytest.mark.parametrize(
    "reference",
    [
        "CodeDeployHook_smoke",
        "CodeDeployHook_smoke:3",
        "arn:aws:lambda:us-east-1:123456789012:function:TrafficShiftHookOrders:live",
    ],
)
def test_hooks_named_as_the_construct_allows_pass_the_preflight(reference: str) -> None:
    gates.check_hooks_allowed(
        {"preTraffic": reference},
        gates.DEFAULT_HOOK_PATTERNS,
        region="us-east-1",
        account="123456789012",
    )


def test_a_hook_the_control_plane_may_not_invoke_is_refused_with_the_patterns() -> None:
    with pytest.raises(InvalidInput) as caught:
        gates.check_hooks_allowed(
            {"postTraffic": "payments-admin"},
            gates.DEFAULT_HOOK_PATTERNS,
            region=None,
            account=None,
        )
    assert caught.value.field == "hooks.postTraffic"
    assert "CodeDeployHook_*" in caught.value.problem


def test_a_hook_in_another_account_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        gates.check_hooks_allowed(
            {"preTraffic": "arn:aws:lambda:us-east-1:999999999999:function:CodeDeployHook_x"},
            gates.DEFAULT_HOOK_PATTERNS,
            region="us-east-1",
            account="123456789012",
        )
    assert "another account or region" in caught.value.problem


def test_hook_patterns_come_from_the_environment_or_default() -> None:
    assert gates.patterns_from_env(None) == gates.DEFAULT_HOOK_PATTERNS
    assert gates.patterns_from_env("a-*, b ,") == ("a-*", "b")
    assert gates.patterns_from_env("") == ()


# --- the gate's decisions ------------------------------------------------------------------


def test_without_approval_a_baked_step_advances() -> None:
    assert _judge(_at_canary(), T0 + 60).cursor.decision is Decision.ADVANCE


def test_a_baked_step_before_100_percent_waits_for_approval() -> None:
    judged = _judge(_at_canary(approval={"timeoutSeconds": 3600}), T0 + 60)

    assert judged.cursor.decision is Decision.APPROVE
    assert judged.cursor.approval_requested_at == T0 + 60
    # a token wait is one poll interval while the history budget has room
    assert judged.cursor.wait_seconds == 10
    assert "waiting for approval" in judged.cursor.reason
    assert judged.steps[-1].decision is Decision.APPROVE


def test_a_step_still_baking_does_not_open_the_gate() -> None:
    judged = _judge(_at_canary(approval=True), T0 + 30)

    assert judged.cursor.decision is Decision.CONTINUE
    assert judged.cursor.approval_requested_at == 0


def test_only_the_step_before_100_percent_has_a_gate() -> None:
    state = domain.begin_step(
        _state(approval=True, strategy={"type": "linear", "percent": 25, "intervalSeconds": 0}),
        0,
        "r2",
        T0,
    )

    assert _judge(state, T0 + 1).cursor.decision is Decision.ADVANCE  # 25% -> 50%: no gate


def test_an_approval_passes_the_gate_and_is_recorded() -> None:
    waiting = _judge(_at_canary(approval=True), T0 + 60)

    judged = _judge(waiting, T0 + 70, approved_by="alice")

    assert judged.cursor.decision is Decision.ADVANCE
    assert judged.cursor.approved_by == "alice"
    assert judged.cursor.reason.startswith("approved by alice")


def test_the_gate_reverts_once_the_approval_timeout_is_over() -> None:
    waiting = _judge(_at_canary(approval={"timeoutSeconds": 600}), T0 + 60)

    still = _judge(waiting, T0 + 60 + 599)
    over = _judge(still, T0 + 60 + 600)

    assert still.cursor.decision is Decision.APPROVE
    assert over.cursor.decision is Decision.FAIL
    assert "no approval within 600 s" in over.cursor.reason


def test_the_gate_wait_never_passes_the_approval_deadline() -> None:
    waiting = _judge(_at_canary(approval={"timeoutSeconds": 600}), T0 + 60)

    assert _judge(waiting, T0 + 60 + 595).cursor.wait_seconds == 5


def test_an_abort_or_an_alarm_at_the_gate_reverts() -> None:
    waiting = _judge(_at_canary(approval=True, alarms=["errors"]), T0 + 60)

    aborted = _judge(waiting, T0 + 70, action="abort", by="bob")
    alarmed = domain.judge(
        waiting,
        Health(alarms={"errors": AlarmState(name="errors", state="ALARM")}),
        T0 + 70,
    )

    assert aborted.cursor.decision is Decision.FAIL
    assert alarmed.cursor.decision is Decision.FAIL


def test_promote_now_skips_the_gate() -> None:
    judged = _judge(_at_canary(approval=True), T0 + 5, action="promote", by="carol")

    assert judged.cursor.decision is Decision.PROMOTE


@pytest.mark.parametrize(("timeout", "poll"), [(86400, 10), (7 * 86400, 1), (60, 30)])
def test_the_longest_gate_stretches_its_waits_to_end_within_the_history_budget(
    timeout: int, poll: int
) -> None:
    # Given a gate nobody answers, polled every `poll` seconds
    state = _at_canary(approval={"timeoutSeconds": timeout}, pollIntervalSeconds=poll)
    now = T0 + 60
    waits: list[int] = []
    # When Check runs after every token wait until the gate gives up
    while True:
        state = _judge(state, now)
        if state.cursor.decision is not Decision.APPROVE:
            break
        waits.append(state.cursor.wait_seconds)
        now += state.cursor.wait_seconds
    # Then no wait is shorter than the poll but the last (what is left of the timeout) ...
    assert min(waits[:-1]) >= poll
    # ... and it reverts for the timeout, not for the budget, within the history budget
    assert state.cursor.decision is Decision.FAIL
    assert "no approval within" in state.cursor.reason
    assert state.history_events <= budget.BUDGET_EVENTS


def test_a_token_answer_approves_and_names_the_approver() -> None:
    assert gates.token_approval({"approval": {"approvedBy": "ci-bot"}}) == "ci-bot"
    assert gates.token_approval({"approval": "ok"}) == "SendTaskSuccess"
    assert gates.token_approval({}) is None


def test_check_emits_awaiting_approval_once_then_approved_from_the_ledger() -> None:
    ledger, events = InMemoryLedger(), ListEvents()
    ledger.acquire_lock("orders-api", "live", EXEC, 3600, T0)
    state = _at_canary(approval=True)
    ledger.record_deployment_started(state.deployment, {}, T0)  # as Prepare did

    def check(state: RolloutState, now: float, raw: dict[str, Any] | None = None) -> RolloutState:
        out = check_task.check(
            state,
            approved_by_token=gates.token_approval({**state.wire(), **(raw or {})}),
            alarms=_NoAlarms(),
            ledger=ledger,
            events=events,
            now=now,
        )
        return RolloutState.model_validate(out)

    first = check(state, T0 + 60)
    second = check(first, T0 + 70)
    ledger.put_signal(EXEC, "approve", "dave", T0 + 75)
    third = check(second, T0 + 80)

    kinds = [e.detail_type.value for e in events.sent]
    assert (first.cursor.decision, second.cursor.decision) == (Decision.APPROVE,) * 2
    assert third.cursor.decision is Decision.ADVANCE
    assert kinds == ["Deployment Awaiting Approval", "Deployment Approved"]
    assert "dave" in events.sent[-1].reason


def test_check_takes_the_gate_tokens_answer_as_approval() -> None:
    ledger = InMemoryLedger()
    ledger.acquire_lock("orders-api", "live", EXEC, 3600, T0)
    waiting = _judge(_at_canary(approval=True), T0 + 60)

    answered = {**waiting.wire(), "approval": {"approvedBy": "eve"}}  # SendTaskSuccess's output
    out = check_task.check(
        waiting,
        approved_by_token=gates.token_approval(answered),
        alarms=_NoAlarms(),
        ledger=ledger,
        events=ListEvents(),
        now=T0 + 65,
    ).wire()

    assert out["cursor"]["decision"] == "advance"
    assert out["cursor"]["approvedBy"] == "eve"


class _NoAlarms:
    def states(self, names: Any) -> dict[str, AlarmState]:
        return {}


# --- hooks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "payload", "passed"),
    [
        (None, b"null", True),
        (None, b"", True),
        (None, b'{"status": "Succeeded"}', True),
        (None, b'{"status": "SUCCEEDED"}', True),
        (None, b'"fine"', True),
        (None, b'{"status": "Failed", "reason": "500 on /health"}', False),
        (None, b'{"status": "skipped"}', False),
        ("Unhandled", b'{"errorType": "AssertionError", "errorMessage": "bad"}', False),
        ("Unhandled", b"not json", False),
    ],
)
def test_a_hook_passes_unless_it_raised_or_answered_a_status_other_than_succeeded(
    error: str | None, payload: bytes, passed: bool
) -> None:
    assert gates.hook_verdict(error, payload)[0] is passed


def test_a_failed_hooks_reason_carries_its_message() -> None:
    _, why = gates.hook_verdict("Unhandled", b'{"errorType": "E", "errorMessage": "db down"}')
    assert why == "raised E: db down"


class _Hooks:
    def __init__(self, answer: bytes = b"null", error: str | None = None) -> None:
        self.answer, self.error = answer, error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, reference: str, context: dict[str, Any]) -> tuple[str | None, bytes]:
        self.calls.append((reference, context))
        return self.error, self.answer


class _Functions:
    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, float], str]] = []

    def update_alias(self, function_name: str, alias: str, **kw: Any) -> AliasSnapshot:
        self.updates.append((kw["primary"], kw["additional"], kw["revision_id"]))
        return AliasSnapshot(function_version=kw["primary"], revision_id="r9")


def test_a_pre_traffic_hook_gets_the_context_and_moves_nothing() -> None:
    hooks, functions, events = _Hooks(b'{"status": "Succeeded"}'), _Functions(), ListEvents()
    state = _state(hooks={"preTraffic": "CodeDeployHook_smoke"})

    out = gate_tasks.run_hook(
        state,
        "preTraffic",
        functions=functions,  # type: ignore[arg-type]
        hooks=hooks,
        events=events,
        now=T0,
    ).wire()

    ((reference, context),) = hooks.calls
    assert reference == "CodeDeployHook_smoke"
    assert context["trafficshift"] == {
        "phase": "preTraffic",
        "executionId": EXEC,
        "functionName": "orders-api",
        "alias": "live",
        "stableVersion": "6",
        "targetVersion": "7",
        "targetQualifiedName": "orders-api:7",
        "aliasWeightPercent": 0.0,
    }
    assert functions.updates == []
    assert out["hookResults"][0]["phase"] == "preTraffic"
    assert [e.detail_type.value for e in events.sent] == ["Deployment Hook Passed"]


def test_a_failing_hook_raises_hook_failed_naming_phase_function_and_why() -> None:
    state = _state(hooks={"preTraffic": "CodeDeployHook_smoke"})
    hooks = _Hooks(b'{"errorType": "RuntimeError", "errorMessage": "503"}', "Unhandled")

    with pytest.raises(HookFailed) as caught:
        gate_tasks.run_hook(
            state,
            "preTraffic",
            functions=_Functions(),  # type: ignore[arg-type]
            hooks=hooks,
            events=ListEvents(),
            now=T0,
        )
    assert str(caught.value) == "the preTraffic hook CodeDeployHook_smoke raised RuntimeError: 503"


def test_a_post_traffic_hook_after_promote_now_first_moves_the_alias_to_100_percent() -> None:
    hooks, functions = _Hooks(), _Functions()
    state = _at_canary(hooks={"postTraffic": "CodeDeployHook_e2e"})

    out = gate_tasks.run_hook(
        state,
        "postTraffic",
        functions=functions,  # type: ignore[arg-type]
        hooks=hooks,
        events=ListEvents(),
        now=T0,
    ).wire()

    assert functions.updates == [("7", {}, "r2")]  # with the RevisionId last read
    assert hooks.calls[0][1]["trafficshift"]["aliasWeightPercent"] == 100.0
    assert out["cursor"]["weightPercent"] == 100.0
    assert out["cursor"]["revisionId"] == "r9"


def test_the_hook_context_is_json() -> None:
    context = gates.hook_context(
        "postTraffic",
        execution_id=EXEC,
        function_name="f",
        alias="live",
        stable_version="1",
        target_version="2",
        weight_percent=100.0,
    )
    assert json.loads(json.dumps(context)) == context


def test_request_approval_leaves_the_token_in_the_ledger() -> None:
    stored: list[tuple[str, str, float, int]] = []

    class Approvals:
        def request_approval(self, execution: str, token: str, now: float, timeout: int) -> None:
            stored.append((execution, token, now, timeout))

    state = _at_canary(approval={"timeoutSeconds": 900})
    gate_tasks.request_approval(state, "tok-1", ledger=Approvals(), now=T0)

    assert stored == [(EXEC, "tok-1", T0, 900)]
    with pytest.raises(ValueError, match="task token"):
        gate_tasks.request_approval(state, None, ledger=Approvals(), now=T0)


def test_the_approval_is_kept_when_the_next_step_begins() -> None:
    approved = _judge(_judge(_at_canary(approval=True), T0 + 60), T0 + 61, approved_by="alice")

    shifted = domain.begin_step(approved, 1, "r3", T0 + 62)

    assert shifted.cursor.approved_by == "alice"
    assert domain.promoted(shifted, T0 + 63, "r3")["approvedBy"] == "alice"


def test_the_alias_lease_outlasts_the_longest_approval_wait() -> None:
    ledger = InMemoryLedger()
    state = _at_canary(approval={"timeoutSeconds": 7 * 86400}, pollIntervalSeconds=10)
    wait = budget.longest_wait(state.deployment.horizon_seconds)  # the longest stretched wait
    ledger.acquire_lock("orders-api", "live", EXEC, 60, T0)

    check_task.check(
        state,
        alarms=_NoAlarms(),
        ledger=ledger,
        events=ListEvents(),
        now=T0 + 60,
    )

    held = ledger.lock("orders-api", "live")
    assert held is not None
    assert held.lease_expires_at - (T0 + 60) > 2 * wait


def test_a_retried_post_traffic_hook_finds_its_own_alias_write_done() -> None:
    from rollout.domain.errors import AliasChangedConcurrently

    class AlreadyMoved(_Functions):
        def update_alias(self, function_name: str, alias: str, **kw: Any) -> AliasSnapshot:
            raise AliasChangedConcurrently("stale RevisionId: our own earlier write")

        def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
            return AliasSnapshot(function_version="7", revision_id="r9")

    hooks = _Hooks()
    state = _at_canary(hooks={"postTraffic": "CodeDeployHook_e2e"})

    out = gate_tasks.run_hook(
        state,
        "postTraffic",
        functions=AlreadyMoved(),  # type: ignore[arg-type]
        hooks=hooks,
        events=ListEvents(),
        now=T0,
    ).wire()

    assert out["cursor"]["revisionId"] == "r9"
    assert len(hooks.calls) == 1
