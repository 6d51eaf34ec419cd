"""Benchmark: a 10-step linear rollout with zero bake on the local emulator.

Prints the control plane's own cost per deployment:
- overhead per step, in wall-clock seconds (with zero bake, all of it is overhead);
- state transitions, counted from the execution history (what Standard workflows bill);
- Lambda control-plane API calls (they share 15 requests/s per account and region).

Targets (issue 2): <= 0.5 s per step on the emulator, <= 4 transitions per step + 10,
<= steps + 6 control-plane calls. Run: `make bench` (or python bench/rollout_overhead.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.logs import handler_logs_to
from trafficshift.emulator.metering import count_api_calls
from trafficshift.emulator.sample import create_sample_function

STRATEGY = {"type": "linear", "percent": 10, "intervalSeconds": 0}
STEPS = 10


def one_rollout(cloud: LocalCloud, function: str, target: str) -> dict[str, float]:
    sfn = cloud.client("stepfunctions")
    request = {
        "functionName": function,
        "alias": "live",
        "targetVersion": target,
        "strategy": STRATEGY,
        "pollIntervalSeconds": 1,
        # no traffic in this benchmark: it measures the workflow's own overhead
        "analysis": {"enabled": False},
    }
    with count_api_calls() as calls:
        started = time.perf_counter()
        arn = sfn.start_execution(
            stateMachineArn=cloud.state_machine_arn,
            name=f"bench-{uuid.uuid4().hex[:12]}",
            input=json.dumps(request),
        )["executionArn"]
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            time.sleep(0.005)
        wall = time.perf_counter() - started
    if described["status"] != "SUCCEEDED":
        raise SystemExit(f"rollout did not succeed: {described}")
    events = sfn.get_execution_history(executionArn=arn)["events"]
    transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    return {
        "wall": wall,
        "transitions": transitions,
        "controlPlaneCalls": calls.lambda_control_plane(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="trafficshift-bench-")) / "handler-logs.jsonl"
    with handler_logs_to(logs), LocalCloud(routing_seed=1) as cloud:
        lam = cloud.client("lambda")
        results = []
        for run in range(args.runs):
            name = f"bench-{run}"
            sample = create_sample_function(lam, name=name, alias="live")
            results.append(one_rollout(cloud, name, sample.candidate_version))
    walls = [r["wall"] for r in results]
    per_step = statistics.median(walls) / STEPS
    transitions = int(results[0]["transitions"])
    calls = int(results[0]["controlPlaneCalls"])
    figures = {
        "steps": STEPS,
        "runs": args.runs,
        "wallSecondsMedian": round(statistics.median(walls), 3),
        "overheadSecondsPerStep": round(per_step, 3),
        "stateTransitions": transitions,
        "stateTransitionsTarget": 4 * STEPS + 10,
        "lambdaControlPlaneCalls": calls,
        "lambdaControlPlaneCallsTarget": STEPS + 6,
    }
    print(f"10-step linear rollout, zero bake, {args.runs} runs on the emulator")
    print(f"  overhead per step      {per_step:.3f} s  (target <= 0.5 s)")
    print(f"  state transitions      {transitions}  (target <= {4 * STEPS + 10})")
    print(f"  Lambda control-plane   {calls} calls  (target <= {STEPS + 6})")
    print(json.dumps(figures))
    ok = per_step <= 0.5 and transitions <= 4 * STEPS + 10 and calls <= STEPS + 6
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
