"""What must hold after every rollout, whatever went wrong during it (issue 11, section 5).

After a rollout has ended (and the reconciler has had its turn), on the emulator:

1. **The alias** serves exactly one version with no routing: the target if the deployment
   promoted, the stable version otherwise. If another party edited the alias during the
   rollout, their edit is there untouched (the control plane never clobbers it).
2. **No lock** is left in the ledger for the alias.
3. **The history record** (the ledger's DEPLOYMENT item) is complete: an outcome (not
   UNRESOLVED), a finish time, no outcome event still pending, and an outcome that agrees
   with the execution (SUCCEEDED is PROMOTED; PROMOTED never ended FAILED) and with what
   happened (ALIAS_CHANGED only when someone did change it).
4. **Exactly one outcome event** reached EventBridge for the execution (source
   `trafficshift`), of the type the recorded outcome announces (none for a refusal, which
   announces nothing). Delivery is at least once (docs/decisions.md, "Outcome events at
   least once"): a task that dies between its PutEvents and clearing the ledger's marker
   sends the same event again on its retry, and subscribers dedupe on the execution ARN and
   detail-type. So the same event twice is one outcome, redelivered (`redeliveries()`
   counts them); two different outcome events, or none, is a violation.

`observe()` reads all of it from the cloud (the alias with GetAlias, the ledger with the
control plane's own adapter, the events from an `EventTap`); `violations()` is pure, so a
test can feed it a broken state and see each violation named.

    tap = EventTap(cloud)                     # before the rollouts: subscribes a queue
    ...                                       # run a rollout
    expected = Expected(execution, "fn", "live", stable="1", target="2")
    problems = violations(expected, observe(cloud, expected, tap))
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field

from rollout.adapters.ledger import Ledger
from rollout.domain.events import SOURCE, DetailType
from rollout.domain.ledger import DeploymentRecord, Outcome, outcome_event_type
from trafficshift.emulator.cloud import LocalCloud

__all__ = [
    "OUTCOME_EVENTS",
    "EventTap",
    "Expected",
    "Observed",
    "observe",
    "redeliveries",
    "violations",
]

# The detail-types that announce a deployment's end (one per deployment).
OUTCOME_EVENTS = frozenset(
    t.value
    for t in (
        DetailType.PROMOTED,
        DetailType.ROLLED_BACK,
        DetailType.FAILED,
        DetailType.ALIAS_CHANGED,
    )
)

Routing = tuple[str, dict[str, float]]


class EventTap:
    """Every `trafficshift` event EventBridge delivered, by execution ARN: a rule on the
    default bus (where the control plane puts its events) sends them to an SQS queue, as a
    subscriber's rule would on AWS. `drain()` reads what arrived since the last drain."""

    def __init__(self, cloud: LocalCloud, name: str = "trafficshift-invariants") -> None:
        self._sqs = cloud.client("sqs")
        events = cloud.client("events")
        self._queue_url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
        self.by_execution: dict[str, list[str]] = collections.defaultdict(list)

    def drain(self) -> int:
        """Read every message waiting in the queue; returns how many there were."""
        read = 0
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return read
            for message in messages:
                event = json.loads(message["Body"])
                execution = str((event.get("detail") or {}).get("executionArn") or "")
                self.by_execution[execution].append(str(event.get("detail-type")))
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            read += len(messages)

    def outcome_events(self, execution: str) -> list[str]:
        return [t for t in self.by_execution.get(execution, []) if t in OUTCOME_EVENTS]


@dataclass(frozen=True)
class Expected:
    """What the rollout was: its execution, alias and versions, and any edit someone else
    made to the alias while it ran (the version and weights they set)."""

    execution_arn: str
    function_name: str
    alias: str
    stable: str
    target: str
    edited_to: Routing | None = None


@dataclass(frozen=True)
class Observed:
    """What the cloud shows once the rollout has ended."""

    status: str  # the execution's status
    routing: Routing  # the alias: its version and additional weights
    lock_owner: str | None  # who holds the alias's lock, if anyone
    record: DeploymentRecord | None  # the ledger's history record
    outcome_events: list[str] = field(default_factory=list)


def observe(cloud: LocalCloud, expected: Expected, tap: EventTap) -> Observed:
    """Read the execution, the alias, the lock, the record and the events (drains `tap`)."""
    status = cloud.client("stepfunctions").describe_execution(executionArn=expected.execution_arn)[
        "status"
    ]
    alias = cloud.client("lambda").get_alias(
        FunctionName=expected.function_name, Name=expected.alias
    )
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    ledger = Ledger(cloud.ledger_table, cloud.client("dynamodb"))
    lock = ledger.lock(expected.function_name, expected.alias)
    tap.drain()
    return Observed(
        status=str(status),
        routing=(str(alias["FunctionVersion"]), {str(k): float(v) for k, v in weights.items()}),
        lock_owner=lock.owner if lock else None,
        record=ledger.deployment(expected.execution_arn),
        outcome_events=tap.outcome_events(expected.execution_arn),
    )


def violations(expected: Expected, observed: Observed) -> list[str]:
    """Every invariant `observed` breaks, each named in a sentence (empty: all hold)."""
    found: list[str] = []
    record = observed.record
    outcome = record.outcome if record else None

    # 1. the alias
    version, weights = observed.routing
    if expected.edited_to is not None:
        if observed.routing != expected.edited_to:
            found.append(
                f"alias: another party set it to {_show(expected.edited_to)}, "
                f"now {_show(observed.routing)} (their edit was clobbered)"
            )
    elif weights:
        found.append(f"alias: left split, {_show(observed.routing)}")
    else:
        wanted = expected.target if outcome == Outcome.PROMOTED else expected.stable
        if version != wanted:
            found.append(
                f"alias: serves version {version}, but the outcome {outcome or 'none'} "
                f"means version {wanted}"
            )

    # 2. the lock
    if observed.lock_owner is not None:
        whose = "this execution" if observed.lock_owner == expected.execution_arn else "another"
        found.append(f"lock: still held ({whose}: {observed.lock_owner})")

    # 3. the history record
    if record is None:
        found.append("record: no DEPLOYMENT record in the ledger")
    else:
        if outcome is None:
            found.append(f"record: no outcome recorded (status {record.status})")
        elif outcome == Outcome.UNRESOLVED:
            found.append(f"record: UNRESOLVED ({record.reason})")
        if outcome is not None and not record.finished_at:
            found.append("record: an outcome without a finish time")
        if record.outcome_event_pending:
            found.append(f"record: the {outcome} event is still pending")
        if observed.status == "SUCCEEDED" and outcome != Outcome.PROMOTED:
            found.append(f"record: the execution SUCCEEDED, the record says {outcome}")
        if outcome == Outcome.PROMOTED and observed.status == "FAILED":
            found.append("record: PROMOTED, but the execution FAILED")
        if outcome == Outcome.ALIAS_CHANGED and expected.edited_to is None:
            found.append("record: ALIAS_CHANGED, but nobody else changed the alias")

    # 4. exactly one outcome event, the one the outcome announces
    events = observed.outcome_events
    kinds = sorted(set(events))
    if outcome == Outcome.REFUSED:
        if events:  # docs/decisions.md: a refusal before Prepare finished announces nothing
            found.append(f"events: a refusal announces nothing, yet {events} were sent")
    elif not events:
        found.append("events: 0 outcome events, not 1: []")
    elif len(kinds) > 1:
        found.append(f"events: {len(kinds)} different outcome events, not 1: {events}")
    elif outcome is not None:
        announced = outcome_event_type(Outcome(outcome)).value
        if kinds[0] != announced:
            found.append(f"events: sent {kinds[0]!r}, but the outcome {outcome} is {announced!r}")
    return found


def redeliveries(observed: Observed) -> int:
    """Outcome events sent again (the same detail-type): at-least-once delivery at work."""
    return len(observed.outcome_events) - len(set(observed.outcome_events))


def _show(routing: Routing) -> str:
    version, weights = routing
    return f"version {version} with routing {weights}" if weights else f"version {version}"
