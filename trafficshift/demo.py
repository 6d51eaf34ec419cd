"""`trafficshift local demo`: three real rollouts on the local emulator, shown live.

1. a healthy canary (v1 -> v2) that promotes: a pre-traffic hook smoke-tests v2 before any
   traffic moves, and an operator approves it at the gate before 100%;
2. a bad version (v2 -> v3, 40% of its requests fail) that the version-versus-version
   analysis catches on its own, with no alarm configured, so the deployment reverts to v2;
3. a zip of new, healthy code uploaded to the artifact bucket: the upload alone starts the
   rollout (v2 -> v4), which promotes.

Simulated traffic invokes the alias throughout; every invocation publishes the per-version
AWS/Lambda metrics that Lambda would (the emulator's invoke seam; moto publishes none), and
the Check task reads them with GetMetricData, exactly as on AWS. The demo runs in the
emulator's fast metric mode (`lambda_metrics.IMMEDIATE`: 1-second "minutes", delivered as
they end, judged 1 s later), not the AWS-like one (1-minute periods, 1 to 3 minutes late),
so that it takes seconds rather than many minutes.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from trafficshift.emulator.logs import handler_logs_to
from trafficshift.progress import follow

FUNCTION = "orders-api"
ALIAS = "live"
STRATEGY = {
    "type": "steps",
    "steps": [{"percent": 20, "bakeSeconds": 6}, {"percent": 50, "bakeSeconds": 6}],
}
# Tuned for a demo that should take seconds: fewer requests before a step may pass, a
# larger regression to catch and a short extension than the AWS defaults.
ANALYSIS = {
    "minInvocations": 40,
    "minLatencyInvocations": 40,
    "maxErrorRateIncrease": 0.05,
    "maxExtensionSeconds": 20,
    "settleSeconds": 1,  # the fast metric mode's minutes land as they end
}
TRAFFIC_PER_SECOND = 40
ROLLOUT_TIMEOUT_SECONDS = 60


def run_demo(console: Console, *, seed: int = 7) -> int:
    # Print to the real terminal even while the handlers' stdout goes to the log file.
    console = Console(file=console.file)
    log_path = Path(tempfile.mkdtemp(prefix="trafficshift-demo-")) / "handler-logs.jsonl"
    with handler_logs_to(log_path):
        code = _run(console, seed)
    console.print(f"the handlers' logs (what CloudWatch Logs would hold): {log_path}")
    return code


def _run(console: Console, seed: int) -> int:
    from trafficshift.emulator import lambda_metrics
    from trafficshift.emulator.cloud import LocalCloud
    from trafficshift.emulator.sample import create_sample_function, publish_version_with
    from trafficshift.emulator.traffic import TrafficGenerator

    say = console.print
    say("[bold]trafficshift local demo[/bold]: the synthesized control plane on moto")
    started = time.monotonic()
    with LocalCloud(metric_delivery=lambda_metrics.IMMEDIATE) as cloud:
        arn = cloud.state_machine_arn
        say(f"control plane deployed in {time.monotonic() - started:.1f} s: {arn}")
        say(
            "metrics in the fast mode: 1-second minutes delivered as they end "
            "(on AWS: 1-minute periods, minutes late)"
        )
        lam = cloud.client("lambda")
        sfn = cloud.client("stepfunctions")
        create_sample_function(lam, name=FUNCTION, alias=ALIAS)
        say(
            f"sample function {FUNCTION}: versions 1 and 2, alias {ALIAS} -> 1; "
            f"{TRAFFIC_PER_SECOND} requests/s through the alias; no alarms"
        )
        traffic = TrafficGenerator(
            lam, FUNCTION, ALIAS, rate_per_second=TRAFFIC_PER_SECOND, seed=seed
        )
        traffic.start()
        try:
            hook = _smoke_test_hook(lam)
            say(f"pre-traffic hook {hook}: invokes the new version directly before any traffic")
            with _operator_approves(cloud, console):
                healthy = _rollout(
                    console,
                    sfn,
                    cloud.state_machine_arn,
                    "healthy-canary",
                    "2",
                    hooks={"preTraffic": hook},
                    approval={"timeoutSeconds": 60},
                )
            bad_version = publish_version_with(lam, FUNCTION, error_rate=0.4)
            say(f"\npublished version {bad_version}: 40% of its requests fail")
            bad = _rollout(console, sfn, cloud.state_machine_arn, "bad-canary", bad_version)
            uploaded = _upload_rollout(console, cloud)
        finally:
            traffic.stop()
        _summary(console, lam, traffic)
        _write_reports(console, sfn, cloud.state_machine_arn)
    ok = healthy == "SUCCEEDED" and bad == "FAILED" and uploaded == "SUCCEEDED"
    say(
        "[bold green]demo finished: one promotion, one revert, one promotion from an "
        "upload[/bold green]"
        if ok
        else f"[bold red]demo did not go as planned: {healthy}, {bad}, {uploaded}[/bold red]"
    )
    return 0 if ok else 1


def _rollout(
    console: Console,
    sfn: Any,
    state_machine_arn: str,
    name: str,
    version: str,
    **extra: Any,
) -> str:
    request = {
        "functionName": FUNCTION,
        "alias": ALIAS,
        "targetVersion": version,
        "strategy": STRATEGY,
        "analysis": ANALYSIS,
        "pollIntervalSeconds": 1,
        **extra,
    }
    console.print(f"\n[bold]rollout {name}[/bold]: {json.dumps(request)}")
    started = time.monotonic()
    execution = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=f"{name}-{int(time.time())}",
        input=json.dumps(request),
    )["executionArn"]
    return _follow(console, sfn, execution, started)


def _follow(console: Console, sfn: Any, execution: str, started: float) -> str:
    status = "UNKNOWN"
    waiting = False
    for item in follow(sfn, execution, poll_seconds=0.2, timeout_seconds=ROLLOUT_TIMEOUT_SECONDS):
        elapsed = time.monotonic() - started
        if item.kind == "checked" and item.decision == "continue":
            continue  # one line per step, not per poll
        if item.kind == "checked" and item.decision == "approve":
            if waiting:
                continue  # one line for the gate, not one per gate poll
            waiting = True
        colour = {"shifted": "cyan", "promoted": "green", "reverting": "yellow"}.get(item.kind, "")
        if item.kind == "finished":
            status = item.decision or status
            colour = "green" if status == "SUCCEEDED" else "red"
        text = f"[{colour}]{item.text}[/{colour}]" if colour else item.text
        console.print(f"  {elapsed:5.1f}s  {text}")
    return status


# The hook checks the new version itself (its qualified name), before the alias sends it
# any traffic; the sample function answers {"ok": true, ...}.
_SMOKE_TEST = """import json, os, boto3

def handler(event, context):
    target = event["trafficshift"]["targetQualifiedName"]
    lam = boto3.client("lambda", region_name=os.environ["AWS_REGION"])
    answer = lam.invoke(FunctionName=target, Payload=b"{}")
    if answer.get("FunctionError"):
        return {"status": "Failed", "reason": f"{target} raised: {answer['Payload'].read()!r}"}
    return {"status": "Succeeded"}
"""


def _smoke_test_hook(lam: Any) -> str:
    from trafficshift.emulator.sample import create_function_from_source

    return create_function_from_source(lam, "CodeDeployHook_orders_smoke", _SMOKE_TEST)


@contextlib.contextmanager
def _operator_approves(cloud: Any, console: Console) -> Iterator[None]:
    """An operator who approves the rollout a moment after it reaches its approval gate,
    as `trafficshift approve` does (the ledger signal, then SendTaskSuccess)."""
    from rollout.adapters.ledger import Ledger
    from trafficshift.signals import send_signal

    ledger = Ledger(cloud.ledger_table, cloud.client("dynamodb"))
    sfn = cloud.client("stepfunctions")
    done = threading.Event()

    def approve() -> None:
        while not done.wait(0.2):
            for execution in sfn.list_executions(
                stateMachineArn=cloud.state_machine_arn, statusFilter="RUNNING"
            )["executions"]:
                arn = execution["executionArn"]
                if ledger.approval_token(arn) and not done.wait(1.5):
                    send_signal(ledger, sfn, arn, "approve", "demo-operator")
                    console.print("         [magenta]demo-operator: trafficshift approve[/magenta]")
                    return

    operator = threading.Thread(target=approve, name="demo-operator", daemon=True)
    operator.start()
    try:
        yield
    finally:
        done.set()
        operator.join(timeout=5)


def _summary(console: Console, lam: Any, traffic: Any) -> None:
    alias = lam.get_alias(FunctionName=FUNCTION, Name=ALIAS)
    routing = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    console.print(
        f"\nalias {ALIAS} now serves version {alias['FunctionVersion']}"
        + (f" with routing {routing}" if routing else " only")
    )
    for version, counts in sorted(traffic.stats().items()):
        console.print(
            f"  version {version}: {counts['invocations']} requests, {counts['errors']} errors"
        )


def _write_reports(console: Console, sfn: Any, state_machine_arn: str) -> None:
    """The report (chart + page) of every rollout the demo ran, as `trafficshift report`."""
    from trafficshift.report import load, write_report

    out_dir = Path(tempfile.mkdtemp(prefix="trafficshift-demo-reports-"))
    executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    console.print(f"\n[bold]reports[/bold] (alias weight, decisions; open the .html): {out_dir}")
    for execution in sorted(executions, key=lambda e: e["startDate"]):
        files = write_report(load(sfn, execution["executionArn"]), out_dir)
        console.print(f"  {execution['name']}: {files.png.name}, {files.html.name}")


def _upload_rollout(console: Console, cloud: Any) -> str:
    """Upload build 4 to the artifact bucket; the upload alone starts its rollout."""
    from trafficshift.emulator.sample import sample_code_zip
    from trafficshift.upload import execution_arn, upload_artifact

    lam = cloud.client("lambda")
    # The bad version's ERROR_RATE is still $LATEST's configuration: the new build runs clean.
    variables = lam.get_function_configuration(FunctionName=FUNCTION)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=FUNCTION, Environment={"Variables": {**variables, "ERROR_RATE": "0"}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=FUNCTION)
    path = Path(tempfile.mkdtemp(prefix="trafficshift-demo-")) / "build-4.zip"
    path.write_bytes(sample_code_zip("4"))
    manifest = {"strategy": STRATEGY, "analysis": ANALYSIS, "pollIntervalSeconds": 1}
    started = time.monotonic()
    uploaded = upload_artifact(cloud.client("s3"), cloud.artifact_bucket, path, FUNCTION, manifest)
    console.print(
        f"\n[bold]rollout from an upload[/bold]: s3://{uploaded['bucket']}/{uploaded['key']} "
        f"(manifest {json.dumps(manifest)}) started execution {uploaded['executionName']}"
    )
    execution = execution_arn(cloud.state_machine_arn, uploaded["executionName"])
    return _follow(console, cloud.client("stepfunctions"), execution, started)
