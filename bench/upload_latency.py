"""Benchmark: from uploading a zip to the first traffic shift, on the local emulator.

The upload is a PutObject to the artifact bucket of the synthesized template; moto's S3
sends "Object Created" to EventBridge, the rule invokes the trigger, which starts the
execution: UpdateCode -> WaitForCode -> PublishArtifact -> Prepare -> SetWeight. The clock
stops when moto applies the first weighted routing to the alias (ground truth, not a poll).

Prints, per run and as the median: upload -> first shift, upload -> promoted, and the
state transitions the upload adds before Prepare. Target (issue 3): first shift < 5 s.

moto applies a code update at once; AWS takes seconds. `--update-seconds 2` makes the
emulator keep the function InProgress that long (fidelity.set_update_duration), to see what
the Wait loop adds on top of Lambda's own update time.

Run: python bench/upload_latency.py [--runs 5] [--update-seconds 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 5.0
STRATEGY = {"type": "linear", "percent": 50, "intervalSeconds": 0}


def one_upload(cloud: Any, function: str, build: str, shifted: dict[str, float]) -> dict[str, Any]:
    from trafficshift.emulator.sample import sample_code_zip
    from trafficshift.upload import execution_arn, upload_artifact

    sfn = cloud.client("stepfunctions")
    path = Path(tempfile.mkdtemp(prefix="trafficshift-bench-")) / f"build-{build}.zip"
    path.write_bytes(sample_code_zip(build))
    manifest = {"strategy": STRATEGY, "pollIntervalSeconds": 1, "analysis": {"enabled": False}}

    started = time.perf_counter()
    uploaded = upload_artifact(cloud.client("s3"), cloud.artifact_bucket, path, function, manifest)
    arn = execution_arn(cloud.state_machine_arn, uploaded["executionName"])
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.005)
    finished = time.perf_counter()
    if described["status"] != "SUCCEEDED" or function not in shifted:
        raise SystemExit(f"the upload's rollout did not succeed: {described}")
    events = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    return {
        "firstShiftSeconds": shifted[function] - started,
        "promotedSeconds": finished - started,
        "transitionsBeforePrepare": entered.index("Prepare"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--update-seconds", type=float, default=0.0)
    args = parser.parse_args()
    # Lambda sets these for the handlers; here the handlers run in this process.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "TrafficShift")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "trafficshift")

    from moto.awslambda.models import LambdaAlias

    from trafficshift.emulator import fidelity
    from trafficshift.emulator.cloud import LocalCloud
    from trafficshift.emulator.logs import handler_logs_to
    from trafficshift.emulator.sample import create_sample_function

    shifted: dict[str, float] = {}
    lock = threading.Lock()
    original = LambdaAlias.update

    def update(self: LambdaAlias, *a: Any, **k: Any) -> Any:
        result = original(self, *a, **k)
        function = self.arn.split(":function:", 1)[1].split(":", 1)[0]
        with lock:
            shifted.setdefault(function, time.perf_counter())
        return result

    logs = Path(tempfile.mkdtemp(prefix="trafficshift-bench-")) / "handler-logs.jsonl"
    results = []
    LambdaAlias.update = update  # type: ignore[method-assign]
    try:
        with handler_logs_to(logs), LocalCloud(routing_seed=1) as cloud:
            lam = cloud.client("lambda")
            for run in range(args.runs):
                name = f"upload-bench-{run}"
                create_sample_function(lam, name=name, alias="live")
                fidelity.set_update_duration(args.update_seconds)
                try:
                    results.append(one_upload(cloud, name, str(10 + run), shifted))
                finally:
                    fidelity.set_update_duration(0)
    finally:
        LambdaAlias.update = original  # type: ignore[method-assign]

    first = statistics.median(r["firstShiftSeconds"] for r in results)
    promoted = statistics.median(r["promotedSeconds"] for r in results)
    transitions = results[0]["transitionsBeforePrepare"]
    print(
        f"upload -> first traffic shift, {args.runs} runs on the emulator "
        f"(code updates take {args.update_seconds:g} s)"
    )
    for index, r in enumerate(results, start=1):
        print(
            f"  run {index}: first shift {r['firstShiftSeconds']:.3f} s, "
            f"promoted {r['promotedSeconds']:.3f} s"
        )
    print(f"  median first shift     {first:.3f} s  (target < {TARGET_SECONDS:g} s)")
    print(f"  median promoted        {promoted:.3f} s  (2 steps, zero bake)")
    print(f"  transitions before Prepare  {transitions}")
    print(
        json.dumps(
            {
                "runs": args.runs,
                "updateSeconds": args.update_seconds,
                "uploadToFirstShiftSecondsMedian": round(first, 3),
                "uploadToFirstShiftSecondsMax": round(
                    max(r["firstShiftSeconds"] for r in results), 3
                ),
                "uploadToPromotedSecondsMedian": round(promoted, 3),
                "transitionsBeforePrepare": transitions,
                "targetSeconds": TARGET_SECONDS,
            }
        )
    )
    return 0 if first < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
