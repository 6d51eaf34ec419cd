"""`trafficshift report`: one rollout as a chart (PNG) and a self-contained HTML page.

The data come from the execution's own history, nothing else: each SetWeight output is a
point of the alias weight, each Check output that is not "keep baking" is a decision
marker, and each version's error rate is drawn when the Checks record per-version
numbers (with alarms only, they do not). The HTML page holds the chart as inline SVG and
the data as JSON (`<script type="application/json" id="trafficshift-report-data">`), so
it opens anywhere, offline, and a script can read the same numbers the chart shows.

matplotlib is imported only when a chart is drawn (Agg backend: no display needed).
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trafficshift.progress import Tracker, outcome_of, pct, version_numbers

DATA_ELEMENT_ID = "trafficshift-report-data"
_DECISION_COLOURS = {
    "advance": "#1f77b4",
    "promote": "#2ca02c",
    "promoted": "#2ca02c",
    "fail": "#d62728",
    "error": "#d62728",
    "reverted": "#d62728",
    "refused": "#ff7f0e",
    "failed": "#d62728",
}
_VERSION_COLOURS = {"stable": "#7f7f7f", "new": "#9467bd"}


@dataclass(frozen=True)
class ReportFiles:
    png: Path
    html: Path


# --- data ------------------------------------------------------------------------------


def report_data(
    described: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The report's data, from DescribeExecution and the whole history (oldest first)."""
    started = _when(described.get("startDate")) or _first_timestamp(events)
    stopped = _when(described.get("stopDate"))

    def at(event: Mapping[str, Any]) -> tuple[float, str]:
        when = _when(event.get("timestamp")) or started
        return round((when - started).total_seconds(), 3), when.isoformat()

    tracker = Tracker()
    weights: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    versions: dict[str, list[dict[str, Any]]] = {}
    roles: dict[str, str] = {}
    for event in events:
        tracker.feed([event])
        kind = event.get("type")
        if kind == "TaskStateExited":
            details = event.get("stateExitedEventDetails") or {}
            name = details.get("name")
            output = _json(details.get("output"))
            t, iso = at(event)
            cursor = output.get("cursor") if isinstance(output.get("cursor"), Mapping) else {}
            if name == "SetWeight" and cursor:
                weights.append(
                    {
                        "t": t,
                        "at": iso,
                        "percent": float(cursor["weightPercent"]),
                        "step": int(cursor["stepIndex"]) + 1,
                        "source": "SetWeight",
                    }
                )
            elif name == "Check" and cursor:
                for numbers in version_numbers(output):
                    roles.setdefault(numbers.version, numbers.role)
                    versions.setdefault(numbers.version, []).append(
                        {
                            "t": t,
                            "at": iso,
                            "invocations": numbers.invocations,
                            "errors": numbers.errors,
                            "errorRate": numbers.error_rate,
                        }
                    )
                if cursor.get("decision") != "continue":
                    decisions.append(
                        {
                            "t": t,
                            "at": iso,
                            "decision": str(cursor.get("decision")),
                            "step": int(cursor.get("stepIndex", -1)) + 1,
                            "weightPercent": float(cursor.get("weightPercent", 0)),
                            "reason": str(cursor.get("reason", "")),
                        }
                    )
            elif name == "Promote" and weights and weights[-1]["percent"] < 100:
                # Promoted before the last step: Promote itself moved the alias to 100%.
                weights.append(
                    {"t": t, "at": iso, "percent": 100.0, "step": None, "source": "Promote"}
                )
            elif name == "Revert":
                failure = output.get("failure")
                if (
                    isinstance(failure, Mapping)
                    and failure.get("error") == "DeploymentRolledBack"
                    and weights
                ):
                    weights.append(
                        {"t": t, "at": iso, "percent": 0.0, "step": None, "source": "Revert"}
                    )
        elif kind == "TaskStateEntered":
            details = event.get("stateEnteredEventDetails") or {}
            state = _json(details.get("input"))
            caught = state.get("error")
            if details.get("name") == "Revert" and isinstance(caught, Mapping):
                t, iso = at(event)
                decisions.append(
                    {
                        "t": t,
                        "at": iso,
                        "decision": "error",
                        "step": None,
                        "weightPercent": weights[-1]["percent"] if weights else 0.0,
                        "reason": f"{caught.get('Error')}: {_message(caught.get('Cause'))}",
                    }
                )

    status = str(described["status"])
    outcome = outcome_of(status, described.get("error"))
    if status in ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"):
        end = stopped or started
        decisions.append(
            {
                "t": round((end - started).total_seconds(), 3),
                "at": end.isoformat(),
                "decision": outcome,
                "step": None,
                "weightPercent": weights[-1]["percent"] if weights else 0.0,
                "reason": described.get("cause")
                or _json(described.get("output")).get("outcome")
                or outcome,
            }
        )
    d = tracker.deployment
    request = tracker.request
    return {
        "execution": {
            "arn": described["executionArn"],
            "name": described.get("name") or str(described["executionArn"]).split(":")[-1],
            "status": status,
            "outcome": outcome,
            "error": described.get("error"),
            "cause": described.get("cause"),
            "startedAt": started.isoformat(),
            "stoppedAt": stopped.isoformat() if stopped else None,
        },
        "deployment": {
            "functionName": d.get("functionName") or request.get("functionName"),
            "alias": d.get("alias") or request.get("alias"),
            "stableVersion": d.get("stableVersion"),
            "targetVersion": d.get("targetVersion") or request.get("targetVersion"),
            "plan": d.get("plan", []),
        },
        "weights": weights,
        "decisions": decisions,
        "versions": {
            version: {"role": roles.get(version, ""), "points": points}
            for version, points in versions.items()
        },
    }


def load(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """Read one execution and build its report data."""
    from trafficshift.progress import history

    described = sfn.describe_execution(executionArn=execution_arn)
    return report_data(described, history(sfn, execution_arn))


# --- files ------------------------------------------------------------------------------


def write_report(data: Mapping[str, Any], out_dir: Path, stem: str | None = None) -> ReportFiles:
    """Write `<stem>.png` and `<stem>.html` (stem: the execution name) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _safe(stem or str(data["execution"]["name"]))
    files = ReportFiles(png=out_dir / f"{stem}.png", html=out_dir / f"{stem}.html")
    figure = _figure(data)
    try:
        figure.savefig(files.png, format="png", dpi=110)
        svg = io.StringIO()
        figure.savefig(svg, format="svg")
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    files.html.write_text(_html(data, _inline_svg(svg.getvalue())), encoding="utf-8")
    return files


def embedded_data(page: str) -> dict[str, Any]:
    """The data a report page carries (for scripts and tests)."""
    match = re.search(
        rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', page, re.S
    )
    if match is None:
        raise ValueError("not a trafficshift report page: no embedded data")
    data: dict[str, Any] = json.loads(match.group(1))
    return data


# --- the chart ----------------------------------------------------------------------------


def _figure(data: Mapping[str, Any]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text in the HTML page
    has_versions = bool(data["versions"])
    figure, axes = plt.subplots(
        2 if has_versions else 1,
        1,
        figsize=(10, 6.5 if has_versions else 4.2),
        sharex=True,
        squeeze=False,
    )
    weight_axis = axes[0][0]
    scale, unit = _time_scale(data)
    d, execution = data["deployment"], data["execution"]

    xs, ys = [0.0], [0.0]
    for point in data["weights"]:
        xs.append(point["t"] / scale)
        ys.append(point["percent"])
    end = max([xs[-1], *(m["t"] / scale for m in data["decisions"])])
    xs.append(end)
    ys.append(ys[-1])
    weight_axis.step(xs, ys, where="post", color="#9467bd", linewidth=2, label="new version")
    weight_axis.fill_between(xs, ys, step="post", color="#9467bd", alpha=0.12)
    last = len(data["decisions"]) - 1
    for index, marker in enumerate(data["decisions"]):
        colour = _DECISION_COLOURS.get(marker["decision"], "#333333")
        x = marker["t"] / scale
        for axis in (row[0] for row in axes):
            axis.axvline(x, color=colour, linestyle=":", linewidth=1)
        weight_axis.scatter([x], [marker["weightPercent"]], color=colour, zorder=3, s=28)
        # The outcome (last) is labelled below its point: it often follows the last
        # Check's decision within a second, and the two labels would overlap.
        weight_axis.annotate(
            marker["decision"],
            (x, marker["weightPercent"]),
            textcoords="offset points",
            xytext=(4, -12 if index == last and index > 0 else 6),
            fontsize=8,
            color=colour,
        )
    weight_axis.set_ylim(-3, 108)
    weight_axis.set_ylabel("new version's traffic (%)")
    weight_axis.grid(alpha=0.3)
    title = (
        f"{d.get('functionName')}:{d.get('alias')}  v{d.get('stableVersion') or '?'} -> "
        f"v{d.get('targetVersion') or '?'}  —  {execution['outcome']}"
    )
    weight_axis.set_title(title, fontsize=11)

    bottom = weight_axis
    if has_versions:
        bottom = axes[1][0]
        for version, series in sorted(data["versions"].items()):
            points = [p for p in series["points"] if p["errorRate"] is not None]
            label = f"v{version}" + (f" ({series['role']})" if series["role"] else "")
            bottom.plot(
                [p["t"] / scale for p in points],
                [p["errorRate"] * 100 for p in points],
                marker="o",
                markersize=3,
                color=_VERSION_COLOURS.get(series["role"]),
                label=label,
            )
        bottom.set_ylim(bottom=0)
        bottom.set_ylabel("error rate (%)")
        bottom.grid(alpha=0.3)
        bottom.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel(f"time since start ({unit})")
    figure.tight_layout()
    return figure


def _time_scale(data: Mapping[str, Any]) -> tuple[float, str]:
    span = max([0.0, *(p["t"] for p in data["weights"]), *(m["t"] for m in data["decisions"])])
    if span > 36_000:
        return 3600.0, "h"
    if span > 600:
        return 60.0, "min"
    return 1.0, "s"


def _inline_svg(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


# --- the page -----------------------------------------------------------------------------


def _html(data: Mapping[str, Any], svg: str) -> str:
    e, d = data["execution"], data["deployment"]
    esc = html.escape
    summary = [
        ("function", f"{d.get('functionName')}:{d.get('alias')}"),
        ("versions", f"{d.get('stableVersion') or '?'} -> {d.get('targetVersion') or '?'}"),
        ("outcome", e["outcome"]),
        ("execution", e["arn"]),
        ("started", e["startedAt"]),
        ("stopped", e.get("stoppedAt") or "running"),
    ]
    if e.get("cause"):
        summary.append(("cause", e["cause"]))
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in summary)
    weight_rows = "".join(
        f"<tr><td>{w['t']:.1f}</td><td>{esc(str(w['step'] or ''))}</td>"
        f"<td>{esc(pct(w['percent']))}%</td><td>{esc(w['source'])}</td></tr>"
        for w in data["weights"]
    )
    decision_rows = "".join(
        f"<tr><td>{m['t']:.1f}</td><td>{esc(m['decision'])}</td>"
        f"<td>{esc(pct(m['weightPercent']))}%</td><td>{esc(str(m['reason']))}</td></tr>"
        for m in data["decisions"]
    )
    versions_note = (
        ""
        if data["versions"]
        else "<p class=note>No per-version numbers were recorded by the Checks "
        "(a rollout judged by alarms only has none), so no error-rate panel.</p>"
    )
    # `</` inside a script element would end it early; JSON allows escaping the slash.
    payload = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>trafficshift report: {esc(str(e["name"]))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 72rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ text-align: left; padding: .25rem .75rem; border-bottom: 1px solid #ddd;
  vertical-align: top; }}
.chart svg {{ max-width: 100%; height: auto; }}
.note {{ color: #666; }}
</style></head>
<body>
<h1>Rollout {esc(str(e["name"]))}</h1>
<table>{rows}</table>
<div class="chart">{svg}</div>
{versions_note}
<h2>Alias weight</h2>
<table><tr><th>t (s)</th><th>step</th><th>new version</th><th>set by</th></tr>{weight_rows}</table>
<h2>Decisions</h2>
<table><tr><th>t (s)</th><th>decision</th><th>weight</th><th>why</th></tr>{decision_rows}</table>
<script type="application/json" id="{DATA_ELEMENT_ID}">{payload}</script>
</body></html>
"""


# --- helpers ------------------------------------------------------------------------------


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message(cause: Any) -> str:
    parsed = _json(cause)
    return str(parsed.get("errorMessage") or cause or "")


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _first_timestamp(events: Sequence[Mapping[str, Any]]) -> datetime:
    for event in events:
        when = _when(event.get("timestamp"))
        if when:
            return when
    return datetime.now(UTC)


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-") or "rollout"
