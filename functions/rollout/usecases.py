"""One use case per workflow task: read through the ports, decide in the domain, write.

The ports are the adapters' interfaces; handlers pass the real adapters, tests may pass
in-memory ones. Nothing here reads the environment or builds a client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from rollout.domain import analysis as stats
from rollout.domain import gates
from rollout.domain import ledger as ledger_domain
from rollout.domain import rollout as domain
from rollout.domain.errors import (
    AccessDenied,
    AliasChangedConcurrently,
    FunctionNotReady,
    HookFailed,
    InvalidInput,
    LeaseLost,
    NotFound,
    PreflightFailed,
    ServiceUnavailable,
    Throttled,
    access_refused,
)
from rollout.domain.events import DeploymentEvent, DetailType, event_for
from rollout.domain.ledger import LockItem, LockResult, Outcome, OutcomeResult, Signal
from rollout.domain.reconcile import identity_from_input
from rollout.domain.request import check_fits_timeout, parse_request
from rollout.domain.rollout import (
    AlarmState,
    AliasSnapshot,
    AnalysisView,
    Failure,
    Health,
    OperatorDirective,
    RevertAction,
    RolloutState,
    StepRecord,
    VersionInfo,
)
from rollout.domain.strategies import effective_poll_interval


class FunctionsPort(Protocol):
    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot: ...
    def get_version(self, function_name: str, version: str) -> VersionInfo: ...
    def publish_version(self, function_name: str, code_sha256: str, description: str) -> str: ...
    def update_alias(
        self,
        function_name: str,
        alias: str,
        *,
        primary: str,
        additional: dict[str, float],
        revision_id: str,
    ) -> AliasSnapshot: ...


class LedgerPort(Protocol):
    """The ledger table (see adapters.ledger.Ledger): lock, history, operator signals."""

    def acquire_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult: ...
    def renew_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult: ...
    def release_lock(self, function_name: str, alias: str, execution: str) -> bool: ...
    def lock(self, function_name: str, alias: str) -> LockItem | None: ...
    def record_deployment_started(
        self, deployment: domain.Deployment, request_input: Mapping[str, Any], now: float
    ) -> bool: ...
    def record_deployment_step(
        self,
        execution: str,
        record: StepRecord,
        now: float,
        *,
        numbers: Mapping[str, Any] | None = None,
    ) -> None: ...
    def record_deployment_outcome(
        self,
        execution: str,
        outcome: Outcome,
        reason: str,
        now: float,
        *,
        details: Mapping[str, Any] | None = None,
        function_name: str | None = None,
        alias: str | None = None,
        event_pending: bool = True,
    ) -> OutcomeResult: ...
    def outcome_event_sent(self, execution: str) -> None: ...
    def signals(self, execution: str) -> list[Signal]: ...


class EventsPort(Protocol):
    """Deployment events (adapters.events.Events): never raises."""

    def emit(self, event: DeploymentEvent) -> bool: ...


class AlarmsPort(Protocol):
    def states(self, names: Sequence[str]) -> dict[str, AlarmState]: ...


class MetricsPort(Protocol):
    @property
    def period_seconds(self) -> int: ...

    def per_minute(
        self, function_name: str, alias: str, versions: Sequence[str], start: float, end: float
    ) -> dict[str, stats.MinuteSeries]: ...

    def alias_traffic(
        self, function_name: str, alias: str, start: float, end: float
    ) -> tuple[int, int]: ...


def prepare(
    event: Mapping[str, Any],
    *,
    functions: FunctionsPort,
    alarms: AlarmsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
    region: str | None = None,
    account: str | None = None,
    partition: str | None = None,
    metrics: MetricsPort | None = None,
    hook_patterns: Sequence[str] = gates.DEFAULT_HOOK_PATTERNS,
    state_machine_timeout_seconds: int = domain.DEFAULT_STATE_MACHINE_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Validate, resolve the versions, run the pre-flight checks; shift nothing.

    `region`, `account` and `partition` are the control plane's own: a function ARN that
    names another is refused, never read as the function of the same name here.
    `state_machine_timeout_seconds` is the construct's: a plan that cannot finish within it
    is refused, and the pause policy and the history budget plan up to it.
    """
    parsed = parse_request(event.get("input"))
    check_fits_timeout(parsed, state_machine_timeout_seconds)
    name, request = parsed.function_name, parsed.request
    parsed.ref.check_in(partition=partition, account=account, region=region)
    if request.hooks is not None:
        check_hooks_allowed(
            request.hooks.model_dump(by_alias=True, exclude_none=True),
            hook_patterns,
            region=region,
            account=account,
        )
    # --- ledger: the per-alias lock, before anything is read for, or published by, this run
    execution = str(event.get("executionId", ""))
    lock = _take_alias(parsed, ledger, execution, now, state_machine_timeout_seconds)
    # --- end ledger
    try:
        alias = functions.get_alias(name, request.alias)
    except NotFound:
        raise _missing_alias_or_function(functions, name, request.alias) from None
    except AccessDenied as exc:
        raise PreflightFailed(access_refused("read or shift", name, exc)) from None
    alarm_states = alarms.states(request.alarms) if request.alarms else {}
    domain.check_alarms(request.alarms, alarm_states)  # before publishing anything
    published = False
    if request.publish:
        latest = functions.get_version(name, "$LATEST")
        if latest.last_update_status == "InProgress" or latest.state == "Pending":
            raise FunctionNotReady(f"{name} is being updated; waiting before publishing")
        if latest.last_update_status == "Failed":
            why = latest.last_update_status_reason
            said = f" ({why})" if why else ""
            raise PreflightFailed(
                f"the last update of {name} failed{said}; fix the function before publishing it"
            )
        version = functions.publish_version(
            name, latest.code_sha256, f"trafficshift {event.get('executionId', '')}"[-256:]
        )
        published = True
    else:
        version = str(request.target_version)
    try:
        target = functions.get_version(name, version)
    except NotFound:
        raise InvalidInput(
            "targetVersion",
            f"{name} has no version {version}",
            "give a version that list-versions-by-function shows, or set publish: true",
        ) from None
    stable = functions.get_version(name, alias.function_version)
    state = domain.preflight(
        parsed,
        alias=alias,
        target=target,
        stable=stable,
        alarms=alarm_states,
        execution_id=str(event.get("executionId", "")),
        now=now,
        published=published,
        deadline=_started(event, now) + state_machine_timeout_seconds,
    )
    if metrics is not None:
        estimate = detectability(state, metrics, now)
        state = state.model_copy(update={"preflight": estimate})
        if estimate and not estimate["detectable"] and request.analysis.refuse_undetectable:
            raise PreflightFailed(
                f"{estimate['warning']}; refused because analysis.refuseUndetectable is true"
            )
    # --- ledger: the history starts here; the event says so
    raw_input = event.get("input")
    ledger.record_deployment_started(
        state.deployment, raw_input if isinstance(raw_input, Mapping) else {}, now
    )
    d = state.deployment
    started = f"rolling {name}:{request.alias} out from version {d.stable_version}"
    started += f" to version {d.target_version} in {len(d.plan)} steps"
    if lock.previous_owner:
        started += f" (took over the expired lock of {lock.previous_owner})"
    events.emit(event_for(state.deployment, DetailType.STARTED, started, now))
    # --- end ledger
    return state.wire()


def _take_alias(
    parsed: Any, ledger: LedgerPort, execution: str, now: float, horizon: int
) -> LockResult:
    """Take the alias's lock, or refuse naming the execution that holds it (AliasBusy, which
    the state machine retries with a bound, when the input says "onBusy": "wait")."""
    request = parsed.request
    poll = effective_poll_interval(list(parsed.plan), request.poll_interval_seconds)
    lease = ledger_domain.lease_seconds_for(gates.longest_check_interval(poll, horizon))
    result = ledger.acquire_lock(parsed.function_name, request.alias, execution, lease, now)
    if not result.acquired:
        raise ledger_domain.busy_error(
            result, parsed.function_name, request.alias, wait=request.on_busy == "wait"
        )
    return result


def _started(event: Mapping[str, Any], now: float) -> float:
    """When the execution started ($$.Execution.StartTime), else `now`."""
    value = event.get("executionStartTime")
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return now
    return now


def _missing_alias_or_function(functions: FunctionsPort, name: str, alias: str) -> InvalidInput:
    try:
        functions.get_version(name, "$LATEST")
    except NotFound:
        return InvalidInput(
            "functionName",
            f"no Lambda function is named {name!r} in this account and region",
            "check the name (it is case-sensitive) and the region",
        )
    return InvalidInput(
        "alias",
        f"{name} has no alias {alias!r}",
        f"create it first: aws lambda create-alias --function-name {name} --name {alias} "
        "--function-version <stable version>",
    )


def set_weight(
    event: Mapping[str, Any],
    *,
    functions: FunctionsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> dict[str, Any]:
    state = RolloutState.model_validate(event["state"])
    index, primary, additional = domain.next_routing(state)
    d = state.deployment
    updated = _shift_alias(
        functions, d, primary=primary, additional=additional, revision_id=state.cursor.revision_id
    )
    shifted = domain.begin_step(state, index, updated.revision_id, now)
    # --- ledger: the step that ended (its last Check's decision) and the one that begins
    if state.steps:
        ledger.record_deployment_step(d.execution_id, state.steps[-1], now)
    ledger.record_deployment_step(d.execution_id, shifted.steps[-1], now)
    percent = shifted.cursor.weight_percent
    events.emit(
        event_for(
            d,
            DetailType.SHIFTED,
            f"step {index + 1}/{len(d.plan)}: version {d.target_version} now takes {percent:g}%",
            now,
            weight_percent=percent,
        )
    )
    # --- end ledger
    return shifted.wire()


def _shift_alias(
    functions: FunctionsPort,
    d: domain.Deployment,
    *,
    primary: str,
    additional: dict[str, float],
    revision_id: str,
) -> AliasSnapshot:
    """UpdateAlias guarded by the RevisionId this rollout last wrote.

    The state machine retries a task whose earlier attempt may have written the alias and
    then failed (throttled or timed out after the write, or its answer lost): that retry's
    RevisionId is stale because of our own write. If the alias is what this step sets
    (`same_routing`: weights within a tolerance), the write is done; anything else is
    someone else's change.
    """
    try:
        return functions.update_alias(
            d.function_name,
            d.alias,
            primary=primary,
            additional=additional,
            revision_id=revision_id,
        )
    except AliasChangedConcurrently:
        alias = functions.get_alias(d.function_name, d.alias)
        if domain.same_routing(alias, primary, additional):
            return alias
        raise


def check(
    event: Mapping[str, Any],
    *,
    alarms: AlarmsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
    metrics: MetricsPort | None = None,
) -> dict[str, Any]:
    state = RolloutState.model_validate(event["state"])
    names = state.deployment.alarms
    # A degraded read (throttled, 5xx, timed out, or too little of the task's time left) is
    # a counted health-read failure, never a task error that Revert would catch: the
    # ledger's lease and signals too (DynamoDB in a brownout).
    try:
        alarm_states = alarms.states(names) if names else {}
        analysis = _analysis_view(state, metrics, now)
        operator = _operator_view(state, ledger, events, now)
    except (Throttled, ServiceUnavailable) as exc:
        return domain.health_unreadable(state, str(exc), now).wire()
    by_token = gates.token_approval(event["state"])
    if by_token and not operator.approved_by:
        operator = operator.model_copy(update={"approved_by": by_token})
    health = Health(alarms=alarm_states, analysis=analysis, operator=operator)
    judged = domain.judge(state, health, now)
    _announce_gate(state, judged, events, now)
    return judged.wire()


def _announce_gate(
    before: RolloutState, after: RolloutState, events: EventsPort, now: float
) -> None:
    """Emit the approval gate's transitions: opened (once) and approved."""
    d, was, now_cursor = before.deployment, before.cursor, after.cursor
    if now_cursor.approved_by and not was.approved_by:
        text = f"approved by {now_cursor.approved_by} before 100%"
        events.emit(event_for(d, DetailType.APPROVED, text, now, weight_percent=was.weight_percent))
    elif now_cursor.decision is domain.Decision.APPROVE and not was.approval_requested_at:
        events.emit(
            event_for(
                d,
                DetailType.AWAITING_APPROVAL,
                now_cursor.reason,
                now,
                weight_percent=was.weight_percent,
            )
        )


def _operator_view(
    state: RolloutState, ledger: LedgerPort, events: EventsPort, now: float
) -> OperatorDirective:
    """Keep the alias's lease, and fold the operator's signals into the Check's directive.

    Renews the lock once half its lease is gone (one write every few polls); a lock that
    another execution took over (ours expired) ends this rollout with LeaseLost, and Revert
    then leaves the alias to its new owner. Emits Paused / Resumed on the transitions.
    """
    d, cursor = state.deployment, state.cursor
    lease = ledger_domain.lease_seconds_for(
        gates.longest_check_interval(d.poll_interval_seconds, d.horizon_seconds)
    )
    held = ledger.lock(d.function_name, d.alias)
    if (
        held is None
        or held.owner != d.execution_id
        or ledger_domain.should_renew(held.lease_expires_at, now, lease)
    ):
        renewed = ledger.renew_lock(d.function_name, d.alias, d.execution_id, lease, now)
        if not renewed.acquired:
            raise LeaseLost(
                f"the lock on {d.qualified} expired and {renewed.owner} holds it now; "
                "this rollout stops and leaves the alias to it"
            )
    view = ledger_domain.fold_signals(
        ledger.signals(d.execution_id), now, since=cursor.step_started_at
    )
    was_paused = cursor.reason.startswith("paused by")
    paused = view.directive is ledger_domain.Directive.PAUSED
    if paused != was_paused and view.directive is not ledger_domain.Directive.ABORT:
        kind = DetailType.PAUSED if paused else DetailType.RESUMED
        text = view.reason if paused else f"resumed at {domain._iso(now)}"
        events.emit(event_for(d, kind, text, now, weight_percent=cursor.weight_percent))
    return OperatorDirective(
        action=view.directive.value,
        by=view.by or "",
        paused_seconds=view.paused_seconds,
        approved_by=view.approved_by if view.approved else "",
    )


# Lambda's metrics for a minute arrive minutes late, and not together: the analysis judges
# only the minutes that have settled and hold both versions' Invocations and Errors, split by
# the step each minute belongs to. Until the new version has such data the verdict is
# "undecided", which never advances a step.
def _analysis_view(
    state: RolloutState, metrics: MetricsPort | None, now: float
) -> AnalysisView | None:
    d = state.deployment
    if d.analysis is None:
        return None
    if metrics is None:
        raise ValueError("the analysis is on but the Check has no metrics port")
    config = stats.AnalysisConfig.model_validate(d.analysis)
    period = metrics.period_seconds
    until = stats.settled_until(config, now, period)
    series = metrics.per_minute(
        d.function_name, d.alias, [d.stable_version, d.target_version], d.started_epoch, until
    )
    empty = stats.MinuteSeries()
    stable_series = series.get(d.stable_version, empty)
    new_series = series.get(d.target_version, empty)
    counts = stats.settled_counts(
        config,
        stable_series,
        new_series,
        step_starts=[_epoch(record.shifted_at) for record in state.steps],
        now=now,
        period=period,
    )
    stable = dataclasses.replace(
        counts.stable, p99_ms=stable_series.p99_ms, version=d.stable_version
    )
    new = dataclasses.replace(counts.new, p99_ms=new_series.p99_ms, version=d.target_version)
    verdict = stats.evaluate(config, stable, new, by_step=counts.by_step)
    reason = verdict.reason
    if verdict.outcome == "undecided" and counts.minutes_judged == 0:
        reason += f" (a minute is judged {config.settle_seconds} s after it ends)"
    numbers = {**verdict.numbers, **counts.numbers, "settleSeconds": config.settle_seconds}
    return AnalysisView(outcome=verdict.outcome, reason=reason, numbers=numbers)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def detectability(
    state: RolloutState, metrics: MetricsPort, now: float, window_minutes: int = 60
) -> dict[str, Any] | None:
    """Pre-flight: what regression can this plan detect, given the alias's recent traffic?

    The rate is read over the last settled hour (the latest minutes are still arriving, and
    would read as a lull). Every bake's traffic counts: a step undecided at the end of its
    bake waits `settleSeconds` more for its last minutes (domain.judge), so a verdict comes
    about settleSeconds + one minute after the traffic it judges (`verdictLagSeconds`).
    """
    d = state.deployment
    if d.analysis is None:
        return None
    config = stats.AnalysisConfig.model_validate(d.analysis)
    period = metrics.period_seconds
    # An hour of Lambda's minutes (the emulator may compress a minute to a second).
    window_seconds = window_minutes * period
    until = stats.settled_until(config, now, period)
    invocations, errors = metrics.alias_traffic(
        d.function_name, d.alias, until - window_seconds, until
    )
    rate = invocations / window_seconds
    plan = [(float(s["percent"]), int(s["bakeSeconds"])) for s in d.plan if s["percent"] < 100]
    expected = stats.expected_new_invocations(rate, plan)
    smallest = stats.detectable_increase(
        config,
        stable_error_rate=errors / invocations if invocations else 0.0,
        new_invocations=expected,
    )
    detectable = smallest is not None and smallest <= config.max_error_rate_increase
    summary: dict[str, Any] = {
        "aliasRequestsPerSecond": round(rate, 4),
        "expectedNewVersionInvocations": round(expected, 1),
        "smallestDetectableIncrease": None if smallest is None else round(smallest, 6),
        "configuredIncrease": config.max_error_rate_increase,
        "detectable": detectable,
        "verdictLagSeconds": config.settle_seconds + period,
    }
    if not detectable:
        summary["warning"] = (
            f"at {rate:.3g} requests/s in the last hour this plan gives the new version about "
            f"{expected:.0f} requests, too few to detect a +{config.max_error_rate_increase:.2%} "
            "error-rate increase; steps may end inconclusive (lengthen the bakes, raise the "
            "percents, or set analysis.maxErrorRateIncrease higher)"
        )
    return summary


def promote(
    event: Mapping[str, Any],
    *,
    functions: FunctionsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> dict[str, Any]:
    state = RolloutState.model_validate(event["state"])
    d, cursor = state.deployment, state.cursor
    revision = cursor.revision_id
    if cursor.weight_percent < 100:
        updated = _shift_alias(
            functions, d, primary=d.target_version, additional={}, revision_id=revision
        )
        revision = updated.revision_id
    outcome = domain.promoted(state, now, revision)
    # --- ledger: the outcome first, then the lock (whoever finds it free finds what happened)
    reason = cursor.reason or f"version {d.target_version} promoted"
    if state.steps:
        ledger.record_deployment_step(d.execution_id, state.steps[-1], now)
    recorded = ledger.record_deployment_outcome(
        d.execution_id,
        Outcome.PROMOTED,
        reason,
        now,
        details={"revisionId": revision, "weightPercentBefore": cursor.weight_percent},
    )
    ledger.release_lock(d.function_name, d.alias, d.execution_id)
    _announce_outcome(d, recorded, ledger, events, now)
    # --- end ledger
    return outcome


def revert(
    event: Mapping[str, Any],
    *,
    functions: FunctionsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> tuple[dict[str, Any], str]:
    """Put the alias back on the stable version if, and only if, we moved it.

    Returns the failure for the execution's Fail state, and what was done (for the log).
    Records the outcome, then frees the alias's lock (if ours), then emits the event.
    """
    raw = event.get("state") or {}
    if "deployment" not in raw or "cursor" not in raw:
        refused = domain.refusal(raw)
        _record_refusal(raw, refused, str(event.get("executionId") or ""), ledger, events, now)
        return refused.wire(), "nothing to revert: Prepare did not finish"
    state = RolloutState.model_validate(raw)
    d = state.deployment
    reason = domain.failure_reason(raw)
    # --- ledger: another execution holds the alias now (our lease expired): not ours to touch
    holder = ledger.lock(d.function_name, d.alias)
    if holder is not None and holder.owner != d.execution_id and holder.lease_expires_at >= now:
        lost = Failure(
            error="LeaseLost",
            cause=(
                f"Stopped rolling out {d.qualified} ({reason[0]}: {reason[1]}); {holder.owner} "
                "holds the alias now, so it was left as it is."
            ),
        )
        _record_end(state, Outcome.FAILED, lost.cause, ledger, events, now)
        return lost.wire(), "nothing: another execution holds the alias"
    # --- end ledger
    alias = functions.get_alias(d.function_name, d.alias)
    found = alias  # what the revert found: the Cause says what it undid
    action = domain.revert_action(d, alias)
    if action is RevertAction.RESTORE:
        # The RevisionId just read makes Lambda refuse the write if anyone changes the alias
        # in between; the state machine then retries Revert, which reads again.
        alias = functions.update_alias(
            d.function_name,
            d.alias,
            primary=d.stable_version,
            additional={},
            revision_id=alias.revision_id,
        )
    failure: Failure
    if reason[0] in domain.REFUSALS and state.cursor.step_index < 0:
        failure = Failure(error=reason[0], cause=reason[1])
    else:
        failure = domain.rolled_back(state, action, alias, reason, found=found)
    # --- ledger
    # Each announced as `ledger_domain.outcome_event_type` says (Refused and Failed: Failed).
    if action is RevertAction.FOREIGN:
        outcome = Outcome.ALIAS_CHANGED
    elif reason[0] in domain.REFUSALS and state.cursor.step_index < 0:
        outcome = Outcome.REFUSED
    elif action is RevertAction.NOTHING and state.cursor.step_index < 0:
        outcome = Outcome.FAILED
    else:
        outcome = Outcome.ROLLED_BACK
    _record_end(state, outcome, failure.cause, ledger, events, now, action=action.value)
    # --- end ledger
    return failure.wire(), action.value


def _record_end(
    state: RolloutState,
    outcome: Outcome,
    reason: str,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
    *,
    action: str | None = None,
) -> None:
    """Close the history (first outcome wins), free the lock if ours, emit its event."""
    d = state.deployment
    if state.steps:
        ledger.record_deployment_step(d.execution_id, state.steps[-1], now)
    recorded = ledger.record_deployment_outcome(
        d.execution_id,
        outcome,
        reason,
        now,
        details={"revert": action, "weightPercentBefore": state.cursor.weight_percent},
        function_name=d.function_name,
        alias=d.alias,
    )
    ledger.release_lock(d.function_name, d.alias, d.execution_id)
    _announce_outcome(d, recorded, ledger, events, now)


def _announce_outcome(
    d: domain.Deployment,
    recorded: OutcomeResult,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> None:
    """Emit the recorded outcome's event while the ledger marks it pending, then clear it.

    At least once: a task that died between recording the outcome and clearing the marker
    left it set, so its retry (finding the outcome already recorded) sends the event, maybe
    again; subscribers dedupe on the execution ARN and detail-type. A cleared marker means
    sent: the usual retry emits nothing. An emit that failed leaves the marker set.
    """
    if not recorded.event_pending or recorded.outcome is None:
        return
    weight = 100.0 if recorded.outcome is Outcome.PROMOTED else None
    kind = ledger_domain.outcome_event_type(recorded.outcome)
    if events.emit(event_for(d, kind, recorded.reason, now, weight_percent=weight)):
        ledger.outcome_event_sent(d.execution_id)


def _record_refusal(
    raw: Mapping[str, Any],
    refused: Failure,
    execution: str,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> None:
    """Prepare did not finish: record the refusal and free the lock if this run took it.

    The record matters beyond history: the reconciler sees a finished deployment and leaves
    the alias alone (it may be split by the very rollout that made this one refused).

    A refusal (bad input, pre-flight, a busy alias) announces nothing: nothing started. A
    deployment that failed before Prepare finished for any other reason (its runtime
    crashed or timed out, a service stayed unavailable) announces "Deployment Failed",
    at least once like every outcome: its "Deployment Started" may be out already, and a
    subscriber waiting for the outcome must hear one (found by bench/chaos.py).
    """
    identity = identity_from_input(raw)
    if identity is None or not execution:
        return  # no function and alias to key a record on (e.g. an upload refused early)
    function_name, alias, target = identity
    refusal = refused.error in domain.REFUSALS
    recorded = ledger.record_deployment_outcome(
        execution,
        Outcome.REFUSED if refusal else Outcome.FAILED,
        refused.cause,
        now,
        details={"error": refused.error},
        function_name=function_name,
        alias=alias,
        event_pending=not refusal,
    )
    ledger.release_lock(function_name, alias, execution)
    if refusal or not recorded.event_pending or recorded.outcome is None:
        return
    failed = DeploymentEvent(
        detail_type=ledger_domain.outcome_event_type(recorded.outcome),
        execution_arn=execution,
        function_name=function_name,
        alias=alias,
        target_version=target,
        reason=recorded.reason or refused.cause,
        time=domain._iso(now),
    )
    if events.emit(failed):
        ledger.outcome_event_sent(execution)


class HookPort(Protocol):
    def invoke(self, reference: str, context: dict[str, Any]) -> tuple[str | None, bytes]: ...


def check_hooks_allowed(
    hooks: Mapping[str, Any], patterns: Sequence[str], *, region: str | None, account: str | None
) -> None:
    """Pre-flight: every hook is a function of this account and region that the control
    plane may invoke (its IAM policy allows only `hook_function_names`)."""
    for phase in gates.HOOK_PHASES:
        reference = hooks.get(phase)
        if not reference:
            continue
        gates.check_hook_allowed(
            f"hooks.{phase}", reference, patterns, region=region, account=account
        )


def run_hook(
    event: Mapping[str, Any],
    phase: str,
    *,
    functions: FunctionsPort,
    hooks: HookPort,
    events: EventsPort,
    now: float,
) -> dict[str, Any]:
    """Invoke the deployment's `phase` hook; raise HookFailed (-> Revert) unless it passes.

    postTraffic runs with the new version on 100%: if the rollout was promoted early (an
    operator's promote-now), the alias is moved there first, with the RevisionId last read.
    """
    if phase not in gates.HOOK_PHASES:
        raise ValueError(f"unknown hook phase {phase!r}")
    state = RolloutState.model_validate(event["state"])
    d, cursor = state.deployment, state.cursor
    reference = (d.hooks or {}).get(phase)
    if not reference:
        return state.wire()  # the Choice before the hook task makes this unreachable
    if phase == "postTraffic" and cursor.weight_percent < 100:
        # A retry of this task (the hook's Invoke throttled) finds its own write done.
        updated = _shift_alias(
            functions, d, primary=d.target_version, additional={}, revision_id=cursor.revision_id
        )
        cursor = cursor.model_copy(
            update={"weight_percent": 100.0, "revision_id": updated.revision_id}
        )
    context = gates.hook_context(
        "postTraffic" if phase == "postTraffic" else "preTraffic",
        execution_id=d.execution_id,
        function_name=d.function_name,
        alias=d.alias,
        stable_version=d.stable_version,
        target_version=d.target_version,
        weight_percent=cursor.weight_percent,
    )
    function_error, answer = hooks.invoke(reference, context)
    passed, why = gates.hook_verdict(function_error, answer)
    if not passed:
        raise HookFailed(f"the {phase} hook {reference} {why}")
    text = f"the {phase} hook {reference} passed"
    events.emit(
        event_for(d, DetailType.HOOK_PASSED, text, now, weight_percent=cursor.weight_percent)
    )
    record = {"phase": phase, "function": reference, "passedAt": domain._iso(now)}
    return state.model_copy(
        update={"cursor": cursor, "hook_results": [*state.hook_results, record]}
    ).wire()


class ApprovalPort(Protocol):
    def request_approval(
        self, execution: str, task_token: str, now: float, timeout_seconds: int
    ) -> None: ...


def request_approval(
    event: Mapping[str, Any], *, ledger: ApprovalPort, now: float
) -> dict[str, Any]:
    """Leave the gate's task token in the ledger, where `trafficshift approve` finds it.

    The state machine then waits on the token (waitForTaskToken) for one gate wait; each
    wait has a token of its own, and the newest one is the one in the ledger.
    """
    state = RolloutState.model_validate(event["state"])
    token = event.get("taskToken")
    if not isinstance(token, str) or not token:
        raise ValueError("the approval gate was invoked without a task token")
    d = state.deployment
    timeout = d.approval_timeout_seconds or gates.APPROVAL_DEFAULT_TIMEOUT_SECONDS
    ledger.request_approval(d.execution_id, token, now, timeout)
    return {"requested": True}
