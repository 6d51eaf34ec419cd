"""The routing read back from Lambda is compared with a tolerance, never with float equality.

A retried SetWeight or Promote whose earlier attempt wrote the alias gets
PreconditionFailedException (its RevisionId is stale because of its own write), reads the
alias, and accepts it if it is the routing it sets. Lambda keeps AdditionalVersionWeights as
doubles (API_AliasRoutingConfiguration: "Type: Double", 0.0 to 1.0); what comes back need not
be the float that was written, so "the same routing" allows WEIGHT_TOLERANCE (half the 1e-6
quantum the domain writes weights with).
"""

from __future__ import annotations

from typing import Any

import pytest
from ledger_fake import InMemoryLedger, ListEvents

from rollout.application import shift
from rollout.domain import rollout as domain
from rollout.domain.errors import AliasChangedConcurrently
from rollout.domain.request import parse_request
from rollout.domain.rollout import AliasSnapshot, RolloutState, VersionInfo

T0 = 1_800_000_000.0
ROLE = "arn:aws:iam::123456789012:role/orders"


def _alias(primary: str = "6", **weights: float) -> AliasSnapshot:
    return AliasSnapshot(function_version=primary, additional_weights=weights, revision_id="r")


@pytest.mark.parametrize(
    ("read_back", "same"),
    [
        ({"7": 0.005}, True),
        ({"7": 0.004999999888241291}, True),  # 0.005 as a float32 comes back
        ({"7": 0.005 + 4e-7}, True),
        ({"7": 0.005001}, False),  # the next weight the domain can write: another routing
        ({"7": 0.006}, False),
        ({"8": 0.005}, False),
        ({}, False),
    ],
)
def test_same_routing_allows_a_read_back_weight_within_the_tolerance(
    read_back: dict[str, float], same: bool
) -> None:
    assert domain.same_routing(_alias(**read_back), "6", {"7": 0.005}) is same


def test_same_routing_compares_the_primary_and_an_empty_routing() -> None:
    assert domain.same_routing(_alias("7"), "7", {})
    assert not domain.same_routing(_alias("6"), "7", {})
    assert not domain.same_routing(_alias("7", **{"6": 0.1}), "7", {})


class _WrittenEarlier:
    """Lambda after a SetWeight attempt that wrote the alias and then lost its answer: the
    retry's RevisionId is stale; the alias holds the weight as a double read back."""

    def __init__(self, weight_read_back: float) -> None:
        self.read_back = weight_read_back

    def update_alias(self, *args: Any, **kwargs: Any) -> AliasSnapshot:
        raise AliasChangedConcurrently("UpdateAlias: the RevisionId is stale")

    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
        return AliasSnapshot(
            function_version="6", additional_weights={"7": self.read_back}, revision_id="r2"
        )


def _state() -> dict[str, Any]:
    raw = {
        "functionName": "orders-api",
        "alias": "live",
        "targetVersion": "7",
        "strategy": {"type": "steps", "steps": [{"percent": 0.5, "bakeSeconds": 60}]},
        "analysis": {"enabled": False},
    }
    return domain.preflight(
        parse_request(raw),
        alias=AliasSnapshot(function_version="6", revision_id="r1"),
        target=VersionInfo(version="7", role=ROLE),
        stable=VersionInfo(version="6", role=ROLE),
        alarms={},
        execution_id="arn:exec",
        now=T0,
    ).wire()


def test_a_retried_set_weight_accepts_its_own_write_read_back_as_a_nearby_double() -> None:
    # Given the alias already at 0.5% (0.005) from the earlier attempt, read back as float32
    functions = _WrittenEarlier(0.004999999888241291)

    # When SetWeight is retried, Lambda refuses its stale RevisionId
    shifted = shift.set_weight(
        RolloutState.model_validate(_state()),
        functions=functions,  # type: ignore[arg-type]
        ledger=InMemoryLedger(),
        events=ListEvents(),
        now=T0 + 1,
    ).wire()

    # Then it takes the alias as its own write and goes on with the read RevisionId
    assert shifted["cursor"]["weightPercent"] == 0.5
    assert shifted["cursor"]["revisionId"] == "r2"


def test_a_retried_set_weight_still_refuses_another_weight() -> None:
    with pytest.raises(AliasChangedConcurrently):
        shift.set_weight(
            RolloutState.model_validate(_state()),
            functions=_WrittenEarlier(0.006),  # type: ignore[arg-type]
            ledger=InMemoryLedger(),
            events=ListEvents(),
            now=T0 + 1,
        )
