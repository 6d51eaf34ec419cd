"""Prepare: validate the input, take the alias's lock, resolve the versions, run the
pre-flight checks; shift nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rollout.application.evidence import detectability
from rollout.application.ports import (
    AlarmsPort,
    EventsPort,
    FunctionsPort,
    LedgerPort,
    MetricsPort,
)
from rollout.domain import gates
from rollout.domain import ledger as ledger_domain
from rollout.domain import rollout as domain
from rollout.domain.errors import (
    AccessDenied,
    FunctionNotReady,
    InvalidInput,
    NotFound,
    PreflightFailed,
    access_refused,
)
from rollout.domain.events import DetailType, event_for
from rollout.domain.ledger import LockResult
from rollout.domain.request import check_fits_timeout, parse_request
from rollout.domain.rollout import RolloutState
from rollout.domain.strategies import effective_poll_interval


def prepare(
    raw_input: Any,
    *,
    execution: str,
    started_at: float,
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
) -> RolloutState:
    """Validate, resolve the versions, run the pre-flight checks; shift nothing.

    `region`, `account` and `partition` are the control plane's own: a function ARN that
    names another is refused, never read as the function of the same name here.
    `state_machine_timeout_seconds` is the construct's: a plan that cannot finish within it
    is refused, and the pause policy and the history budget plan up to it.
    """
    parsed = parse_request(raw_input)
    check_fits_timeout(parsed, state_machine_timeout_seconds)
    name, request = parsed.function_name, parsed.request
    parsed.ref.check_in(partition=partition, account=account, region=region)
    if request.hooks is not None:
        gates.check_hooks_allowed(
            request.hooks.model_dump(by_alias=True, exclude_none=True),
            hook_patterns,
            region=region,
            account=account,
        )
    # The per-alias lock, before anything is read for, or published by, this run.
    lock = _take_alias(parsed, ledger, execution, now, state_machine_timeout_seconds)
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
            name, latest.code_sha256, f"trafficshift {execution}"[-256:]
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
        execution_id=execution,
        now=now,
        published=published,
        deadline=started_at + state_machine_timeout_seconds,
    )
    if metrics is not None:
        estimate = detectability(state, metrics, now)
        state = state.model_copy(update={"preflight": estimate})
        if estimate and not estimate["detectable"] and request.analysis.refuse_undetectable:
            raise PreflightFailed(
                f"{estimate['warning']}; refused because analysis.refuseUndetectable is true"
            )
    _record_started(
        state, raw_input if isinstance(raw_input, Mapping) else {}, lock, ledger, events, now
    )
    return state


def _record_started(
    state: RolloutState,
    raw_input: Mapping[str, Any],
    lock: LockResult,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> None:
    """The history starts here, and the event says so."""
    d = state.deployment
    ledger.record_deployment_started(d, raw_input, now)
    started = f"rolling {d.qualified} out from version {d.stable_version}"
    started += f" to version {d.target_version} in {len(d.plan)} steps"
    if lock.previous_owner:
        started += f" (took over the expired lock of {lock.previous_owner})"
    events.emit(event_for(d, DetailType.STARTED, started, now))


def _take_alias(
    parsed: Any, ledger: LedgerPort, execution: str, now: float, horizon: int
) -> LockResult:
    """Take the alias's lock, or refuse naming the execution that holds it (AliasBusy, which
    the state machine retries with a bound, when the input says "onBusy": "wait")."""
    request = parsed.request
    poll = effective_poll_interval(list(parsed.plan), request.poll_interval_seconds)
    lease = ledger_domain.alias_lease_seconds(poll, horizon)
    result = ledger.acquire_lock(parsed.function_name, request.alias, execution, lease, now)
    if not result.acquired:
        raise ledger_domain.busy_error(
            result, parsed.function_name, request.alias, wait=request.on_busy == "wait"
        )
    return result


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
