"""The pure parts behind `status`, `watch` and `report`: outcomes and exit codes, each
version's numbers, time left, the report's data and files. No emulator needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trafficshift.progress import (
    Tracker,
    exit_code_of,
    new_events,
    outcome_of,
    version_numbers,
)
from trafficshift.report import embedded_data, report_data, write_report

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
DEPLOYMENT = {
    "functionName": "orders-api",
    "alias": "live",
    "stableVersion": "6",
    "targetVersion": "7",
    "plan": [
        {"percent": 10.0, "bakeSeconds": 60},
        {"percent": 50.0, "bakeSeconds": 60},
        {"percent": 100.0, "bakeSeconds": 0},
    ],
    "pollIntervalSeconds": 30,
}


@pytest.mark.parametrize(
    ("status", "error", "outcome", "code"),
    [
        ("SUCCEEDED", None, "promoted", 0),
        ("RUNNING", None, "running", 0),
        ("FAILED", "DeploymentRolledBack", "reverted", 1),
        ("FAILED", "PreflightFailed", "refused", 1),
        ("FAILED", "InvalidInput", "invalid input", 2),
        ("FAILED", "AliasChangedConcurrently", "stopped: alias changed by someone else", 1),
        ("FAILED", "States.Runtime", "failed", 1),
        ("ABORTED", None, "aborted", 1),
        ("TIMED_OUT", None, "timed out", 1),
    ],
)
def test_each_execution_end_has_an_outcome_and_the_documented_exit_code(
    status: str, error: str | None, outcome: str, code: int
) -> None:
    assert outcome_of(status, error) == outcome
    assert exit_code_of(outcome) == code


@pytest.mark.parametrize(
    "cursor_extra",
    [
        # keyed by version number, somewhere under the cursor
        {
            "analysis": {
                "versions": {
                    "6": {"invocations": 900, "errors": 9},
                    "7": {"invocations": 100, "errors": 5},
                }
            }
        },
        # keyed by role
        {
            "evidence": {
                "stable": {"invocations": 900, "errors": 9},
                "target": {"invocations": 100, "errors": 5},
                "verdict": "fail",
            }
        },
        # a list that names each version
        {
            "metrics": [
                {"version": "6", "invocations": 900, "errors": 9},
                {"version": "7", "invocations": 100, "errors": 5},
            ]
        },
    ],
)
def test_each_versions_numbers_are_read_from_a_checks_output(cursor_extra: dict[str, Any]) -> None:
    state = {"deployment": DEPLOYMENT, "cursor": {"stepIndex": 0, **cursor_extra}}

    numbers = {n.version: n for n in version_numbers(state)}

    assert set(numbers) == {"6", "7"}
    assert (numbers["6"].role, numbers["7"].role) == ("stable", "new")
    assert numbers["7"].error_rate == pytest.approx(0.05)
    assert numbers["6"].error_rate == pytest.approx(0.01)


def test_a_check_judged_by_alarms_only_has_no_version_numbers() -> None:
    state = {"deployment": DEPLOYMENT, "cursor": {"stepIndex": 0, "decision": "continue"}}

    assert version_numbers(state) == []


def test_time_left_is_the_rest_of_this_steps_bake_and_every_later_one() -> None:
    now = T0 + timedelta(seconds=100)
    tracker = Tracker()
    tracker.feed([_exited(2, "SetWeight", _state(0, started=T0 + timedelta(seconds=80)))])

    snap = tracker.snapshot(_described("RUNNING"), now=now)

    # 60 s of step 1 began 20 s ago: 40 s left, then step 2's 60 s
    assert snap.time_left_seconds == pytest.approx(100)
    assert (snap.step, snap.steps, snap.weight_percent) == (1, 3, 10.0)
    assert snap.elapsed_seconds == pytest.approx(100)


def test_new_events_reads_newest_first_and_stops_at_what_it_has_seen() -> None:
    # Given a history of 250 events served newest first, 100 a page (as AWS does)
    sfn = _PagedHistory(250, page=100)

    # When the events after id 230 are asked for
    events = new_events(sfn, "arn:execution", after_id=230)

    # Then they come oldest first, and only one page was read
    assert [e["id"] for e in events] == list(range(231, 251))
    assert sfn.pages_read == 1


def test_report_data_follow_the_history(tmp_path: Path) -> None:
    # Given a rollout that shifted to 10% then 50%, and failed on the error rates
    numbers = {"6": {"invocations": 400, "errors": 4}, "7": {"invocations": 100, "errors": 9}}
    events = [
        _exited(2, "Prepare", {"deployment": DEPLOYMENT}, at=1),
        _exited(3, "SetWeight", _state(0), at=2),
        _exited(4, "Check", _state(0, decision="advance", extra={"analysis": numbers}), at=62),
        _exited(5, "SetWeight", _state(1), at=63),
        _exited(6, "Check", _state(1, decision="fail", extra={"analysis": numbers}), at=90),
        _exited(7, "Revert", {**_state(1), "failure": {"error": "DeploymentRolledBack"}}, at=91),
    ]
    described = _described("FAILED", stop=91, error="DeploymentRolledBack", cause="bad v7")

    # When its report data are built and written
    data = report_data(described, events)
    files = write_report(data, tmp_path)

    # Then the weights, decisions and each version's error rate are the history's
    assert [(w["t"], w["percent"], w["source"]) for w in data["weights"]] == [
        (2, 10.0, "SetWeight"),
        (63, 50.0, "SetWeight"),
        (91, 0.0, "Revert"),
    ]
    assert [(m["t"], m["decision"]) for m in data["decisions"]] == [
        (62, "advance"),
        (90, "fail"),
        (91, "reverted"),
    ]
    assert data["versions"]["7"]["role"] == "new"
    assert [p["errorRate"] for p in data["versions"]["7"]["points"]] == [0.09, 0.09]
    # And the page carries the same data, next to the chart (with its error-rate panel)
    page = files.html.read_text()
    assert embedded_data(page) == json.loads(json.dumps(data))
    assert "error rate (%)" in page
    assert files.png.read_bytes().startswith(b"\x89PNG")


def test_report_page_escapes_what_it_shows(tmp_path: Path) -> None:
    described = _described("FAILED", stop=1, error="InvalidInput", cause="</script><b>x</b>")

    files = write_report(report_data(described, []), tmp_path, stem="odd name/../x")

    page = files.html.read_text()
    assert files.html.parent == tmp_path
    assert "<b>x</b>" not in page
    assert embedded_data(page)["execution"]["cause"] == "</script><b>x</b>"


# --- fakes ------------------------------------------------------------------------------


def _state(
    index: int,
    *,
    decision: str = "continue",
    started: datetime = T0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "deployment": DEPLOYMENT,
        "cursor": {
            "stepIndex": index,
            "weightPercent": DEPLOYMENT["plan"][index]["percent"],  # type: ignore[index]
            "stepStartedAt": started.timestamp(),
            "decision": decision,
            "reason": f"{decision} at step {index + 1}",
            **(extra or {}),
        },
    }


def _exited(event_id: int, name: str, output: dict[str, Any], at: float = 0) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "TaskStateExited",
        "timestamp": T0 + timedelta(seconds=at),
        "stateExitedEventDetails": {"name": name, "output": json.dumps(output)},
    }


def _described(status: str, *, stop: float | None = None, **extra: Any) -> dict[str, Any]:
    described = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:sm:rollout-1",
        "name": "rollout-1",
        "status": status,
        "startDate": T0,
        **extra,
    }
    if stop is not None:
        described["stopDate"] = T0 + timedelta(seconds=stop)
    return described


class _PagedHistory:
    def __init__(self, count: int, page: int) -> None:
        self.events = [{"id": i, "type": "Any"} for i in range(1, count + 1)]
        self.page = page
        self.pages_read = 0

    def get_paginator(self, name: str) -> _PagedHistory:
        assert name == "get_execution_history"
        return self

    def paginate(self, *, executionArn: str, reverseOrder: bool) -> Any:
        ordered = list(reversed(self.events)) if reverseOrder else self.events
        for start in range(0, len(ordered), self.page):
            self.pages_read += 1
            yield {"events": ordered[start : start + self.page]}
