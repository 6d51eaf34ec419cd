"""The `trafficshift` command: plan, start, follow and report rollouts; run the emulator.

Exit codes (README, "Exit codes"): 0 promoted (or, for `status`, still running), 1 reverted
or otherwise not promoted, 2 bad input, 3 AWS or connection error. Every error is one line
on stderr; `--debug` adds the traceback.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from rollout.domain.errors import InvalidInput, Throttled
from rollout.domain.request import parse_request
from rollout.domain.strategies import effective_poll_interval, total_bake_seconds
from rollout.domain.strategies import plan as plan_strategy
from trafficshift.aws import (
    ARTIFACT_BUCKET_OUTPUT,
    CliError,
    Connection,
    aws_error,
    bad_input,
)
from trafficshift.progress import (
    EXIT_AWS_ERROR,
    EXIT_BAD_INPUT,
    Progress,
    Snapshot,
    Tracker,
    exit_code_of,
    follow,
    outcome_of,
    pct,
    poll,
    snapshot,
)

app = typer.Typer(
    help="Safe, step-by-step releases of AWS Lambda functions through an alias.\n\n"
    "Exit codes: 0 promoted, 1 reverted (or not promoted), 2 bad input, "
    "3 AWS or connection error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
local = typer.Typer(
    help="The local emulator: moto, the synthesized state machine, the real handlers.",
    no_args_is_help=True,
)
app.add_typer(local, name="local")
# Lines are never wrapped: a CI log keeps each event on one line, whatever its width.
console = Console(soft_wrap=True)

# A rollout runs at most 8 days (the state machine's timeout); --wait never gives up first.
WAIT_LIMIT_SECONDS = 9 * 24 * 3600
_EXECUTION_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


_CONNECTION = "Connection"
Profile = Annotated[
    str | None,
    typer.Option(
        "--profile", help="AWS profile (default: AWS_PROFILE).", rich_help_panel=_CONNECTION
    ),
]
Region = Annotated[
    str | None,
    typer.Option(
        "--region",
        envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's).",
        rich_help_panel=_CONNECTION,
    ),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="TRAFFICSHIFT_ENDPOINT_URL",
        help="Talk to this endpoint instead of AWS, e.g. the emulator's.",
        rich_help_panel=_CONNECTION,
    ),
]
StateMachine = Annotated[
    str | None,
    typer.Option(
        "--state-machine",
        "--state-machine-arn",
        help="The control plane's state machine (ARN or name). Default: "
        "TRAFFICSHIFT_STATE_MACHINE_ARN, else the TrafficShift stack's StateMachineArn output.",
        rich_help_panel=_CONNECTION,
    ),
]
Output = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", case_sensitive=False, help="text for people, json for scripts."),
]
Debug = Annotated[
    bool, typer.Option("--debug", envvar="TRAFFICSHIFT_DEBUG", help="Show tracebacks of errors.")
]
Execution = Annotated[
    str | None,
    typer.Argument(
        help="Execution ARN or name. Default: the newest rollout (of --function, if given).",
        show_default=False,
    ),
]
FunctionFilter = Annotated[
    str | None, typer.Option("--function", "-f", help="Only rollouts of this function.")
]
Interval = Annotated[
    float, typer.Option("--interval", min=0.1, help="Seconds between two reads of the execution.")
]

Command = TypeVar("Command", bound=Callable[..., Any])


def _command(function: Command) -> Command:
    """One line and the documented exit code for every error; the traceback with --debug."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return function(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except CliError as exc:
            if debug:
                traceback.print_exc()
            _fail(exc.message, exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as exc:
            if debug:
                raise
            _fail(
                f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)",
                EXIT_AWS_ERROR,
            )

    return run  # type: ignore[return-value]


def _fail(message: str, code: int) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(code)


def _connection(
    profile: str | None, region: str | None, endpoint_url: str | None, state_machine: str | None
) -> Connection:
    return Connection(
        profile=profile, region=region, endpoint_url=endpoint_url, state_machine=state_machine
    )


def _print_json(value: Any) -> None:
    print(json.dumps(value, default=str))


# --- plan -----------------------------------------------------------------------------


@app.command()
@_command
def plan(
    strategy: Annotated[
        str, typer.Argument(help="A CodeDeploy name (Canary10Percent5Minutes) or a JSON object.")
    ],
    poll_interval: Annotated[
        int, typer.Option("--poll-interval", min=1, help="The health poll you would ask for.")
    ] = 30,
    output: Output = OutputFormat.text,
    debug: Debug = False,
) -> None:
    """Print the weight and bake schedule of a strategy, and the total time."""
    steps = _planned(_strategy_arg(strategy))
    schedule, elapsed = [], 0
    for index, step in enumerate(steps, start=1):
        schedule.append(
            {
                "step": index,
                "percent": step.percent,
                "bakeSeconds": step.bake_seconds,
                "startsAtSeconds": elapsed,
            }
        )
        elapsed += step.bake_seconds
    total = total_bake_seconds(steps)
    poll = effective_poll_interval(steps, poll_interval)
    if output is OutputFormat.json:
        _print_json(
            {
                "strategy": _strategy_arg(strategy),
                "steps": schedule,
                "totalSeconds": total,
                "pollIntervalSeconds": poll,
            }
        )
        return
    table = Table("step", "new version", "bake", "starts at")
    for row in schedule:
        table.add_row(
            str(row["step"]),
            f"{pct(row['percent'])}%",
            duration(row["bakeSeconds"]),
            f"+{duration(row['startsAtSeconds'])}",
        )
    console.print(table)
    noun = "step" if len(steps) == 1 else "steps"
    console.print(f"total: {duration(total)} ({total} s) of bake, {len(steps)} {noun}")
    if poll != poll_interval:
        console.print(f"health poll: every {poll} s (raised from {poll_interval} s for this plan)")


def _strategy_arg(text: str) -> Any:
    text = text.strip()
    if text.startswith(("{", "[", '"')):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise bad_input(f"the strategy is not valid JSON: {exc}") from exc
    return text


def _planned(strategy: Any) -> Any:
    try:
        return plan_strategy(strategy)
    except InvalidInput as exc:
        raise bad_input(f"invalid strategy: {exc}") from exc


# --- start ----------------------------------------------------------------------------


@app.command()
@_command
def start(
    input_file: Annotated[
        Path | None,
        typer.Argument(
            help="A JSON file of the input contract (README, 'The input'); - for stdin. "
            "Flags override its fields.",
            show_default=False,
        ),
    ] = None,
    function: Annotated[
        str | None, typer.Option("--function", "-f", help="functionName: name or ARN.")
    ] = None,
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="The alias to shift.")] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="targetVersion: the version to roll out.")
    ] = None,
    publish: Annotated[
        bool | None,
        typer.Option("--publish/--no-publish", help="Publish the current code and roll it out."),
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="A CodeDeploy name or a JSON object.")
    ] = None,
    alarm: Annotated[
        list[str] | None, typer.Option("--alarm", help="A CloudWatch alarm to watch (repeat).")
    ] = None,
    analysis: Annotated[
        bool | None,
        typer.Option(
            "--analysis/--no-analysis",
            help="Version-versus-version analysis (on by default; off = alarms only).",
        ),
    ] = None,
    poll_interval: Annotated[
        int | None, typer.Option("--poll-interval", min=1, help="pollIntervalSeconds.")
    ] = None,
    approval_timeout: Annotated[
        int | None,
        typer.Option(
            "--approval-timeout",
            help="Wait up to this many seconds for `trafficshift approve` before 100% "
            "(approval.timeoutSeconds; turns the approval gate on).",
            show_default=False,
        ),
    ] = None,
    pre_traffic: Annotated[
        str | None,
        typer.Option(
            "--pre-traffic",
            help="hooks.preTraffic: a hook function run before any traffic moves.",
            show_default=False,
        ),
    ] = None,
    post_traffic: Annotated[
        str | None,
        typer.Option(
            "--post-traffic",
            help="hooks.postTraffic: a hook function run once the new version takes 100%.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Execution name (default: generated).")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Follow to the end; exit 0 promoted, 1 reverted."),
    ] = False,
    interval: Interval = 2.0,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    state_machine: StateMachine = None,
    output: Output = OutputFormat.text,
    debug: Debug = False,
) -> None:
    """Start a rollout from flags or from a JSON file; --wait follows it to the end (for CI)."""
    body = _read_input(input_file)
    flags: dict[str, Any] = {
        "functionName": function,
        "alias": alias,
        "targetVersion": version,
        "publish": publish,
        "strategy": _strategy_arg(strategy) if strategy is not None else None,
        "alarms": alarm or None,
        "pollIntervalSeconds": poll_interval,
    }
    body.update({key: value for key, value in flags.items() if value is not None})
    if analysis is False:
        body["analysis"] = {"enabled": False}
    if approval_timeout is not None:
        body["approval"] = {"timeoutSeconds": approval_timeout}
    for key, hook in (("preTraffic", pre_traffic), ("postTraffic", post_traffic)):
        if hook is not None:
            body["hooks"] = {**(body.get("hooks") or {}), key: hook}
    if version is not None:
        body.pop("publish", None)
    elif publish:
        body.pop("targetVersion", None)
    try:
        parsed = parse_request(body)
    except InvalidInput as exc:
        raise bad_input(f"invalid input: {exc}") from exc

    conn = _connection(profile, region, endpoint_url, state_machine)
    machine = conn.state_machine_arn()
    request = parsed.request
    _check_function(conn, request.function_name, request.alias, request.target_version)
    sfn = conn.client("stepfunctions")
    execution_name = _execution_name(name, parsed.function_name, request.alias)
    with conn.errors("StartExecution"):
        started = sfn.start_execution(
            stateMachineArn=machine, name=execution_name, input=json.dumps(body)
        )
    arn = str(started["executionArn"])
    if not wait:
        if output is OutputFormat.json:
            _print_json({"executionArn": arn, "name": execution_name, "stateMachineArn": machine})
        else:
            console.print(f"started {execution_name}")
            console.print(f"follow it: trafficshift watch {execution_name}", highlight=False)
            print(arn)
        return
    if output is OutputFormat.text:
        console.print(f"started {execution_name}  ({arn})", highlight=False)
    raise typer.Exit(_follow_to_end(conn, arn, output, interval))


def _read_input(input_file: Path | None) -> dict[str, Any]:
    if input_file is None:
        return {}
    where = "stdin" if str(input_file) == "-" else str(input_file)
    try:
        raw = sys.stdin.read() if str(input_file) == "-" else input_file.read_text()
    except OSError as exc:
        raise bad_input(f"cannot read {where}: {exc.strerror or exc}") from exc
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise bad_input(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_input(
            f"{where} must hold a JSON object (the input contract), not {type(body).__name__}"
        )
    return body


def _check_function(conn: Connection, function: str, alias: str, version: str | None) -> None:
    """Refuse an unknown function, alias or version before anything starts (GetAlias)."""
    lam = conn.client("lambda")
    try:
        with conn.errors("GetAlias"):
            try:
                lam.get_alias(FunctionName=function, Name=alias)
            except lam.exceptions.ResourceNotFoundException:
                if _function_exists(lam, function):
                    raise bad_input(
                        f"{function} has no alias {alias!r} in {conn.where}: create it with "
                        f"`aws lambda create-alias --function-name {function} --name {alias} "
                        "--function-version <stable version>`"
                    ) from None
                raise bad_input(f"no Lambda function {function!r} in {conn.where}") from None
            if version is not None:
                try:
                    lam.get_function_configuration(FunctionName=function, Qualifier=version)
                except lam.exceptions.ResourceNotFoundException:
                    raise bad_input(f"{function} has no version {version}") from None
    except CliError as exc:
        # Starting an execution may be all a CI role can do; Prepare checks the same things.
        if exc.exit_code == EXIT_AWS_ERROR and "access denied" in exc.message:
            return
        raise


def _function_exists(lam: Any, function: str) -> bool:
    try:
        lam.get_function_configuration(FunctionName=function)
    except lam.exceptions.ResourceNotFoundException:
        return False
    return True


def _execution_name(name: str | None, function: str, alias: str) -> str:
    if name:
        return name
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    prefix = _EXECUTION_NAME.sub("-", f"{function}-{alias}")[:60]
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:4]}"


# --- following ------------------------------------------------------------------------


def _follow_to_end(conn: Connection, arn: str, output: OutputFormat, interval: float) -> int:
    """Print progress (text) until the end; print the outcome; return the exit code."""
    sfn = conn.client("stepfunctions")
    with conn.errors():
        for item in follow(sfn, arn, poll_seconds=interval, timeout_seconds=WAIT_LIMIT_SECONDS):
            if output is OutputFormat.text and item.kind != "finished":
                console.print(_styled(item), highlight=False)
        final = snapshot(sfn, arn)
    if output is OutputFormat.json:
        _print_json(final.to_dict())
    else:
        console.print(_outcome_line(final), highlight=False)
    return exit_code_of(final.outcome)


def _styled(item: Progress) -> str:
    stamp = datetime.now().strftime("%H:%M:%S")
    colour = {
        "shifted": "cyan",
        "promoted": "green",
        "reverting": "yellow",
        "refused": "yellow",
    }.get(item.kind)
    text = item.text
    if item.kind == "checked" and item.decision == "fail":
        colour = "red"
    if item.data.get("versions"):
        text += "  " + _numbers_text(item.data["versions"])
    return f"{stamp}  [{colour}]{text}[/{colour}]" if colour else f"{stamp}  {text}"


def _numbers_text(numbers: list[Any]) -> str:
    parts = []
    for n in numbers:
        rate = f"{n.error_rate:.2%}" if n.error_rate is not None else "-"
        parts.append(f"v{n.version}: {int(n.errors)}/{int(n.invocations)} errors ({rate})")
    return ", ".join(parts)


def _outcome_line(snap: Snapshot) -> str:
    colour = {"promoted": "green", "running": "cyan"}.get(snap.outcome, "red")
    where = f"{snap.function}:{snap.alias}" if snap.function else snap.name
    detail = f": {snap.cause}" if snap.cause else ""
    return f"[bold {colour}]{snap.outcome}[/bold {colour}]  {where}{detail}"


@app.command()
@_command
def status(
    execution: Execution = None,
    function: FunctionFilter = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    state_machine: StateMachine = None,
    output: Output = OutputFormat.text,
    debug: Debug = False,
) -> None:
    """Show one rollout: step, weight, verdict, numbers, time left, outcome."""
    conn = _connection(profile, region, endpoint_url, state_machine)
    arn = _resolve_execution(conn, execution, function)
    with conn.errors():
        snap = snapshot(conn.client("stepfunctions"), arn)
    if output is OutputFormat.json:
        _print_json(snap.to_dict())
    else:
        console.print(_view(snap))
    raise typer.Exit(exit_code_of(snap.outcome))


@app.command()
@_command
def watch(
    execution: Execution = None,
    function: FunctionFilter = None,
    interval: Interval = 2.0,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    state_machine: StateMachine = None,
    output: Output = OutputFormat.text,
    debug: Debug = False,
) -> None:
    """Follow a rollout live until it ends; exits like `start --wait`."""
    conn = _connection(profile, region, endpoint_url, state_machine)
    arn = _resolve_execution(conn, execution, function)
    if output is OutputFormat.text and not console.is_terminal:
        # In a log (CI), one line per event reads better than a redrawn panel.
        raise typer.Exit(_follow_to_end(conn, arn, output, interval))
    sfn = conn.client("stepfunctions")
    tracker = Tracker()
    snap: Snapshot | None = None
    try:
        with conn.errors():
            if output is OutputFormat.json:
                for described, new, _done in poll(
                    sfn, arn, poll_seconds=interval, timeout_seconds=WAIT_LIMIT_SECONDS
                ):
                    tracker.feed(new)
                    snap = tracker.snapshot(described)
                    if new or _done:
                        _print_json(snap.to_dict())
            else:
                from rich.live import Live

                with Live(console=console, refresh_per_second=4, transient=False) as live:
                    for described, new, _done in poll(
                        sfn, arn, poll_seconds=interval, timeout_seconds=WAIT_LIMIT_SECONDS
                    ):
                        tracker.feed(new)
                        snap = tracker.snapshot(described)
                        live.update(_view(snap))
    except KeyboardInterrupt:
        _fail(f"stopped watching; the rollout goes on: {arn}", 130)
    assert snap is not None  # poll yields at least once
    raise typer.Exit(exit_code_of(snap.outcome))


def _view(snap: Snapshot) -> Any:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("rollout", snap.name)
    if snap.function:
        head.add_row("function", f"{snap.function}:{snap.alias}")
    if snap.stable_version or snap.target_version:
        head.add_row(
            "versions", f"v{snap.stable_version or '?'} (stable) -> v{snap.target_version or '?'}"
        )
    colour = {"promoted": "green", "running": "cyan"}.get(snap.outcome, "red")
    head.add_row("outcome", f"[{colour}]{snap.outcome}[/{colour}]  ({snap.status})")
    if snap.step is not None:
        head.add_row("step", f"{snap.step}/{snap.steps}")
    if snap.weight_percent is not None:
        head.add_row(
            "weight", f"{pct(snap.weight_percent)}% on the new version  {_bar(snap.weight_percent)}"
        )
    if snap.decision:
        head.add_row("verdict", f"{snap.decision}: {snap.reason or ''}")
    if snap.elapsed_seconds is not None:
        head.add_row("elapsed", duration(snap.elapsed_seconds))
    if snap.status == "RUNNING" and snap.time_left_seconds is not None:
        head.add_row("time left", f"about {duration(snap.time_left_seconds)} of bake")
    if snap.cause:
        head.add_row("cause", snap.cause)
    parts: list[Any] = [head]
    if snap.versions:
        numbers = Table("version", "role", "invocations", "errors", "error rate")
        for n in snap.versions:
            rate = f"{n.error_rate:.2%}" if n.error_rate is not None else "-"
            numbers.add_row(f"v{n.version}", n.role, f"{n.invocations:g}", f"{n.errors:g}", rate)
        parts.append(numbers)
    return Panel(Group(*parts), title="trafficshift", expand=False)


def _bar(percent: float, width: int = 20) -> str:
    filled = round(percent / 100 * width)
    return "[magenta]" + "█" * filled + "[/magenta]" + "░" * (width - filled)


# --- list / history -------------------------------------------------------------------


def _list(
    function: FunctionFilter = None,
    status_filter: Annotated[
        str | None,
        typer.Option(
            "--status", help="RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.", show_default=False
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    state_machine: StateMachine = None,
    output: Output = OutputFormat.text,
    debug: Debug = False,
) -> None:
    """List rollouts, newest first (from ListExecutions and each execution's input)."""
    conn = _connection(profile, region, endpoint_url, state_machine)
    rows = list(_executions(conn, function=function, status=status_filter, limit=limit))
    if output is OutputFormat.json:
        _print_json(rows)
        return
    if not rows:
        console.print("no rollouts" + (f" of {function}" if function else ""))
        return
    table = Table("started", "rollout", "outcome", "function:alias", "version", "strategy", "took")
    for row in rows:
        colour = {"promoted": "green", "running": "cyan"}.get(row["outcome"], "red")
        table.add_row(
            row["startDate"][:19].replace("T", " "),
            row["name"],
            f"[{colour}]{row['outcome']}[/{colour}]",
            f"{row['functionName']}:{row['alias'] or '(default)'}",
            _version_label(row),
            row["strategy"] or ("(manifest)" if row["artifact"] else ""),
            duration(row["durationSeconds"]) if row["durationSeconds"] is not None else "",
        )
    console.print(table)


app.command("list")(_command(_list))
app.command("history", help="The same as `list`: past and running rollouts, newest first.")(
    _command(_list)
)


def _executions(
    conn: Connection, *, function: str | None, status: str | None = None, limit: int = 20
) -> Iterator[dict[str, Any]]:
    sfn = conn.client("stepfunctions")
    machine = conn.state_machine_arn()
    options: dict[str, Any] = {"stateMachineArn": machine}
    if status:
        options["statusFilter"] = status.upper()
    found = 0
    with conn.errors():
        for page in sfn.get_paginator("list_executions").paginate(**options):
            summaries = sorted(page["executions"], key=lambda e: e["startDate"], reverse=True)
            for summary in summaries:
                described = sfn.describe_execution(executionArn=summary["executionArn"])
                row = _row(described)
                if function and not _same_function(row["functionName"], function):
                    continue
                yield row
                found += 1
                if found >= limit:
                    return


def _row(described: Mapping[str, Any]) -> dict[str, Any]:
    request = _json_object(described.get("input"))
    started, stopped = described.get("startDate"), described.get("stopDate")
    took = (stopped - started).total_seconds() if started and stopped else None
    if took is None and started:
        took = (datetime.now(UTC) - started).total_seconds()
    artifact = request.get("artifact") if isinstance(request.get("artifact"), Mapping) else None
    function = _bare_function(request.get("functionName"))
    if artifact and not function:
        # An upload names its function by the key's folder: <function-name>/<name>.zip.
        function = str(artifact.get("key", "")).split("/", 1)[0] or None
    return {
        "executionArn": described["executionArn"],
        "name": described.get("name"),
        "status": described["status"],
        "outcome": outcome_of(described["status"], described.get("error")),
        "functionName": function,
        "alias": request.get("alias"),
        "artifact": f"s3://{artifact.get('bucket')}/{artifact.get('key')}" if artifact else None,
        "targetVersion": request.get("targetVersion"),
        "publish": bool(request.get("publish")),
        "strategy": _strategy_label(request.get("strategy")),
        "startDate": started.isoformat() if started else "",
        "stopDate": stopped.isoformat() if stopped else None,
        "durationSeconds": round(took, 1) if took is not None else None,
        "error": described.get("error"),
        "cause": described.get("cause"),
    }


def _version_label(row: Mapping[str, Any]) -> str:
    if row["targetVersion"]:
        return str(row["targetVersion"])
    if row["artifact"]:
        return "upload"
    return "publish" if row["publish"] else ""


def _resolve_execution(conn: Connection, execution: str | None, function: str | None) -> str:
    if execution:
        return conn.execution_arn(execution)
    newest = next(_executions(conn, function=function, limit=1), None)
    if newest is None:
        raise bad_input("no rollouts yet" + (f" of {function}" if function else ""))
    return str(newest["executionArn"])


def _same_function(found: Any, wanted: str) -> bool:
    return bool(found) and _bare_function(found) == _bare_function(wanted)


def _bare_function(value: Any) -> Any:
    if isinstance(value, str) and ":function:" in value:
        return value.rsplit(":function:", 1)[-1]
    return value


def _strategy_label(strategy: Any) -> str:
    if isinstance(strategy, str):
        return strategy
    if isinstance(strategy, Mapping):
        kind = strategy.get("type", "?")
        if kind == "steps":
            steps = strategy.get("steps") or []
            return "steps " + ",".join(
                f"{pct(s.get('percent', 0))}%" for s in steps if isinstance(s, Mapping)
            )
        numbers = [f"{k}={v}" for k, v in strategy.items() if k != "type"]
        return f"{kind} " + " ".join(numbers)
    return ""


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- operator signals -----------------------------------------------------------------

SignalExecution = Annotated[
    str, typer.Argument(help="Execution ARN or name of a running rollout.", show_default=False)
]
By = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who sends it, recorded with the signal. Default: the caller's AWS identity "
        "(STS GetCallerIdentity), else $USER.",
        show_default=False,
    ),
]
TableName = Annotated[
    str | None,
    typer.Option(
        "--table",
        help="The ledger table. Default: TRAFFICSHIFT_TABLE_NAME, else the TrafficShift "
        "stack's LedgerTableName output.",
        rich_help_panel=_CONNECTION,
        show_default=False,
    ),
]

_SIGNALS: dict[str, str] = {
    "approve": 'Pass a rollout\'s approval gate (input "approval"): it goes on to 100% at '
    "once if it is waiting there, else when it reaches the gate.",
    "promote": "Skip the remaining steps: 100% on the new version at the rollout's next poll.",
    "abort": "Revert now: the alias goes back to the stable version at the rollout's next poll.",
    "pause": "Stop a rollout's bake clock until `resume` (health is still judged: an alarm "
    "still reverts).",
    "resume": "Restart the bake clock of a paused rollout.",
}


def _signal_command(action: str) -> Callable[..., None]:
    def send(
        execution: SignalExecution,
        by: By = None,
        table: TableName = None,
        profile: Profile = None,
        region: Region = None,
        endpoint_url: EndpointUrl = None,
        state_machine: StateMachine = None,
        output: Output = OutputFormat.text,
        debug: Debug = False,
    ) -> None:
        conn = Connection(
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
            state_machine=state_machine,
            table=table,
        )
        _send_signal(conn, action, execution, by, output)

    send.__name__ = f"signal_{action}"
    send.__doc__ = _SIGNALS[action]
    return send


def _send_signal(
    conn: Connection, action: str, execution: str, by: str | None, output: OutputFormat
) -> None:
    from botocore.exceptions import ClientError

    from rollout.adapters.ledger import Ledger
    from trafficshift.signals import send_signal

    arn = conn.execution_arn(execution.strip())
    table = conn.table_name()
    sender = by or _caller(conn)
    ledger = Ledger(table, conn.client("dynamodb"))
    try:
        with conn.errors("TransactWriteItems"):
            try:
                sent, answered = send_signal(
                    ledger, conn.client("stepfunctions"), arn, action, sender
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    raise aws_error(
                        f"no ledger table {table!r} in {conn.where}: check --table or "
                        "TRAFFICSHIFT_TABLE_NAME, or deploy with `cdk deploy`"
                    ) from exc
                raise
    except InvalidInput as exc:
        raise bad_input(f"{exc.problem}; {exc.fix}") from exc
    except Throttled as exc:
        raise aws_error(f"DynamoDB throttled the signal; try again: {exc}") from exc
    if output is OutputFormat.json:
        _print_json(
            {
                "executionArn": arn,
                "action": sent.action.value,
                "by": sent.by,
                "at": datetime.fromtimestamp(sent.at, UTC).isoformat(),
                "id": sent.id,
                "table": table,
                "answeredApprovalGate": answered,
            }
        )
    else:
        when = (
            "the rollout was waiting at its approval gate: it takes effect now"
            if answered
            else "Check reads it at its next poll"
        )
        console.print(
            f"sent {sent.action.value} to {arn.rsplit(':', 1)[-1]} (by {sent.by}); {when}",
            highlight=False,
        )


def _caller(conn: Connection) -> str:
    """The caller's AWS identity (its ARN), else the local user name."""
    try:
        with conn.errors():
            return str(conn.client("sts").get_caller_identity()["Arn"])
    except CliError:
        import getpass

        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return "trafficshift-cli"


for _action in _SIGNALS:
    app.command(_action)(_command(_signal_command(_action)))


# --- report ---------------------------------------------------------------------------


@app.command()
@_command
def report(
    execution: Execution = None,
    function: FunctionFilter = None,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for <rollout>.png and <rollout>.html.")
    ] = Path("trafficshift-reports"),
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    state_machine: StateMachine = None,
    output: Output = OutputFormat.text,
    debug: Debug = False,
) -> None:
    """Write a chart of one rollout: alias weight over time, each version's error rate,
    and a marker for each decision (PNG, plus a self-contained HTML page)."""
    from trafficshift.report import load, write_report

    conn = _connection(profile, region, endpoint_url, state_machine)
    arn = _resolve_execution(conn, execution, function)
    with conn.errors():
        data = load(conn.client("stepfunctions"), arn)
    try:
        files = write_report(data, out)
    except OSError as exc:
        raise bad_input(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
    if output is OutputFormat.json:
        _print_json({"executionArn": arn, "png": str(files.png), "html": str(files.html)})
    else:
        console.print(f"chart: {files.png}", highlight=False)
        console.print(f"page:  {files.html}", highlight=False)


# --- local ----------------------------------------------------------------------------


@local.command("demo")
@_command
def local_demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated traffic.")] = 7,
    debug: Debug = False,
) -> None:
    """A healthy canary that promotes and a bad one that reverts, on the local emulator."""
    from trafficshift.demo import run_demo  # imports moto; keep the other commands light

    raise typer.Exit(run_demo(console, seed=seed))


@local.command("serve")
@_command
def local_serve(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 = any free one).")] = 5000,
    region: Annotated[str, typer.Option(help="The emulated region.")] = "us-east-1",
    debug: Debug = False,
) -> None:
    """Keep the emulator running with the control plane deployed; prints its endpoint as JSON.

    The CLI finds the state machine there as on AWS: the emulator records a TrafficShift
    stack whose StateMachineArn output names it. Stop with Ctrl-C.
    """
    _serve(port, region)


@local.command("upload")
@_command
def local_upload(
    zip_file: Annotated[
        Path, typer.Argument(help="The function's new code, a .zip.", show_default=False)
    ],
    function: Annotated[
        str, typer.Option("--function", "-f", help="The function to roll it out to.")
    ],
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest",
            help="The upload's manifest: a JSON file or object with any of alias, strategy, "
            "alarms, pollIntervalSeconds (default: the control plane's defaults).",
        ),
    ] = None,
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Manifest alias.")] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="Manifest strategy.")
    ] = None,
    alarm: Annotated[list[str] | None, typer.Option("--alarm", help="Manifest alarm.")] = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket", help="Default: the TrafficShift stack's ArtifactBucketName output."
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Follow to the end; exit 0 promoted, 1 reverted."),
    ] = False,
    interval: Interval = 1.0,
    endpoint_url: EndpointUrl = None,
    state_machine: StateMachine = None,
    output: Output = OutputFormat.text,
    debug: Debug = False,
) -> None:
    """Upload a zip to the emulator's artifact bucket: the upload starts the rollout."""
    from trafficshift.upload import execution_arn, upload_artifact

    if not endpoint_url:
        raise bad_input(
            "pass --endpoint-url (or set TRAFFICSHIFT_ENDPOINT_URL): the URL that "
            "`trafficshift local serve` printed"
        )
    if not zip_file.is_file():
        raise bad_input(f"no such file: {zip_file}")
    fields = _manifest(manifest)
    extra = {"alias": alias, "strategy": strategy and _strategy_arg(strategy), "alarms": alarm}
    fields.update({key: value for key, value in extra.items() if value})
    if "strategy" in fields:
        _planned(fields["strategy"])
    conn = _connection(None, None, endpoint_url, state_machine)
    lam = conn.client("lambda")
    with conn.errors("GetFunctionConfiguration"):
        if not _function_exists(lam, function):
            raise bad_input(f"no Lambda function {function!r} in {conn.where}")
    target = bucket or conn.stack_output(ARTIFACT_BUCKET_OUTPUT)
    try:
        with conn.errors("PutObject"):
            uploaded = upload_artifact(
                conn.client("s3"), target, zip_file, function, fields or None
            )
    except ValueError as exc:
        raise bad_input(str(exc)) from exc
    arn = execution_arn(conn.state_machine_arn(), uploaded["executionName"])
    if output is OutputFormat.json and not wait:
        _print_json({**uploaded, "executionArn": arn})
        return
    if output is OutputFormat.text:
        console.print(
            f"uploaded s3://{uploaded['bucket']}/{uploaded['key']} "
            f"(version {uploaded['versionId']}); it starts {uploaded['executionName']}",
            highlight=False,
        )
    if not wait:
        console.print(f"follow it: trafficshift watch {uploaded['executionName']}", highlight=False)
        return
    _wait_for_start(conn, arn)
    raise typer.Exit(_follow_to_end(conn, arn, output, interval))


def _manifest(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    if not text.lstrip().startswith("{"):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise bad_input(f"cannot read the manifest {text}: {exc.strerror or exc}") from exc
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise bad_input(f"the manifest is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise bad_input("the manifest must be a JSON object")
    return value


def _wait_for_start(conn: Connection, arn: str, timeout_seconds: float = 120) -> None:
    """The upload's event starts the execution a moment later (S3 -> EventBridge -> trigger)."""
    sfn = conn.client("stepfunctions")
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with conn.errors():
                sfn.describe_execution(executionArn=arn)
            return
        except CliError as exc:
            if "no such execution" not in exc.message or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def _serve(port: int, region: str) -> None:
    import logging
    import signal
    import threading

    from trafficshift.emulator.server import start_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        running = start_server(port, region=region)
    except OSError as exc:
        raise aws_error(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    stdout = sys.stdout
    try:
        info = running.info()
        _record_stack(
            running.cloud,
            info.get("stateMachineArn"),
            info.get("artifactBucket"),
            info.get("ledgerTable"),
        )
        stdout.write(json.dumps(info) + "\n")
        stdout.flush()
        # The ready line is the only stdout output: handler logs and EMF metrics (which
        # Powertools prints) go to stderr from here on, as `serve()` does.
        sys.stdout = sys.stderr
        while not stop.wait(0.2):
            pass
    finally:
        sys.stdout = stdout
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        running.stop()


def _record_stack(
    cloud: Any,
    state_machine_arn: str | None,
    artifact_bucket: str | None,
    ledger_table: str | None = None,
) -> None:
    """Record the deployed control plane as the stack `cdk deploy` would have made, with
    its StateMachineArn output, so that DescribeStacks finds it here as on AWS."""
    import warnings

    from trafficshift.aws import (
        ARTIFACT_BUCKET_OUTPUT,
        LEDGER_TABLE_OUTPUT,
        STACK_NAME,
        STATE_MACHINE_OUTPUT,
    )

    if not state_machine_arn:
        return
    outputs = {STATE_MACHINE_OUTPUT: {"Value": state_machine_arn}}
    if artifact_bucket:
        outputs[ARTIFACT_BUCKET_OUTPUT] = {"Value": artifact_bucket}
    if ledger_table:
        outputs[LEDGER_TABLE_OUTPUT] = {"Value": ledger_table}
    template = {
        "Description": "trafficshift control plane (the emulator's record of it)",
        "Resources": {"Deployed": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    with warnings.catch_warnings():
        # moto parses the placeholder resource without creating anything, and says so.
        warnings.simplefilter("ignore")
        cloud.client("cloudformation").create_stack(
            StackName=STACK_NAME, TemplateBody=json.dumps(template)
        )


# --- formatting -----------------------------------------------------------------------


def duration(seconds: float) -> str:
    """45 s, 5 min, 1 h 30 min, 2 d 3 h."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        minutes, rest = divmod(s, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    if s < 86400:
        hours, rest = divmod(s, 3600)
        return f"{hours} h" + (f" {rest // 60} min" if rest // 60 else "")
    days, rest = divmod(s, 86400)
    return f"{days} d" + (f" {rest // 3600} h" if rest // 3600 else "")


def main(argv: list[str] | None = None) -> None:
    """The console script: a usage error is one line and exit code 2, like any bad input."""
    try:
        code = app(args=argv, prog_name="trafficshift", standalone_mode=False)
    except typer.TyperException as exc:
        # typer's (vendored click's) usage errors: a missing argument, a bad option value.
        context = getattr(exc, "ctx", None)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(message)
        else:
            where = context.command_path if context is not None else "trafficshift"
            print(f"error: {' '.join(message.split())} (see `{where} --help`)", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    except typer.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
