"""Follow a deployment execution: turn its history into progress lines and snapshots.

Works the same against AWS and the emulator: it reads only DescribeExecution and
GetExecutionHistory. Three views of one execution:

* `progress_of(event)` / `follow(...)`: one line per thing worth telling a person, as it
  happens (the demo, `start --wait`, `watch` in a log);
* `Tracker` + `Snapshot`: where the rollout is now: step, weight, verdict, each version's
  numbers when the Check records them, time left (`status`, `watch` on a terminal);
* `outcome_of(...)` / `exit_code_of(...)`: what the CLI's exit code says.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from rollout.domain.alias_ref import function_name_of

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

# The CLI's documented exit codes (README, "Exit codes").
EXIT_PROMOTED = 0
EXIT_REVERTED = 1
EXIT_BAD_INPUT = 2
EXIT_AWS_ERROR = 3

# Execution Error names (rollout.domain) and what they mean to an operator.
_OUTCOME_BY_ERROR = {
    "DeploymentRolledBack": "reverted",
    "InvalidInput": "invalid input",
    "PreflightFailed": "refused",
    "AliasChangedConcurrently": "stopped: alias changed by someone else",
}


@dataclass(frozen=True)
class Progress:
    """One thing worth telling a person about a running deployment."""

    kind: str  # prepared | shifted | checked | promoted | reverting | refused | finished
    text: str
    step: int | None = None
    weight: float | None = None
    decision: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def progress_of(event: dict[str, Any]) -> Progress | None:
    """Map one history event to progress, or None if it says nothing new to a person."""
    details = event.get("stateExitedEventDetails")
    if event.get("type") == "TaskStateExited" and details:
        name = details.get("name")
        output = _json(details.get("output"))
        if name == "Prepare" and "deployment" in output:
            d = output["deployment"]
            plan = " -> ".join(f"{pct(s['percent'])}%" for s in d["plan"])
            return Progress(
                "prepared",
                f"{d['functionName']}:{d['alias']}  v{d['stableVersion']} -> "
                f"v{d['targetVersion']}  plan {plan}  (poll {d['pollIntervalSeconds']} s)",
                data=d,
            )
        if name == "SetWeight" and "cursor" in output:
            c = output["cursor"]
            total = len(output["deployment"]["plan"])
            return Progress(
                "shifted",
                f"step {c['stepIndex'] + 1}/{total}  weight {pct(c['weightPercent'])}%",
                step=c["stepIndex"] + 1,
                weight=c["weightPercent"],
            )
        if name == "Check" and "cursor" in output:
            c = output["cursor"]
            numbers = version_numbers(output)
            return Progress(
                "checked",
                f"step {c['stepIndex'] + 1}  weight {pct(c['weightPercent'])}%  "
                f"{c['decision']}: {c['reason']}",
                step=c["stepIndex"] + 1,
                weight=c["weightPercent"],
                decision=c["decision"],
                data={"versions": numbers} if numbers else {},
            )
        if name == "Promote":
            return Progress("promoted", f"promoted v{output.get('targetVersion')} to 100%")
        if name in ("PreTraffic", "PostTraffic") and "hookResults" in output:
            ran = output["hookResults"][-1] if output["hookResults"] else {}
            return Progress("hook", f"{ran.get('phase', name)} hook {ran.get('function')} passed")
    if event.get("type") == "TaskStateEntered":
        entered = event.get("stateEnteredEventDetails") or {}
        if entered.get("name") == "Revert":
            state = _json(entered.get("input"))
            if "deployment" in state and "cursor" in state:
                return Progress("reverting", "reverting to the stable version")
            return Progress("refused", "refused before any traffic moved")
    return None


def follow(
    sfn: Any,
    execution_arn: str,
    *,
    poll_seconds: float = 0.25,
    timeout_seconds: float = 3600,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Progress]:
    """Yield progress as it happens, then one `finished` item with the execution's result."""
    for _described, new, finished_item in poll(
        sfn,
        execution_arn,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
        clock=clock,
        sleep=sleep,
    ):
        for event in new:
            item = progress_of(event)
            if item is not None:
                yield item
        if finished_item is not None:
            yield finished_item


def poll(
    sfn: Any,
    execution_arn: str,
    *,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 3600,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], Progress | None]]:
    """Yield (DescribeExecution, the history events new since the last poll, `finished` item
    or None) every `poll_seconds` until the execution ends."""
    last_id = 0
    deadline = clock() + timeout_seconds
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        new = new_events(sfn, execution_arn, after_id=last_id)
        if new:
            last_id = int(new[-1]["id"])
        status = described["status"]
        done = status in TERMINAL
        yield described, new, finished(described) if done else None
        if done:
            return
        if clock() > deadline:
            raise TimeoutError(f"{execution_arn} still {status} after {timeout_seconds:g} s")
        sleep(poll_seconds)


def new_events(sfn: Any, execution_arn: str, *, after_id: int = 0) -> list[dict[str, Any]]:
    """The history events with an id above `after_id`, oldest first.

    Reads newest first and stops at the first page that reaches `after_id`, so a long
    execution costs one call per poll, not its whole history. (The emulator ignores
    `reverseOrder` and returns every event; filtering by id works for both.)
    """
    found: dict[int, dict[str, Any]] = {}
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, reverseOrder=True
    )
    for page in pages:
        events = page.get("events", [])
        for event in events:
            if int(event["id"]) > after_id:
                found[int(event["id"])] = event
        if after_id and events and min(int(e["id"]) for e in events) <= after_id:
            break
    return [found[key] for key in sorted(found)]


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The whole execution history, oldest first."""
    return new_events(sfn, execution_arn)


def finished(described: Mapping[str, Any]) -> Progress:
    status = described["status"]
    if status == "SUCCEEDED":
        output = _json(described.get("output"))
        return Progress(
            "finished", f"SUCCEEDED: {output.get('outcome', '')}", decision=status, data=output
        )
    error, cause = described.get("error", ""), described.get("cause", "")
    return Progress(
        "finished",
        f"{status}: {error}: {cause}".rstrip(": "),
        decision=status,
        data={"error": error, "cause": cause},
    )


# --- outcome and exit code -------------------------------------------------------------


def outcome_of(status: str, error: str | None = None) -> str:
    """promoted | reverted | invalid input | refused | running | aborted | timed out | ..."""
    if status == "SUCCEEDED":
        return "promoted"
    if status == "FAILED":
        return _OUTCOME_BY_ERROR.get(error or "", "failed")
    return {"RUNNING": "running", "ABORTED": "aborted", "TIMED_OUT": "timed out"}.get(
        status, status.lower()
    )


def exit_code_of(outcome: str) -> int:
    """0 promoted (or still running), 2 the input was refused as invalid, else 1."""
    if outcome in ("promoted", "running"):
        return EXIT_PROMOTED
    if outcome == "invalid input":
        return EXIT_BAD_INPUT
    return EXIT_REVERTED


# --- where a rollout is now --------------------------------------------------------------


@dataclass
class VersionNumbers:
    """What a Check recorded about one version: invocations and errors in its window."""

    version: str
    role: str  # stable | new | ""
    invocations: float
    errors: float

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.invocations if self.invocations else None


@dataclass
class Snapshot:
    """One rollout, as far as its history tells."""

    execution_arn: str
    name: str
    status: str
    outcome: str
    function: str | None = None
    alias: str | None = None
    stable_version: str | None = None
    target_version: str | None = None
    plan: list[dict[str, Any]] = field(default_factory=list)
    step: int | None = None  # 1-based; None before the first shift
    steps: int | None = None
    weight_percent: float | None = None
    decision: str | None = None
    reason: str | None = None
    versions: list[VersionNumbers] = field(default_factory=list)
    started_at: str | None = None
    stopped_at: str | None = None
    elapsed_seconds: float | None = None
    time_left_seconds: float | None = None
    error: str | None = None
    cause: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["versions"] = [{**asdict(v), "errorRate": v.error_rate} for v in self.versions]
        return {_camel(key): value for key, value in data.items()}


class Tracker:
    """Folds history events, in order, into what a snapshot needs."""

    def __init__(self) -> None:
        self.request: dict[str, Any] = {}
        self.deployment: dict[str, Any] = {}
        self.cursor: dict[str, Any] = {}
        self.numbers: list[VersionNumbers] = []
        self.last_id = 0

    def feed(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            self.last_id = max(self.last_id, int(event.get("id", 0)))
            kind = event.get("type")
            if kind == "ExecutionStarted":
                details = event.get("executionStartedEventDetails") or {}
                self.request = _json(details.get("input"))
            elif kind == "TaskStateExited":
                output = _json((event.get("stateExitedEventDetails") or {}).get("output"))
                if isinstance(output.get("deployment"), Mapping):
                    self.deployment = dict(output["deployment"])
                if isinstance(output.get("cursor"), Mapping):
                    self.cursor = dict(output["cursor"])
                numbers = version_numbers(output)
                if numbers:
                    self.numbers = numbers

    def snapshot(self, described: Mapping[str, Any], *, now: datetime | None = None) -> Snapshot:
        now = now or datetime.now(UTC)
        status = str(described["status"])
        error = described.get("error")
        d, c = self.deployment, self.cursor
        started = _as_datetime(described.get("startDate"))
        stopped = _as_datetime(described.get("stopDate"))
        plan = list(d.get("plan") or [])
        step_index = c.get("stepIndex", -1)
        snap = Snapshot(
            execution_arn=str(described["executionArn"]),
            name=str(described.get("name") or str(described["executionArn"]).split(":")[-1]),
            status=status,
            outcome=outcome_of(status, error),
            function=d.get("functionName") or function_name_of(self.request.get("functionName")),
            alias=d.get("alias") or self.request.get("alias"),
            stable_version=d.get("stableVersion"),
            target_version=d.get("targetVersion") or _text(self.request.get("targetVersion")),
            plan=plan,
            step=step_index + 1 if step_index >= 0 else None,
            steps=len(plan) or None,
            weight_percent=c.get("weightPercent") if step_index >= 0 else None,
            decision=c.get("decision") if step_index >= 0 else None,
            reason=c.get("reason") or None,
            versions=self.numbers,
            started_at=started.isoformat() if started else None,
            stopped_at=stopped.isoformat() if stopped else None,
            error=error,
            cause=described.get("cause"),
        )
        if started:
            snap.elapsed_seconds = round(((stopped or now) - started).total_seconds(), 3)
        if status == "RUNNING":
            snap.time_left_seconds = _time_left(plan, c, now.timestamp())
        elif status in TERMINAL:
            snap.time_left_seconds = 0
        if status == "SUCCEEDED":
            snap.weight_percent = 100.0
        elif snap.outcome == "reverted":
            snap.weight_percent = 0.0
        return snap


def snapshot(sfn: Any, execution_arn: str, *, now: datetime | None = None) -> Snapshot:
    """Read one execution now (DescribeExecution and its whole history)."""
    described = sfn.describe_execution(executionArn=execution_arn)
    tracker = Tracker()
    tracker.feed(history(sfn, execution_arn))
    return tracker.snapshot(described, now=now)


def _time_left(plan: list[dict[str, Any]], cursor: Mapping[str, Any], now: float) -> float | None:
    """The bake still ahead: what is left of this step, and every later step's bake."""
    if not plan:
        return None
    index = int(cursor.get("stepIndex", -1))
    later = sum(float(step.get("bakeSeconds", 0)) for step in plan[index + 1 :])
    if index < 0:
        return later
    current = plan[index]
    ends = float(cursor.get("stepStartedAt", now)) + float(current.get("bakeSeconds", 0))
    return round(max(0.0, ends - now) + later, 1)


# --- each version's numbers ---------------------------------------------------------------

_STABLE_NAMES = frozenset({"stable", "baseline", "old", "control", "primary"})
_NEW_NAMES = frozenset({"target", "new", "canary", "candidate", "experiment"})


def version_numbers(state: Mapping[str, Any]) -> list[VersionNumbers]:
    """Each version's invocations and errors, when a Check recorded them in its output.

    Looks in the cursor first, then the whole state, for a mapping of version (a version
    number, or a role such as "stable"/"target") to an object with numeric `invocations`
    and `errors`, or a list of such objects that carry a `version`. Returns [] when the
    execution records none: with alarms only, a Check has no per-version numbers.
    """
    deployment = state.get("deployment") if isinstance(state.get("deployment"), Mapping) else {}
    stable = _text((deployment or {}).get("stableVersion"))
    target = _text((deployment or {}).get("targetVersion"))
    cursor = state.get("cursor")
    for where in (cursor, {k: v for k, v in state.items() if k not in ("steps", "cursor")}):
        if isinstance(where, Mapping):
            found = _find_numbers(where, depth=4)
            if found:
                return [_labelled(key, value, stable, target) for key, value in found]
    return []


def _find_numbers(value: Any, depth: int) -> list[tuple[str, Mapping[str, Any]]]:
    if depth < 0:
        return []
    if isinstance(value, Mapping):
        counted = [(str(key), child) for key, child in value.items() if _is_counts(child)]
        if counted:
            return counted
        for child in value.values():
            found = _find_numbers(child, depth - 1)
            if found:
                return found
    elif isinstance(value, list):
        listed = [child for child in value if _is_counts(child) and "version" in child]
        if listed:
            return [(str(child["version"]), child) for child in listed]
    return []


def _is_counts(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("invocations"), int | float)
        and isinstance(value.get("errors"), int | float)
        and not isinstance(value.get("invocations"), bool)
    )


def _labelled(
    key: str, counts: Mapping[str, Any], stable: str | None, target: str | None
) -> VersionNumbers:
    version = _text(counts.get("version")) or key
    role = ""
    if key.lower() in _STABLE_NAMES:
        version, role = stable or key, "stable"
    elif key.lower() in _NEW_NAMES:
        version, role = target or key, "new"
    elif version == stable:
        role = "stable"
    elif version == target:
        role = "new"
    return VersionNumbers(
        version=version,
        role=role,
        invocations=float(counts["invocations"]),
        errors=float(counts["errors"]),
    )


# --- small helpers -------------------------------------------------------------------------


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def pct(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")
