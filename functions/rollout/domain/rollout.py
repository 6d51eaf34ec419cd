"""The rollout itself, as pure functions over a state document.

The state document is what the state machine carries from task to task (camelCase JSON):
`deployment` is fixed at Prepare, `cursor` says where the rollout is, `steps` records what
was done. Every function here takes what the adapters read (snapshots) and the time, and
returns a new state or a decision; none of them calls AWS.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from rollout.domain import budget, gates
from rollout.domain.alias_ref import AliasRef
from rollout.domain.errors import FunctionNotReady, InvalidInput, PreflightFailed
from rollout.domain.request import ParsedRequest
from rollout.domain.strategies import Step, effective_poll_interval

# Errors that mean "refused before anything moved": the execution fails with this name.
REFUSALS = ("InvalidInput", "PreflightFailed", "AliasBusy")
ROLLED_BACK = "DeploymentRolledBack"
# Step Functions' limits on what the state carries (docs/decisions.md, 11.2): a state's
# output holds at most 256 KiB (else States.DataLimitExceeded, which no Catch catches, so
# Revert would never run); an error's Cause at most 32,768 characters. Every reason and
# Cause this module writes goes through `capped`, with these lengths.
MAX_ALARM_REASON = 1_000  # each alarm's StateReason kept
MAX_REASON = 2_000  # the cursor's reason (the current decision's why)
MAX_STEP_REASON = 500  # each step record's reason: 100 steps of them
MAX_CAUSE = 4_000  # an execution's Cause
# The longest an execution may run: the construct's state_machine_timeout (its default).
DEFAULT_STATE_MACHINE_TIMEOUT_SECONDS = 8 * 24 * 3600
# The environment variable through which the construct tells Prepare that timeout.
STATE_MACHINE_TIMEOUT_ENV = "TRAFFICSHIFT_STATE_MACHINE_TIMEOUT_SECONDS"
# A pause holds until only the rest of the plan (worst case) and this margin are left
# before the state machine's timeout: Revert's own retries, Promote's, the hooks.
PAUSE_END_MARGIN_SECONDS = 3600


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


# --- what the adapters read -------------------------------------------------------------


class AliasSnapshot(_Model):
    function_version: str
    additional_weights: dict[str, float] = Field(default_factory=dict)
    revision_id: str

    @property
    def split(self) -> bool:
        return bool(self.additional_weights)

    def describe(self) -> str:
        if not self.additional_weights:
            return f"version {self.function_version} (100%)"
        (other, weight), *_ = self.additional_weights.items()
        return (
            f"version {self.function_version} ({_pct(100 - weight * 100)}%) and "
            f"version {other} ({_pct(weight * 100)}%)"
        )


class VersionInfo(_Model):
    version: str
    code_sha256: str = ""
    role: str = ""
    dead_letter_target: str | None = None
    state: str = "Active"
    last_update_status: str = "Successful"
    # Why the version is not Active, or its last update failed, as Lambda says it.
    state_reason: str = ""
    state_reason_code: str = ""
    last_update_status_reason: str = ""


class AlarmState(_Model):
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str = ""

    @field_validator("reason")
    @classmethod
    def _keep_reason_short(cls, value: str) -> str:
        # CloudWatch's StateReason runs to 1,023 characters; 100 alarms of them would not
        # fit a Step Functions state with the rest.
        return capped(value, MAX_ALARM_REASON)


# --- the state document ------------------------------------------------------------------


class Decision(StrEnum):
    BAKING = "baking"  # the step is under way (recorded in steps only)
    CONTINUE = "continue"  # keep baking this step
    ADVANCE = "advance"  # bake done, set the next step's weight
    PROMOTE = "promote"  # last step done
    APPROVE = "approve"  # the next step reaches 100%: wait for an approval (domain.gates)
    FAIL = "fail"  # revert now


class Deployment(_Model):
    execution_id: str
    function_name: str
    alias: str
    stable_version: str
    target_version: str
    plan: list[dict[str, Any]]
    poll_interval_seconds: int
    alarms: list[str] = Field(default_factory=list)
    started_at: str
    published: bool = False
    max_health_read_failures: int = 3
    # The analysis configuration (camelCase, as in the input), None when turned off.
    analysis: dict[str, Any] | None = None
    # The approval gate ({"timeoutSeconds": ...}) and the hooks, as in the input; None if off.
    approval: dict[str, Any] | None = None
    hooks: dict[str, Any] | None = None
    # When the state machine's timeout ends the execution (epoch seconds); 0 = unknown,
    # taken as started_at plus the default timeout.
    deadline_at: float = 0.0

    @property
    def started_epoch(self) -> float:
        return datetime.fromisoformat(self.started_at).timestamp()

    @property
    def deadline(self) -> float:
        return self.deadline_at or self.started_epoch + DEFAULT_STATE_MACHINE_TIMEOUT_SECONDS

    @property
    def horizon_seconds(self) -> int:
        """The state machine's timeout, as this deployment knows it."""
        return max(1, math.ceil(self.deadline - self.started_epoch))

    @property
    def extension_seconds(self) -> int:
        """How long an undecided step's bake may be extended (0 without the analysis): the
        extension asked for, plus the settle delay, for the bake's last minutes to be judged."""
        analysis = self.analysis or {}
        return int(analysis.get("maxExtensionSeconds", 0)) + int(analysis.get("settleSeconds", 0))

    def step(self, index: int) -> Step:
        return Step.from_dict(self.plan[index])

    @property
    def approval_timeout_seconds(self) -> int | None:
        """How long the approval gate waits (approval.timeoutSeconds); None without a gate."""
        if self.approval is None:
            return None
        return int(self.approval.get("timeoutSeconds", gates.APPROVAL_DEFAULT_TIMEOUT_SECONDS))

    @property
    def ref(self) -> AliasRef:
        return AliasRef(self.function_name, self.alias)

    @property
    def qualified(self) -> str:
        return self.ref.qualified


class Cursor(_Model):
    step_index: int = -1  # index into plan of the weight now set; -1 = nothing shifted yet
    weight_percent: float = 0.0  # the new version's share now on the alias
    revision_id: str  # the alias RevisionId we last read or wrote
    step_started_at: float = 0.0  # epoch seconds when the weight was set
    wait_seconds: int = 0  # the next Bake's length
    decision: Decision = Decision.CONTINUE
    reason: str = ""
    checks: int = 0  # Checks in the current step
    health_read_failures: int = 0  # consecutive Checks that could not read the health
    approval_requested_at: float = 0.0  # epoch seconds the approval gate opened; 0 = not yet
    approved_by: str = ""  # who passed the approval gate


class StepRecord(_Model):
    step: int  # 1-based
    percent: float
    bake_seconds: int
    shifted_at: str
    checks: int = 0
    decision: Decision = Decision.BAKING
    reason: str = ""
    analysis: dict[str, Any] | None = None  # the numbers behind the step's last verdict


class RolloutState(_Model):
    deployment: Deployment
    cursor: Cursor
    steps: list[StepRecord] = Field(default_factory=list)
    # Pre-flight's detectability estimate (see usecases.detectability); None without analysis.
    preflight: dict[str, Any] | None = None
    # The hooks that passed: {"phase", "function", "passedAt"} (domain.gates).
    hook_results: list[dict[str, Any]] = Field(default_factory=list)
    # The history events the execution has used, worst case (domain.budget): every loop
    # draws on it, and the waits stretch as it runs low.
    history_events: int = 0


# --- Prepare -----------------------------------------------------------------------------


def preflight(
    parsed: ParsedRequest,
    *,
    alias: AliasSnapshot,
    target: VersionInfo,
    stable: VersionInfo,
    alarms: Mapping[str, AlarmState],
    execution_id: str,
    now: float,
    published: bool = False,
    deadline: float | None = None,
) -> RolloutState:
    """Refuse anything that would fail mid-rollout; otherwise return the initial state."""
    request = parsed.request
    if alias.function_version == "$LATEST":
        raise PreflightFailed(
            f"alias {request.alias} points at $LATEST, which cannot share traffic with a "
            "version; point it at a published version first"
        )
    if alias.split:
        raise PreflightFailed(
            f"alias {request.alias} already splits traffic between {alias.describe()}; "
            "another deployment may be under way: finish or revert it first"
        )
    if target.version == alias.function_version:
        what = "publishing the current code gave" if published else "the target is"
        raise InvalidInput(
            "targetVersion",
            f"{what} version {target.version}, which alias {request.alias} already serves",
            "deploy a version that differs from the stable one (change the code or "
            "configuration before publishing)",
        )
    if target.role != stable.role:
        raise InvalidInput(
            "targetVersion",
            f"version {target.version} runs as {target.role} but version {stable.version} as "
            f"{stable.role}; Lambda routes one alias only to versions that share the role",
            "publish the new version with the stable version's execution role",
        )
    if target.dead_letter_target != stable.dead_letter_target:
        raise InvalidInput(
            "targetVersion",
            f"version {target.version} and version {stable.version} have different "
            "dead-letter targets; Lambda routes one alias only to versions that share it",
            "publish the new version with the stable version's dead-letter configuration",
        )
    check_alarms(request.alarms, alarms)
    check_ready(parsed.function_name, target)  # last: wait only for what can then start
    steps = list(parsed.plan)
    return RolloutState(
        deployment=Deployment(
            execution_id=execution_id,
            function_name=parsed.function_name,
            alias=request.alias,
            stable_version=alias.function_version,
            target_version=target.version,
            plan=[s.to_dict() for s in steps],
            poll_interval_seconds=effective_poll_interval(steps, request.poll_interval_seconds),
            alarms=list(request.alarms),
            max_health_read_failures=request.max_health_read_failures,
            started_at=_iso(now),
            published=published,
            # A plan whose first step is 100% (AllAtOnce) leaves no stable traffic running
            # beside the new version: nothing to compare, so the alarms alone judge it.
            analysis=(
                request.analysis.model_dump(by_alias=True, mode="json")
                if request.analysis.enabled and steps[0].percent < 100
                else None
            ),
            approval=(
                request.approval.model_dump(by_alias=True, mode="json")
                if request.approval is not None
                else None
            ),
            hooks=(
                request.hooks.model_dump(by_alias=True, mode="json", exclude_none=True)
                if request.hooks is not None
                else None
            ),
            deadline_at=deadline or 0.0,
        ),
        cursor=Cursor(revision_id=alias.revision_id),
        history_events=budget.fixed_events(len(steps)),
    )


def check_ready(function_name: str, target: VersionInfo) -> None:
    """Wait for a target that Lambda is still making ready; refuse one that cannot be.

    `Pending` (a SnapStart version until its snapshot exists; a function being created) and
    a `LastUpdateStatus` of `InProgress` pass on their own: `FunctionNotReady`, which the
    state machine retries (Lambda guide: "Lambda function states"; "Activating and managing
    Lambda SnapStart"). `Failed` and `Inactive` do not: `PreflightFailed`, with Lambda's
    reason.
    """
    where = f"version {target.version} of {function_name}"
    if target.state == "Pending" or target.last_update_status == "InProgress":
        status = target.state if target.state == "Pending" else "being updated"
        raise FunctionNotReady(
            f"{where} is {status}{_lambda_says(target.state_reason_code, target.state_reason)}"
            "; waiting until it is Active"
        )
    if target.state == "Failed":
        raise PreflightFailed(
            f"{where} is Failed{_lambda_says(target.state_reason_code, target.state_reason)}; "
            "Lambda cannot run it: fix the function (its initialization code, its "
            "configuration) and publish a new version"
        )
    if target.state not in ("Active", ""):
        raise PreflightFailed(
            f"{where} is {target.state}"
            f"{_lambda_says(target.state_reason_code, target.state_reason)}; invoke it once "
            "so that Lambda makes it Active again, then start the deployment"
        )
    if target.last_update_status not in ("Successful", ""):
        raise PreflightFailed(
            f"the last update of {where} is {target.last_update_status}"
            f"{_lambda_says('', target.last_update_status_reason)}; fix the function and "
            "publish a new version"
        )


def _lambda_says(code: str, reason: str) -> str:
    said = ": ".join(part for part in (code, capped(reason, MAX_ALARM_REASON)) if part)
    return f" (Lambda: {said})" if said else ""


def check_alarms(names: Sequence[str], alarms: Mapping[str, AlarmState]) -> None:
    """Refuse a named alarm that does not exist or is already firing.

    Prepare runs this before it publishes a version too, so such a refusal leaves none behind.
    """
    for index, name in enumerate(names):
        found = alarms.get(name)
        if found is None:
            raise InvalidInput(
                f"alarms[{index}]",
                f"no CloudWatch alarm is named {name!r} in this account and region",
                "create the alarm first, or fix the name (names are case-sensitive)",
            )
        if found.state == "ALARM":
            raise PreflightFailed(
                f"alarm {name} is already in ALARM ({found.reason or 'no reason given'}); "
                "a rollout judged by it could not tell the new version's health"
            )


# --- SetWeight ---------------------------------------------------------------------------


def next_routing(state: RolloutState) -> tuple[int, str, dict[str, float]]:
    """The next step's index, and the alias's primary version and additional weights."""
    index = state.cursor.step_index + 1
    if index >= len(state.deployment.plan):
        raise ValueError(f"no step {index + 1}: the plan has {len(state.deployment.plan)}")
    return (index, *routing_for(state.deployment, state.deployment.step(index).percent))


def routing_for(deployment: Deployment, percent: float) -> tuple[str, dict[str, float]]:
    if percent >= 100:
        return deployment.target_version, {}
    return deployment.stable_version, {deployment.target_version: weight_of(percent)}


def weight_of(percent: float) -> float:
    # Percents carry at most 4 decimals (see strategies), so 6 decimals of weight are exact.
    return round(percent / 100.0, 6)


# Half the 1e-6 quantum of `weight_of`: any two weights this module writes differ by more,
# and a weight read back from Lambda as a double (JSON, or a float32 rounding: ~1e-9 at
# most) is well within it.
WEIGHT_TOLERANCE = 5e-7


def same_routing(alias: AliasSnapshot, primary: str, additional: Mapping[str, float]) -> bool:
    """Whether `alias` routes as (primary, additional): the same versions, each weight
    within WEIGHT_TOLERANCE (a weight read back need not be the float that was written)."""
    found = alias.additional_weights
    return (
        alias.function_version == primary
        and found.keys() == additional.keys()
        and all(math.isclose(found[v], additional[v], abs_tol=WEIGHT_TOLERANCE) for v in found)
    )


def begin_step(state: RolloutState, index: int, revision_id: str, now: float) -> RolloutState:
    step = state.deployment.step(index)
    cursor = Cursor(
        step_index=index,
        weight_percent=step.percent,
        revision_id=revision_id,
        step_started_at=now,
        wait_seconds=min(state.deployment.poll_interval_seconds, step.bake_seconds),
        decision=Decision.CONTINUE,
        # An approval holds for the rest of the rollout (the gate opens once).
        approved_by=state.cursor.approved_by,
        approval_requested_at=state.cursor.approval_requested_at,
    )
    record = StepRecord(
        step=index + 1, percent=step.percent, bake_seconds=step.bake_seconds, shifted_at=_iso(now)
    )
    return state.model_copy(update={"cursor": cursor, "steps": [*state.steps, record]})


# --- Check -------------------------------------------------------------------------------


class AnalysisView(_Model):
    """The version-versus-version verdict of one Check (see domain.analysis)."""

    outcome: str  # fail | pass | undecided
    reason: str
    numbers: dict[str, Any] = Field(default_factory=dict)


class OperatorDirective(_Model):
    """What the operator's signals say now (folded from the ledger by the Check)."""

    action: str = "proceed"  # proceed | paused | promote | abort
    reason: str = ""
    by: str = ""
    paused_seconds: float = 0.0  # paused time within the current step: stops the bake clock
    approved_by: str = ""  # an `approve` (or `promote`) signal, or the gate's task token


class Health(_Model):
    alarms: dict[str, AlarmState] = Field(default_factory=dict)
    analysis: AnalysisView | None = None
    operator: OperatorDirective = Field(default_factory=OperatorDirective)


def judge(state: RolloutState, health: Health, now: float) -> RolloutState:
    """Decide what the rollout does after one Check.

    Order: an operator's abort, a firing or vanished alarm and a failing analysis revert at
    once; an operator's promote-now promotes; a pause holds the step with its bake clock
    stopped; otherwise the step advances when its bake is over and, with the analysis on,
    only when the evidence passed (an undecided step bakes on up to the configured
    extension, then follows the inconclusive policy).
    """
    deployment, cursor = state.deployment, state.cursor
    step = deployment.step(cursor.step_index)
    where = (
        f"step {cursor.step_index + 1}/{len(deployment.plan)} "
        f"(weight {_pct(cursor.weight_percent)}%)"
    )
    last = cursor.step_index + 1 >= len(deployment.plan)
    done = Decision.PROMOTE if last else Decision.ADVANCE
    firing = [a for a in health.alarms.values() if a.state == "ALARM"]
    missing = [name for name in deployment.alarms if name not in health.alarms]
    analysis, operator = health.analysis, health.operator
    used, cover, stretch, spent = _poll_budget(state, operator.paused_seconds, now)
    decision: Decision
    wait = 0
    if operator.action == "abort":
        decision = Decision.FAIL
        reason = f"aborted by {operator.by or 'an operator'}"
        reason += f" ({operator.reason})" if operator.reason else ""
        reason += f" at {where}"
    elif firing:
        decision = Decision.FAIL
        reason = _joined(
            [f"alarm {a.name} in ALARM{f' ({a.reason})' if a.reason else ''}" for a in firing],
            MAX_REASON - len(where) - 4,
            "alarms in ALARM",
        )
        reason = f"{reason} at {where}"
    elif missing:
        # An alarm deleted mid-rollout can no longer vouch for the new version.
        decision = Decision.FAIL
        reason = f"alarm {', '.join(missing)} no longer exists at {where}"
    elif analysis is not None and analysis.outcome == "fail":
        decision = Decision.FAIL
        reason = f"{analysis.reason} at {where}"
    elif operator.action == "promote":
        decision = Decision.PROMOTE
        reason = f"promoted now by {operator.by or 'an operator'} at {where}"
        reason += f" ({operator.reason})" if operator.reason else ""
    elif operator.action == "paused":
        # The pause policy (docs/decisions.md, 11.2): a pause holds as long as the rest of
        # the plan can still finish before the state machine's timeout, then reverts.
        by = operator.by or "an operator"
        pause_left = deployment.deadline - now - sum(cover) - PAUSE_END_MARGIN_SECONDS
        paused_wait = _pause_wait(deployment, operator.paused_seconds, pause_left, stretch)
        if pause_left <= 0:
            decision = Decision.FAIL
            reason = (
                f"paused by {by} for {math.floor(operator.paused_seconds)} s at {where}: longer "
                f"than this execution can wait (the state machine's timeout of "
                f"{deployment.horizon_seconds} s ends it at {_iso(deployment.deadline)}, and the "
                f"rest of the plan may need {math.ceil(sum(cover))} s); resume sooner, or "
                "start the deployment again"
            )
        elif paused_wait is None:
            decision, reason = Decision.FAIL, spent
        else:
            decision = Decision.CONTINUE
            wait = paused_wait
            reason = f"paused by {by} at {where}; the bake clock is stopped"
    else:
        bake_end = cursor.step_started_at + operator.paused_seconds + step.bake_seconds
        remaining = bake_end - now
        health_text = _health_text(deployment, analysis)
        if remaining > 0:
            decision = Decision.CONTINUE
            wait = stretch(remaining) or 0
            reason = f"baking {where}: {math.ceil(remaining)} s left, {health_text}"
        elif analysis is None or analysis.outcome == "pass" or deployment.analysis is None:
            decision = done
            reason = f"{where} baked {step.bake_seconds} s, {health_text}"
        else:
            extension = deployment.extension_seconds
            over = now - bake_end
            if over < extension:
                decision = Decision.CONTINUE
                wait = stretch(extension - over) or 0
                reason = (
                    f"inconclusive at {where}: bake extended ({math.ceil(extension - over)} s "
                    f"of {extension} s left): {analysis.reason}"
                )
            elif deployment.analysis.get("onInconclusive", "rollback") == "promote":
                decision = done
                reason = (
                    f"inconclusive at {where} after a {extension} s extension; the policy "
                    f"onInconclusive=promote goes on: {analysis.reason}"
                )
            else:
                decision = Decision.FAIL
                reason = (
                    f"inconclusive at {where} after a {extension} s extension (policy "
                    f"onInconclusive=rollback): {analysis.reason}"
                )
    gate: dict[str, Any] = {}
    if decision in (Decision.ADVANCE, Decision.PROMOTE) and operator.action != "promote":
        decision, reason, wait, gate = _approval_gate(state, operator, decision, reason, now)
        if decision is Decision.APPROVE:
            gate_wait = stretch(wait, next_poll=budget.GATE_POLL_EVENTS)
            decision, reason = (decision, reason) if gate_wait else (Decision.FAIL, spent)
            wait = gate_wait or 0
    if decision is Decision.CONTINUE and not wait:
        decision, reason = Decision.FAIL, spent  # not even one more poll fits
    reason = capped(reason, MAX_REASON)
    new_cursor = cursor.model_copy(
        update={
            "decision": decision,
            "reason": reason,
            "wait_seconds": wait,
            "checks": cursor.checks + 1,
            "health_read_failures": 0,
            **gate,
        }
    )
    steps = list(state.steps)
    if steps:
        update: dict[str, Any] = {
            "checks": new_cursor.checks,
            "decision": Decision.BAKING if decision == Decision.CONTINUE else decision,
            "reason": capped(reason, MAX_STEP_REASON),
        }
        if analysis is not None:
            update["analysis"] = analysis.numbers
        steps[-1] = steps[-1].model_copy(update=update)
    return state.model_copy(update={"cursor": new_cursor, "steps": steps, "history_events": used})


def _poll_budget(
    state: RolloutState, paused_seconds: float, now: float
) -> tuple[int, tuple[float, float], Any, str]:
    """The Check's draw on the history budget (domain.budget).

    Returns the events used once this Check's loop iteration is counted, the time still to
    cover (bake polls, gate polls), the function that stretches a wait, and the reason to
    revert with when the budget is spent.
    """
    d, cursor = state.deployment, state.cursor
    used = state.history_events + budget.poll_events(cursor.decision is Decision.APPROVE)
    left = budget.events_left(used, len(d.plan) - cursor.step_index - 1)
    cover = _time_to_cover(state, paused_seconds, now)
    longest = max(d.poll_interval_seconds, budget.longest_wait(d.horizon_seconds))

    def stretch(
        phase_seconds: float,
        *,
        extra: float = 0.0,
        next_poll: int = budget.BAKE_POLL_EVENTS,
        reserve: int = 0,
    ) -> int | None:
        wait = budget.stretched_wait(
            d.poll_interval_seconds,
            bake_seconds=cover[0] + extra,
            gate_seconds=cover[1],
            left=left - reserve,
            phase_seconds=phase_seconds,
            next_poll_events=next_poll,
        )
        return None if wait is None else min(wait, longest)

    spent = (
        f"the execution's history budget is spent at step {cursor.step_index + 1}/"
        f"{len(d.plan)} ({used} of {budget.BUDGET_EVENTS} events used; Step Functions fails "
        f"an execution at {budget.HISTORY_LIMIT}): reverting while it still can"
    )
    return used, cover, stretch, spent


def _pause_wait(
    deployment: Deployment, paused_seconds: float, pause_left: float, stretch: Any
) -> int | None:
    """The next look during a pause; None when the history budget cannot hold it.

    The looks back off with the pause's age (budget.pause_wait), so a resume is seen soon
    after a short pause. If the events left cannot hold such looks until the pause policy
    ends the pause and then the rest of the plan, the pace of a pause lasting that long
    rules instead.
    """
    if pause_left <= 0:
        return 0
    looks = budget.pause_polls(deployment.poll_interval_seconds, paused_seconds, pause_left)
    rest = stretch(pause_left, reserve=looks * budget.BAKE_POLL_EVENTS)
    if rest is None:
        return stretch(pause_left, extra=pause_left)
    backoff = budget.pause_wait(deployment.poll_interval_seconds, paused_seconds)
    return max(1, min(max(rest, backoff), math.ceil(pause_left)))


def _time_to_cover(state: RolloutState, paused_seconds: float, now: float) -> tuple[float, float]:
    """What the rest of the rollout may still take, worst case, in seconds: (the bakes and
    extensions left, the approval gate's time left), within the state machine's timeout."""
    d, cursor = state.deployment, state.cursor
    extension = d.extension_seconds
    bake_end = cursor.step_started_at + paused_seconds + d.step(cursor.step_index).bake_seconds
    current = max(0.0, bake_end - now) + max(0.0, extension - max(0.0, now - bake_end))
    later = sum(
        d.step(index).bake_seconds + extension
        for index in range(cursor.step_index + 1, len(d.plan))
    )
    gate = 0.0
    timeout = d.approval_timeout_seconds
    if timeout is not None and not cursor.approved_by and cursor.step_index < len(d.plan) - 1:
        opened = cursor.approval_requested_at
        gate = max(0.0, timeout - (now - opened)) if opened else float(timeout)
    horizon = max(0.0, d.deadline - now)
    gate = min(gate, horizon)
    return min(current + later, horizon - gate), gate


def _approval_gate(
    state: RolloutState, operator: OperatorDirective, decision: Decision, reason: str, now: float
) -> tuple[Decision, str, int, dict[str, Any]]:
    """Hold a step that is done before the one that reaches 100% until it is approved.

    Returns the decision, its reason, the wait (one token wait) and the cursor's updates.
    The gate's clock starts at the first Check that finds the step done; past the
    approval's timeout the rollout reverts.
    """
    d, cursor = state.deployment, state.cursor
    timeout = d.approval_timeout_seconds
    if timeout is None or cursor.approved_by:
        return decision, reason, 0, {}
    if not gates.needs_approval(d.plan, cursor.step_index + 1):
        return decision, reason, 0, {}
    where = f"step {cursor.step_index + 1}/{len(d.plan)} (weight {_pct(cursor.weight_percent)}%)"
    if operator.approved_by:
        return (
            decision,
            f"approved by {operator.approved_by}; {reason}",
            0,
            {"approved_by": operator.approved_by},
        )
    opened = cursor.approval_requested_at or now
    waited = now - opened
    if waited >= timeout:
        return (
            Decision.FAIL,
            f"no approval within {timeout} s at {where} (approval.timeoutSeconds)",
            0,
            {"approval_requested_at": opened},
        )
    # The phase left: judge stretches the token wait from the poll interval up to it.
    wait = math.ceil(timeout - waited)
    return (
        Decision.APPROVE,
        f"waiting for approval at {where} before 100%: {math.ceil(timeout - waited)} s left "
        f"(trafficshift approve {d.execution_id.rsplit(':', 1)[-1]}); {reason}",
        max(1, wait),
        {"approval_requested_at": opened},
    )


def health_unreadable(state: RolloutState, error: str, now: float) -> RolloutState:
    """A Check that could not read the alarms or metrics: poll again, up to the limit.

    Never advances: an unread health is not a healthy one.
    """
    deployment, cursor = state.deployment, state.cursor
    failures = cursor.health_read_failures + 1
    limit = deployment.max_health_read_failures
    where = (
        f"step {cursor.step_index + 1}/{len(deployment.plan)} "
        f"(weight {_pct(cursor.weight_percent)}%)"
    )
    used, _, stretch, spent = _poll_budget(state, 0.0, now)
    wait = 0
    if failures > limit:
        decision = Decision.FAIL
        reason = (
            f"could not read the health {failures} times in a row at {where} "
            f"(maxHealthReadFailures={limit}): {error}"
        )
    elif (again := stretch(0)) is None:
        decision, reason = Decision.FAIL, spent
    else:
        decision, wait = Decision.CONTINUE, again
        reason = f"could not read the health at {where} ({failures} of {limit} tolerated): {error}"
    new_cursor = cursor.model_copy(
        update={
            "decision": decision,
            "reason": capped(reason, MAX_REASON),
            "wait_seconds": wait,
            "checks": cursor.checks + 1,
            "health_read_failures": failures,
        }
    )
    return state.model_copy(update={"cursor": new_cursor, "history_events": used})


def _health_text(deployment: Deployment, analysis: AnalysisView | None) -> str:
    parts = ["alarms OK"] if deployment.alarms else []
    if analysis is not None:
        parts.append(analysis.reason)
    return "; ".join(parts) or "no health signal configured"


# --- Promote -----------------------------------------------------------------------------


def promoted(state: RolloutState, now: float, revision_id: str) -> dict[str, Any]:
    d = state.deployment
    return {
        "outcome": "PROMOTED",
        "functionName": d.function_name,
        "alias": d.alias,
        "stableVersion": d.stable_version,
        "targetVersion": d.target_version,
        "previousVersion": d.stable_version,
        "revisionId": revision_id,
        "executionId": d.execution_id,
        "startedAt": d.started_at,
        "finishedAt": _iso(now),
        "steps": [s.wire() for s in state.steps],
        "hooks": list(state.hook_results),
        "approvedBy": state.cursor.approved_by or None,
    }


# --- Revert ------------------------------------------------------------------------------


class RevertAction(StrEnum):
    RESTORE = "restore"  # the alias routes to our target: point it back at stable
    NOTHING = "nothing"  # the alias already serves only the stable version
    FOREIGN = "foreign"  # the alias routes to neither pair we know: not ours to touch


def revert_action(deployment: Deployment, alias: AliasSnapshot) -> RevertAction:
    versions = {alias.function_version, *alias.additional_weights}
    if versions == {deployment.stable_version}:
        return RevertAction.NOTHING
    if deployment.target_version in versions and versions <= {
        deployment.stable_version,
        deployment.target_version,
    }:
        return RevertAction.RESTORE
    return RevertAction.FOREIGN


class Failure(_Model):
    error: str
    cause: str

    @field_validator("cause")
    @classmethod
    def _cause_fits(cls, value: str) -> str:
        # Every Cause the execution ends with is one of these: the one place it is capped.
        return capped(value, MAX_CAUSE)


def failure_reason(state: Mapping[str, Any]) -> tuple[str, str]:
    """What went wrong, as (error name, message), from a Catch's `$.error` or a failed Check."""
    caught = state.get("error")
    if isinstance(caught, Mapping):
        name = str(caught.get("Error") or "States.TaskFailed")
        return name, _message_of(caught.get("Cause"))
    cursor = state.get("cursor") or {}
    return "HealthCheckFailed", str(cursor.get("reason") or "the health check failed")


def refusal(state: Mapping[str, Any]) -> Failure:
    """Prepare failed: nothing was shifted, so the execution fails with Prepare's error."""
    name, message = failure_reason(state)
    if name in REFUSALS:
        return Failure(error=name, cause=message)
    return Failure(
        error="DeploymentFailed",
        cause=f"the deployment failed before any traffic moved ({name}): {message}",
    )


def rolled_back(
    state: RolloutState,
    action: RevertAction,
    alias: AliasSnapshot,
    reason: tuple[str, str],
    *,
    found: AliasSnapshot | None = None,
) -> Failure:
    """The Cause of a revert. `found` is the alias as the revert read it: what it undid is
    said from that, not from the state (a task that crashed after its UpdateAlias left a
    state that does not know its own shift)."""
    d, cursor = state.deployment, state.cursor
    name, message = reason
    what = message if name == "HealthCheckFailed" else f"{name}: {message}"
    if action is RevertAction.FOREIGN:
        return Failure(
            error="AliasChangedConcurrently",
            cause=(
                f"Stopped rolling out {d.qualified} to version {d.target_version} ({what}). "
                f"The alias now serves {alias.describe()}, which this deployment did not set: "
                "it was left as it is. Check who changed it before deploying again."
            ),
        )
    share = cursor.weight_percent if cursor.step_index >= 0 else 0.0
    if found is not None:
        share = target_share(d, found)
    moved = (
        f"version {d.target_version} had reached {_pct(share)}% of traffic"
        if share > 0
        else "no traffic had moved"
    )
    return Failure(
        error=ROLLED_BACK,
        cause=(
            f"Rolled back {d.qualified} to version {d.stable_version}: {what}. "
            f"Before the revert, {moved}; now version {d.stable_version} serves 100%."
        ),
    )


def target_share(deployment: Deployment, alias: AliasSnapshot) -> float:
    """The percent of the alias's traffic that goes to the deployment's target version."""
    weights = alias.additional_weights
    if alias.function_version == deployment.target_version:
        return round(100.0 - sum(weights.values()) * 100.0, 4)
    return round(weights.get(deployment.target_version, 0.0) * 100.0, 4)


def _message_of(cause: Any) -> str:
    # A Lambda task's Cause is the JSON error payload; people want its message.
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return cause
        if isinstance(parsed, Mapping) and "errorMessage" in parsed:
            return str(parsed["errorMessage"])
        return cause
    return "" if cause is None else str(cause)


def capped(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    marker = f" [... cut: {len(text)} characters in all]"
    return text[: max(0, limit - len(marker))] + marker


def _joined(parts: Sequence[str], limit: int, what: str) -> str:
    """`parts` joined with "; " up to `limit` characters, then how many were left out."""
    kept: list[str] = []
    size = 0
    for index, part in enumerate(parts):
        rest = len(parts) - index
        tail = len(f"; and {rest} more {what}")
        if size + len(part) + 2 + (tail if rest > 1 else 0) > limit and kept:
            return "; ".join(kept) + f"; and {rest} more {what}"
        kept.append(part)
        size += len(part) + 2
    return "; ".join(kept)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


def _pct(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def revert_failure(
    state: RolloutState,
    action: RevertAction,
    alias: AliasSnapshot,
    reason: tuple[str, str],
    *,
    found: AliasSnapshot,
) -> Failure:
    """The execution's Error and Cause after Revert: a refusal before any shift stays the
    refusal it was; anything else says what was rolled back (or left) and why."""
    if reason[0] in REFUSALS and state.cursor.step_index < 0:
        return Failure(error=reason[0], cause=reason[1])
    return rolled_back(state, action, alias, reason, found=found)


class TaskEvent(BaseModel):
    """What the state machine passes a task (the Payloads of infra's definition), parsed
    once by the handler: the use cases take the models, never the raw event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    input: Any = None  # the execution's input: Prepare parses it (domain.request)
    execution_id: str = Field(default="", alias="executionId")
    execution_start_time: Any = Field(default=None, alias="executionStartTime")
    raw_state: Mapping[str, Any] | None = Field(default=None, alias="state")
    phase: str = ""
    task_token: Any = Field(default=None, alias="taskToken")

    @field_validator("execution_id", "phase", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value)

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> TaskEvent:
        return cls.model_validate(event)

    @property
    def state(self) -> RolloutState:
        """The rollout's state document, as Prepare made it and each task left it."""
        return RolloutState.model_validate(self.raw_state)

    def started_at(self, now: float) -> float:
        """When the execution started ($$.Execution.StartTime), else `now`."""
        value = self.execution_start_time
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return now
        return now
