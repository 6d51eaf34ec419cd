"""The `trafficshift` command: plan, start and follow deployments; run the local emulator."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from rich.console import Console
from rich.table import Table

from rollout.domain.errors import InvalidInput
from rollout.domain.strategies import plan as plan_strategy
from trafficshift.progress import follow

app = typer.Typer(
    help="Safe, step-by-step releases of AWS Lambda functions through an alias.",
    no_args_is_help=True,
    add_completion=False,
)
local = typer.Typer(
    help="The local emulator: moto, the synthesized state machine, the real handlers."
)
app.add_typer(local, name="local")
console = Console()
errors = Console(stderr=True)

EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", envvar="TRAFFICSHIFT_ENDPOINT_URL", help="e.g. the emulator's"),
]
Region = Annotated[str | None, typer.Option("--region", envvar="AWS_REGION")]
Profile = Annotated[str | None, typer.Option("--profile", envvar="AWS_PROFILE")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _session(profile: str | None, region: str | None) -> boto3.Session:
    return boto3.Session(profile_name=profile, region_name=region or "us-east-1")


def _parse_strategy(text: str) -> Any:
    text = text.strip()
    return json.loads(text) if text.startswith("{") else text


@app.command()
def plan(
    strategy: Annotated[str, typer.Argument(help="A CodeDeploy name or a JSON strategy object.")],
    as_json: AsJson = False,
) -> None:
    """Print the weight schedule a strategy makes."""
    try:
        steps = plan_strategy(_parse_strategy(strategy))
    except (InvalidInput, ValueError) as exc:
        errors.print(f"[red]invalid strategy[/red]: {exc}")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps([s.to_dict() for s in steps]))
        return
    table = Table("step", "new version's weight", "bake")
    elapsed = 0
    for index, step in enumerate(steps, start=1):
        table.add_row(str(index), f"{step.percent:g}%", f"{step.bake_seconds} s")
        elapsed += step.bake_seconds
    console.print(table)
    console.print(f"total bake: {elapsed} s")


@app.command()
def start(
    input_file: Annotated[
        Path,
        typer.Argument(help="The deployment input as JSON (the README's contract); - for stdin."),
    ],
    state_machine_arn: Annotated[
        str, typer.Option("--state-machine-arn", envvar="TRAFFICSHIFT_STATE_MACHINE_ARN")
    ],
    name: Annotated[str | None, typer.Option(help="Execution name (default: generated).")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow progress to the end.")
    ] = True,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Start a deployment and, by default, follow it live."""
    raw = sys.stdin.read() if str(input_file) == "-" else input_file.read_text()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        errors.print(f"[red]the input is not JSON[/red]: {exc}")
        raise typer.Exit(2) from None
    sfn = _session(profile, region).client("stepfunctions", endpoint_url=endpoint_url)
    execution = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=name or f"cli-{uuid.uuid4().hex[:12]}",
        input=json.dumps(body),
    )["executionArn"]
    if not wait:
        print(json.dumps({"executionArn": execution}) if as_json else execution)
        return
    raise typer.Exit(_watch(sfn, execution, as_json))


@app.command()
def watch(
    execution_arn: str,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Follow a deployment until it ends."""
    sfn = _session(profile, region).client("stepfunctions", endpoint_url=endpoint_url)
    raise typer.Exit(_watch(sfn, execution_arn, as_json))


def _watch(sfn: Any, execution_arn: str, as_json: bool) -> int:
    code = 1
    for item in follow(sfn, execution_arn):
        if as_json:
            print(
                json.dumps(
                    {
                        "kind": item.kind,
                        "text": item.text,
                        "step": item.step,
                        "weight": item.weight,
                        "decision": item.decision,
                    }
                )
            )
        else:
            console.print(_styled(item.kind, item.text))
        if item.kind == "finished":
            code = 0 if item.decision == "SUCCEEDED" else 1
    return code


def _styled(kind: str, text: str) -> str:
    colour = {"shifted": "cyan", "promoted": "green", "reverting": "yellow"}.get(kind)
    if kind == "finished":
        colour = "green" if text.startswith("SUCCEEDED") else "red"
    return f"[{colour}]{text}[/{colour}]" if colour else text


@local.command("demo")
def local_demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated traffic.")] = 7,
) -> None:
    """A healthy canary that promotes and a bad one that reverts, on the local emulator."""
    from trafficshift.demo import run_demo  # imports moto; keep `trafficshift plan` light

    raise typer.Exit(run_demo(console, seed=seed))


@local.command("serve")
def local_serve(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 = any free one).")] = 5000,
    region: Annotated[str, typer.Option()] = "us-east-1",
) -> None:
    """Keep the emulator running with the control plane deployed; prints its endpoint as JSON."""
    from trafficshift.emulator.server import serve

    serve(port=port, region=region)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
