"""Follow a deployment execution: turn its history into step / weight / decision lines.

Works the same against AWS and the emulator: it reads only GetExecutionHistory and
DescribeExecution.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Progress:
    """One thing worth telling a person about a running deployment."""

    kind: str  # prepared | shifted | checked | promoted | reverting | finished
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
            plan = " -> ".join(f"{_pct(s['percent'])}%" for s in d["plan"])
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
                f"step {c['stepIndex'] + 1}/{total}  weight {_pct(c['weightPercent'])}%",
                step=c["stepIndex"] + 1,
                weight=c["weightPercent"],
            )
        if name == "Check" and "cursor" in output:
            c = output["cursor"]
            return Progress(
                "checked",
                f"step {c['stepIndex'] + 1}  weight {_pct(c['weightPercent'])}%  "
                f"{c['decision']}: {c['reason']}",
                step=c["stepIndex"] + 1,
                weight=c["weightPercent"],
                decision=c["decision"],
            )
        if name == "Promote":
            return Progress("promoted", f"promoted v{output.get('targetVersion')} to 100%")
    if event.get("type") == "TaskStateEntered":
        entered = event.get("stateEnteredEventDetails") or {}
        if entered.get("name") == "Revert":
            return Progress("reverting", "reverting to the stable version")
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
    seen = 0
    deadline = clock() + timeout_seconds
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        events = _history(sfn, execution_arn)
        for event in events[seen:]:
            item = progress_of(event)
            if item is not None:
                yield item
        seen = len(events)
        status = described["status"]
        if status in TERMINAL:
            yield finished(described)
            return
        if clock() > deadline:
            raise TimeoutError(f"{execution_arn} still {status} after {timeout_seconds} s")
        sleep(poll_seconds)


def finished(described: dict[str, Any]) -> Progress:
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


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pct(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")
