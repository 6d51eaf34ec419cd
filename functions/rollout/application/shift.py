"""SetWeight: move the alias to the next step's weight, guarded by RevisionId."""

from __future__ import annotations

from rollout.application.ports import (
    EventsPort,
    FunctionsPort,
    LedgerPort,
)
from rollout.domain import rollout as domain
from rollout.domain.errors import (
    AliasChangedConcurrently,
)
from rollout.domain.events import DetailType, event_for
from rollout.domain.rollout import (
    AliasSnapshot,
    RolloutState,
)


def set_weight(
    state: RolloutState,
    *,
    functions: FunctionsPort,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> RolloutState:
    index, primary, additional = domain.next_routing(state)
    d = state.deployment
    updated = shift_alias(
        functions, d, primary=primary, additional=additional, revision_id=state.cursor.revision_id
    )
    shifted = domain.begin_step(state, index, updated.revision_id, now)
    _record_step(state, shifted, ledger, events, now)
    return shifted


def _record_step(
    before: RolloutState,
    after: RolloutState,
    ledger: LedgerPort,
    events: EventsPort,
    now: float,
) -> None:
    """The step that ended (its last Check's decision) and the one that begins; its event."""
    d = after.deployment
    if before.steps:
        ledger.record_deployment_step(d.execution_id, before.steps[-1], now)
    ledger.record_deployment_step(d.execution_id, after.steps[-1], now)
    percent, index = after.cursor.weight_percent, after.cursor.step_index
    events.emit(
        event_for(
            d,
            DetailType.SHIFTED,
            f"step {index + 1}/{len(d.plan)}: version {d.target_version} now takes {percent:g}%",
            now,
            weight_percent=percent,
        )
    )


def shift_alias(
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
