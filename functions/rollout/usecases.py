"""One use case per workflow task: read through the ports, decide in the domain, write.

The ports are the adapters' interfaces; handlers pass the real adapters, tests may pass
in-memory ones. Nothing here reads the environment or builds a client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rollout.domain import rollout as domain
from rollout.domain.errors import FunctionNotReady, InvalidInput, NotFound, PreflightFailed
from rollout.domain.request import parse_request
from rollout.domain.rollout import (
    AlarmState,
    AliasSnapshot,
    Failure,
    Health,
    RevertAction,
    RolloutState,
    VersionInfo,
)


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


class AlarmsPort(Protocol):
    def states(self, names: Sequence[str]) -> dict[str, AlarmState]: ...


def prepare(
    event: Mapping[str, Any],
    *,
    functions: FunctionsPort,
    alarms: AlarmsPort,
    now: float,
    region: str | None = None,
    account: str | None = None,
    partition: str | None = None,
) -> dict[str, Any]:
    """Validate, resolve the versions, run the pre-flight checks; shift nothing.

    `region`, `account` and `partition` are the control plane's own: a function ARN that
    names another is refused, never read as the function of the same name here.
    """
    parsed = parse_request(event.get("input"))
    name, request = parsed.function_name, parsed.request
    for where, theirs, ours in (
        ("partition", parsed.function_partition, partition),
        ("account", parsed.function_account, account),
    ):
        if ours and theirs and theirs != ours:
            raise InvalidInput(
                "functionName",
                f"the function is in {where} {theirs} but this control plane runs in {ours}",
                f"deploy trafficshift in the function's {where} and start the deployment there",
            )
    if region and parsed.function_region and parsed.function_region != region:
        raise InvalidInput(
            "functionName",
            f"the function is in {parsed.function_region} but this control plane runs in {region}",
            "deploy trafficshift in the function's region and start the deployment there",
        )
    try:
        alias = functions.get_alias(name, request.alias)
    except NotFound:
        raise _missing_alias_or_function(functions, name, request.alias) from None
    alarm_states = alarms.states(request.alarms) if request.alarms else {}
    domain.check_alarms(request.alarms, alarm_states)  # before publishing anything
    published = False
    if request.publish:
        latest = functions.get_version(name, "$LATEST")
        if latest.last_update_status == "InProgress":
            raise FunctionNotReady(f"{name} is being updated; waiting before publishing")
        if latest.last_update_status == "Failed":
            raise PreflightFailed(
                f"the last update of {name} failed; fix the function before publishing it"
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
    )
    return state.wire()


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


def set_weight(event: Mapping[str, Any], *, functions: FunctionsPort, now: float) -> dict[str, Any]:
    state = RolloutState.model_validate(event["state"])
    index, primary, additional = domain.next_routing(state)
    d = state.deployment
    updated = functions.update_alias(
        d.function_name,
        d.alias,
        primary=primary,
        additional=additional,
        revision_id=state.cursor.revision_id,
    )
    return domain.begin_step(state, index, updated.revision_id, now).wire()


def check(event: Mapping[str, Any], *, alarms: AlarmsPort, now: float) -> dict[str, Any]:
    state = RolloutState.model_validate(event["state"])
    names = state.deployment.alarms
    health = Health(alarms=alarms.states(names) if names else {})
    return domain.judge(state, health, now).wire()


def promote(event: Mapping[str, Any], *, functions: FunctionsPort, now: float) -> dict[str, Any]:
    state = RolloutState.model_validate(event["state"])
    d, cursor = state.deployment, state.cursor
    revision = cursor.revision_id
    if cursor.weight_percent < 100:
        updated = functions.update_alias(
            d.function_name, d.alias, primary=d.target_version, additional={}, revision_id=revision
        )
        revision = updated.revision_id
    return domain.promoted(state, now, revision)


def revert(event: Mapping[str, Any], *, functions: FunctionsPort) -> tuple[dict[str, Any], str]:
    """Put the alias back on the stable version if, and only if, we moved it.

    Returns the failure for the execution's Fail state, and what was done (for the log).
    """
    raw = event.get("state") or {}
    if "deployment" not in raw or "cursor" not in raw:
        return domain.refusal(raw).wire(), "nothing to revert: Prepare did not finish"
    state = RolloutState.model_validate(raw)
    d = state.deployment
    reason = domain.failure_reason(raw)
    alias = functions.get_alias(d.function_name, d.alias)
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
        failure = domain.rolled_back(state, action, alias, reason)
    return failure.wire(), action.value
