"""Benchmark: many rollouts of different functions at once, under Lambda's control-plane limit.

Starts `--rollouts` rollouts (one per function, 100 by default) at the same moment on the
local emulator, with Lambda's account-level control-plane limit on: one token bucket of
`--rate` requests per second (15 on AWS, shared by every control-plane API and not
raisable; `trafficshift.emulator.faults.control_plane_rate_limit`). A seeded draw decides
which rollouts are bad: their alarm goes into ALARM the moment their alias is first split,
so their first Check reverts them; every other rollout must promote.

Prints the Lambda control-plane calls by API, the throttled responses and where they were
absorbed (botocore's retries inside a handler, or the state machine's Retry of a task
that raised `Throttled`), the wall time and the outcomes. Exits 1 if any rollout's outcome
is not the intended one (including one that failed because of throttling), or if a lock
is left held or an alias left split.

Run: `python bench/scale.py` (`--rollouts 100 --rate 15`; see --help).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trafficshift.emulator import faults
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.driver import alarm_on_first_split
from trafficshift.emulator.logs import handler_logs_to
from trafficshift.emulator.metering import count_api_calls
from trafficshift.emulator.sample import create_errors_alarm, create_sample_function

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
PROMOTED, ROLLED_BACK = "promoted", "rolled back"
# Two steps (50%, then 100%), each baked for one second, polled every second.
STRATEGY = {"type": "linear", "percent": 50, "intervalSeconds": 1}


@dataclass
class Planned:
    function: str
    alarm: str
    intended: str
    execution: str = ""


def plan(cloud: LocalCloud, rollouts: int, bad_share: float, seed: int) -> list[Planned]:
    """Create the functions (versions 1 and 2, alias live on 1) and their alarms; draw
    which rollouts are bad. Done before the limit is on: setup is not what is measured."""
    lam, cw = cloud.client("lambda"), cloud.client("cloudwatch")
    draw = random.Random(seed)
    bad = set(draw.sample(range(rollouts), round(rollouts * bad_share)))
    planned = []
    for index in range(rollouts):
        name = f"scale-{index:03d}-{uuid.uuid4().hex[:6]}"
        create_sample_function(lam, name=name, alias="live")
        alarm = create_errors_alarm(cw, name)
        planned.append(Planned(name, alarm, ROLLED_BACK if index in bad else PROMOTED))
    return planned


def start_all(cloud: LocalCloud, planned: list[Planned]) -> None:
    sfn = cloud.client("stepfunctions")
    for item in planned:
        request = {
            "functionName": item.function,
            "alias": "live",
            "targetVersion": "2",
            "strategy": STRATEGY,
            "pollIntervalSeconds": 1,
            "alarms": [item.alarm],
            # no simulated traffic: the alarms judge
            "analysis": {"enabled": False},
        }
        item.execution = sfn.start_execution(
            stateMachineArn=cloud.state_machine_arn,
            name=f"scale-{item.function}",
            input=json.dumps(request),
        )["executionArn"]


def wait_all(
    cloud: LocalCloud, planned: list[Planned], timeout: float
) -> dict[str, dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    finished: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(finished) < len(planned):
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{len(planned) - len(finished)} rollouts still running after {timeout} s"
            )
        for item in planned:
            if item.execution not in finished:
                described = sfn.describe_execution(executionArn=item.execution)
                if described["status"] in TERMINAL:
                    finished[item.execution] = described
        time.sleep(0.2)
    return finished


def outcome_of(described: dict[str, Any]) -> str:
    if described["status"] == "SUCCEEDED":
        if json.loads(described.get("output") or "{}").get("outcome") == "PROMOTED":
            return PROMOTED
    elif described["status"] == "FAILED" and described.get("error") == "DeploymentRolledBack":
        return ROLLED_BACK
    return f"{described['status']} {described.get('error') or ''}".strip()


def state_machine_retries(cloud: LocalCloud, planned: list[Planned]) -> collections.Counter[str]:
    """Task failures with the error `Throttled` in the histories, by state: each is a handler
    whose botocore retries were all throttled, retried by the state machine's Retry."""
    sfn = cloud.client("stepfunctions")
    retried: collections.Counter[str] = collections.Counter()
    for item in planned:
        state = ""
        paginator = sfn.get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=item.execution):
            for event in page["events"]:
                if "stateEnteredEventDetails" in event:
                    state = event["stateEnteredEventDetails"]["name"]
                failed = event.get("lambdaFunctionFailedEventDetails") or event.get(
                    "taskFailedEventDetails"
                )
                if failed and failed.get("error") == "Throttled":
                    retried[state] += 1
    return retried


def leftovers(cloud: LocalCloud, planned: list[Planned], outcomes: dict[str, str]) -> list[str]:
    """Every alias on exactly the intended version with no routing, every lock released."""
    lam, ddb = cloud.client("lambda"), cloud.client("dynamodb")
    problems = []
    for item in planned:
        alias = lam.get_alias(FunctionName=item.function, Name="live")
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        wanted = "2" if outcomes[item.function] == PROMOTED else "1"
        if alias["FunctionVersion"] != wanted or weights:
            problems.append(f"{item.function}: alias on {alias['FunctionVersion']} {weights}")
    locks = ddb.scan(
        TableName=cloud.ledger_table,
        FilterExpression="begins_with(pk, :lock)",
        ExpressionAttributeValues={":lock": {"S": "LOCK#"}},
    )["Items"]
    problems += [f"lock still held: {item['pk']['S']}" for item in locks]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=100, help="rollouts (one function each)")
    parser.add_argument("--rate", type=float, default=15.0, help="control-plane requests/s")
    parser.add_argument("--burst", type=float, default=None, help="bucket size (default: rate)")
    parser.add_argument("--bad-share", type=float, default=0.2, help="share of bad rollouts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait")
    args = parser.parse_args()
    burst = args.burst if args.burst is not None else args.rate

    logs = Path(tempfile.mkdtemp(prefix="trafficshift-bench-")) / "handler-logs.jsonl"
    with handler_logs_to(logs), LocalCloud(routing_seed=args.seed) as cloud:
        planned = plan(cloud, args.rollouts, args.bad_share, args.seed)
        bad = {p.function: p.alarm for p in planned if p.intended == ROLLED_BACK}
        with (
            alarm_on_first_split(cloud, bad),
            count_api_calls() as calls,
            faults.control_plane_rate_limit(rate=args.rate, burst=burst) as bucket,
        ):
            started = time.perf_counter()
            start_all(cloud, planned)
            finished = wait_all(cloud, planned, args.timeout)
            wall = time.perf_counter() - started
        by_function = {p.function: outcome_of(finished[p.execution]) for p in planned}
        causes = {p.function: finished[p.execution].get("cause", "") for p in planned}
        retried = state_machine_retries(cloud, planned)
        problems = leftovers(cloud, planned, {p.function: p.intended for p in planned})

    wrong = [p for p in planned if by_function[p.function] != p.intended]
    lambda_calls = {a: n for a, n in sorted(calls.of("lambda").items()) if a != "Invoke"}
    surfaced = sum(retried.values())  # each is the last of a handler's throttled attempts
    figures = {
        "rollouts": args.rollouts,
        "rate": args.rate,
        "burst": burst,
        "seed": args.seed,
        "wallSeconds": round(wall, 1),
        "controlPlaneCalls": sum(lambda_calls.values()),
        "controlPlaneCallsByApi": lambda_calls,
        "throttledResponses": bucket.throttled,
        "throttledByApi": dict(sorted(bucket.throttled_by_action.items())),
        "absorbedByBotocoreRetries": bucket.throttled - surfaced,
        "absorbedByStateMachineRetry": surfaced,
        "stateMachineRetriesByState": dict(sorted(retried.items())),
        "intended": dict(collections.Counter(p.intended for p in planned)),
        "outcomes": dict(collections.Counter(by_function.values())),
        "wrongOutcomes": len(wrong),
        "leftovers": len(problems),
    }
    print(f"{args.rollouts} rollouts at once, control plane limited to {args.rate:g} requests/s")
    print(f"  wall time                 {wall:.1f} s")
    print(f"  control-plane calls       {figures['controlPlaneCalls']} admitted: {lambda_calls}")
    print(f"  throttled responses       {bucket.throttled}: {figures['throttledByApi']}")
    print(f"    absorbed by botocore    {figures['absorbedByBotocoreRetries']} (in the handler)")
    print(f"    absorbed by Retry       {surfaced} (task raised Throttled: {dict(retried)})")
    print(f"  intended                  {figures['intended']}")
    print(f"  outcomes                  {figures['outcomes']}")
    for item in wrong:
        got = by_function[item.function]
        cause = causes[item.function]
        print(f"  WRONG {item.function}: intended {item.intended}, got {got}: {cause}")
    for problem in problems:
        print(f"  LEFT {problem}")
    print(json.dumps(figures))
    return 1 if wrong or problems else 0


if __name__ == "__main__":
    sys.exit(main())
