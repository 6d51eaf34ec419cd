"""Benchmark: chaos. N rollouts on the emulator, each with a seeded fault at a random point.

The faults (`trafficshift.emulator.chaos`): a task crashing before or after one of its AWS
calls, throttling (an API's next calls, Lambda's control plane held to 1-3 requests/s, a
task throttled mid-way), `Sandbox.Timedout`, StopExecution at a random moment, someone
else's UpdateAlias mid-rollout, the alarm flipping to ALARM and back, a DynamoDB brownout.

After every rollout the invariants (`trafficshift.emulator.invariants`): the alias on one
version with no routing (the one the outcome means) or the other party's edit untouched,
no lock left, a complete history record, exactly one outcome event on EventBridge.

Prints the fault mix, the counts (per fault kind, outcomes, executions' statuses, rollouts
that settled only after the scheduled sweep) and every invariant violation with its
rollout, execution and fault; then the figures as one JSON line. Exits 1 on any violation.

Run: `python bench/chaos.py --rollouts 500 --seed 1` (handler logs go to a temp file).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from trafficshift.emulator.chaos import KINDS, Result, draw_plans, run_chaos
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.logs import handler_logs_to


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds")
    parser.add_argument("--quiet", action="store_true", help="no line per rollout")
    args = parser.parse_args()
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"--kinds: unknown {unknown}; use some of {list(KINDS)}")
    plans = draw_plans(args.rollouts, args.seed, kinds)
    err = sys.stderr  # the handlers' logs take stdout while the cloud runs

    def progress(result: Result) -> None:
        if args.quiet and not result.violations:
            return
        plan = result.plan
        mark = "VIOLATION" if result.violations else "ok"
        print(
            f"{plan.index + 1:4d}/{len(plans)} {mark:9} {plan.kind:12} "
            f"{result.outcome or result.status:13} {result.seconds:5.1f}s  {plan.detail}",
            file=err,
            flush=True,
        )

    logs = Path(tempfile.mkdtemp(prefix="trafficshift-chaos-")) / "handler-logs.jsonl"
    with handler_logs_to(logs), LocalCloud(routing_seed=args.seed) as cloud:
        report = run_chaos(cloud, plans, on_result=progress)

    summary = report.summary()
    print(f"{summary['rollouts']} rollouts, seed {args.seed}, one fault each")
    print(f"  wall time             {summary['wallSeconds']} s")
    print("  fault mix             rollouts / took effect / violations")
    for kind, counts in summary["byKind"].items():
        print(
            f"    {kind:20} {counts['rollouts']:4d} / {counts['fired']:4d} / {counts['violations']}"
        )
    print(f"  bad (alarm on split)  {summary['bad']}")
    print(f"  outcomes              {summary['outcomes']}")
    print(f"  executions            {summary['statuses']}")
    print(f"  settled by the sweep  {summary['settledBySweep']}")
    print(f"  events redelivered    {summary['redeliveredEvents']} (the same outcome again)")
    print(f"  invariant violations  {summary['violations']}")
    for result, violation in report.violations():
        plan = result.plan
        print(
            f"    #{plan.index + 1} {plan.kind} ({plan.detail}; {plan.strategy}, "
            f"bad={plan.bad}) {result.expected.execution_arn}: {violation}"
        )
    print(f"  handler logs          {logs}")
    print(json.dumps({"seed": args.seed, **summary}))
    return 1 if summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
