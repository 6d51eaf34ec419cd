"""Chaos: rollouts on the emulator with a seeded fault each, then the invariants checked.

One `LocalCloud` (the synthesized state machine, the real handlers), a fresh function per
rollout, rollouts one at a time (the faults are process-wide, so each one lands on the
rollout it was drawn for). Each rollout gets one fault, drawn from the seed, at a random
point:

| kind           | what happens                                                            |
| -------------- | ----------------------------------------------------------------------- |
| `crash_after`  | a task's runtime exits right after one of its AWS calls took effect     |
| `crash_before` | a task's runtime exits right before one of its AWS calls (after the one |
|                | before it)                                                              |
| `throttle`     | the next N calls of an API are throttled, or Lambda's control plane is  |
|                | held to 1-3 requests/s, or a task is throttled after one of its calls   |
| `timeout`      | a task outlives its Timeout (`Sandbox.Timedout`) after one of its calls |
| `stop`         | StopExecution at a random moment (the reconciler cleans up)             |
| `alias_edit`   | someone else's UpdateAlias mid-rollout (a hand deploy of version 3, or  |
|                | a manual rollback to version 1): it must be left as they set it         |
| `alarm_flip`   | the rollout's alarm goes to ALARM, then back to OK                      |
| `brownout`     | CloudWatch or DynamoDB slow (3-40 s) or failing (500/503) for a while   |

A quarter of the other rollouts are "bad" (their alarm fires once the alias is split), and
every fault that hits Revert runs on a bad one, so Revert's path is hit as often as
Promote's.

After each rollout: wait for the execution to end and the ledger to settle; if it does
not (an event lost, a reconciler invocation that failed), fire the scheduled sweep once,
as EventBridge's schedule does on AWS (every 5 minutes), and count it. Once all have run,
`invariants.violations()` is checked on every rollout.

    with LocalCloud() as cloud:
        report = run_chaos(cloud, draw_plans(50, seed=1))
        assert report.violations() == []
"""

from __future__ import annotations

import collections
import contextlib
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rollout.adapters.ledger import Ledger
from trafficshift.emulator import faults
from trafficshift.emulator.cloud import LocalCloud
from trafficshift.emulator.driver import (
    TERMINAL,
    Rollout,
    alarm_on_first_split,
    new_function,
    sweep,
    task_function,
)
from trafficshift.emulator.invariants import (
    EventTap,
    Expected,
    observe,
    redeliveries,
    violations,
)
from trafficshift.emulator.sample import create_errors_alarm, publish_version_with

__all__ = [
    "KINDS",
    "ChaosReport",
    "Plan",
    "Result",
    "draw_plans",
    "run_chaos",
]

KINDS = (
    "crash_after",
    "crash_before",
    "throttle",
    "timeout",
    "stop",
    "alias_edit",
    "alarm_flip",
    "brownout",
)

# Short bakes and a 1 s poll (the shortest pollIntervalSeconds takes): seconds a rollout.
STRATEGIES = (
    {"type": "linear", "percent": 50, "intervalSeconds": 1},
    {"type": "canary", "percent": 10, "bakeSeconds": 1},
    {"type": "linear", "percent": 34, "intervalSeconds": 0},
)
BAD_SHARE = 0.25
TIMED = ("stop", "alias_edit", "alarm_flip")  # faults from outside, at a moment


@dataclass(frozen=True)
class Point:
    """A place in a task: right after its `nth` successful `service` `action` call."""

    task: str
    service: str
    action: str
    nth: int = 1
    reverts: bool = False  # only reached on the Revert path: run it on a bad rollout
    promotes: bool = False  # only reached on the Promote path: run it on a good one
    steps: bool = False  # reached once per step: skip a random number of them first
    label: str = ""


# After the call took effect (what the retry or the Catch then finds).
AFTER = (
    Point("Prepare", "dynamodb", "PutItem", 1, label="it took the lock"),
    Point("Prepare", "dynamodb", "PutItem", 2, label="it wrote the record"),
    Point("Prepare", "events", "PutEvents", label="it sent Deployment Started"),
    Point("SetWeight", "lambda", "UpdateAlias", steps=True, label="it moved the alias"),
    Point("SetWeight", "dynamodb", "PutItem", steps=True, label="it recorded the step"),
    Point("Check", "dynamodb", "Query", steps=True, label="it read the signals"),
    Point("Promote", "dynamodb", "UpdateItem", 1, promotes=True, label="it recorded PROMOTED"),
    Point("Promote", "dynamodb", "DeleteItem", promotes=True, label="it released the lock"),
    Point("Promote", "events", "PutEvents", promotes=True, label="it sent the outcome event"),
    Point("Revert", "lambda", "UpdateAlias", reverts=True, label="it restored the alias"),
    Point("Revert", "dynamodb", "UpdateItem", 1, reverts=True, label="it recorded ROLLED_BACK"),
    Point("Revert", "dynamodb", "DeleteItem", reverts=True, label="it released the lock"),
    Point("Revert", "events", "PutEvents", reverts=True, label="it sent the outcome event"),
)
# Before a call: right after the call that precedes it. (SetWeight's first AWS call is its
# UpdateAlias: a crash before it has nothing before it to hang on, and changes nothing.)
BEFORE = (
    Point("Prepare", "dynamodb", "PutItem", 1, label="before it reads the alias"),
    Point("Prepare", "lambda", "GetFunctionConfiguration", 2, label="before it writes the record"),
    Point("Check", "dynamodb", "GetItem", steps=True, label="before it reads the signals"),
    Point("Promote", "dynamodb", "PutItem", 1, promotes=True, label="before it records PROMOTED"),
    Point(
        "Promote", "dynamodb", "UpdateItem", 1, promotes=True, label="before it releases the lock"
    ),
    Point("Revert", "lambda", "GetAlias", reverts=True, label="before it restores the alias"),
    Point("Revert", "dynamodb", "PutItem", reverts=True, label="before it records ROLLED_BACK"),
    Point("Revert", "dynamodb", "UpdateItem", 1, reverts=True, label="before it frees the lock"),
)
THROTTLED_APIS = (
    ("lambda", "UpdateAlias"),
    ("lambda", "GetAlias"),
    ("lambda", "GetFunctionConfiguration"),
    ("dynamodb", "PutItem"),
    ("dynamodb", "UpdateItem"),
    ("dynamodb", "GetItem"),
    ("dynamodb", "Query"),
    ("dynamodb", "DeleteItem"),
    ("events", "PutEvents"),
)
# What a brownout degrades (faults.brownout answers in each service's own protocol and
# errors): the alarms every Check reads; the ledger's reads and writes, or all its calls.
BROWNOUT_ACTIONS: dict[str, tuple[frozenset[str] | None, ...]] = {
    "cloudwatch": (frozenset({"DescribeAlarms"}), None),
    "dynamodb": (
        frozenset({"GetItem", "Query"}),
        frozenset({"PutItem", "UpdateItem", "DeleteItem"}),
        None,
    ),
}


@dataclass(frozen=True)
class Plan:
    """One rollout and its fault, drawn from the seed."""

    index: int
    kind: str
    strategy: dict[str, Any]
    bad: bool  # the alarm fires once the alias is split
    detail: str  # the fault, in words
    point: Point | None = None
    how: str = "crash"
    skip: int = 0
    api: tuple[str, str] = ("", "")
    times: int = 0
    rate: float = 0.0
    delay: float = 0.0  # seconds after the start (stop) or after the first split
    hold: float = 0.0  # alarm_flip: seconds in ALARM
    latency: float = 0.0  # brownout: seconds each request waits (on the invocation's clock)
    status: int = 0  # brownout: the HTTP 5xx each request gets (0: none)
    edit_to: str = ""  # alias_edit: "3" (a hand deploy) or "1" (a manual rollback)


def _steps(strategy: dict[str, Any]) -> int:
    if strategy["type"] == "canary":
        return 2
    return -(-100 // int(strategy["percent"]))


def _at(point: Point, skip: int) -> str:
    nth = f" #{point.nth}" if point.nth > 1 else ""
    again = f" (letting {skip} through first)" if skip else ""
    return f"{point.task}, {point.label} ({point.service} {point.action}{nth}){again}"


def draw_plans(rollouts: int, seed: int, kinds: tuple[str, ...] = KINDS) -> list[Plan]:
    """`rollouts` plans; the kinds are dealt in turn (each as often as the others, to
    within one), shuffled, and each fault's point, count or moment drawn from `seed`."""
    draw = random.Random(seed)
    dealt = [kinds[i % len(kinds)] for i in range(rollouts)]
    draw.shuffle(dealt)
    return [_draw(index, kind, draw) for index, kind in enumerate(dealt)]


def _point_plan(
    common: dict[str, Any], kind: str, points: tuple[Point, ...], bad: bool, draw: random.Random
) -> Plan:
    point = draw.choice(points)
    skip = draw.randrange(_steps(common["strategy"])) if point.steps else 0
    how = {"timeout": "timeout", "throttle": "throttle"}.get(kind, "crash")
    task, where = _at(point, skip).split(", ", 1)
    if kind == "crash_before":
        detail = f"{task} crashes {where}"
    elif how == "timeout":
        detail = f"{task} times out (Sandbox.Timedout) after {where}"
    elif how == "throttle":
        detail = f"{task} throttled on every call after {where}"
    else:
        detail = f"{task} crashes after {where}"
    bad = (bad or point.reverts) and not point.promotes
    return Plan(**common, bad=bad, detail=detail, point=point, how=how, skip=skip)


def _draw(index: int, kind: str, draw: random.Random) -> Plan:
    # The faults that land at a moment need a bake to land in: not the 0 s one.
    strategies = STRATEGIES if kind not in TIMED else STRATEGIES[:2]
    common: dict[str, Any] = {
        "index": index,
        "kind": kind,
        "strategy": dict(draw.choice(strategies)),
    }
    bad = draw.random() < BAD_SHARE
    if kind in ("crash_after", "timeout"):
        return _point_plan(common, kind, AFTER, bad, draw)
    if kind == "crash_before":
        return _point_plan(common, kind, BEFORE, bad, draw)
    if kind == "throttle":
        variant = draw.choice(("api", "api", "rate", "handler"))
        if variant == "handler":
            return _point_plan(common, kind, AFTER, bad, draw)
        if variant == "rate":
            rate = float(draw.choice((1, 2, 3)))
            detail = f"Lambda's control plane held to {rate:g} request/s (burst 1)"
            return Plan(**common, bad=bad, detail=detail, rate=rate)
        api = draw.choice(THROTTLED_APIS)
        times = draw.randint(1, 10)
        detail = f"the next {times} {api[0]} {api[1]} calls throttled"
        return Plan(**common, bad=bad, detail=detail, api=api, times=times)
    if kind == "stop":
        delay = round(draw.uniform(0.0, 1.2), 2)
        detail = f"StopExecution {delay} s after the start"
        return Plan(**common, bad=bad, detail=detail, delay=delay)
    if kind == "alias_edit":
        edit_to = draw.choice(("3", "1"))
        delay = round(draw.uniform(0.0, 0.9), 2)
        what = "a hand deploy of version 3" if edit_to == "3" else "a manual rollback to 1"
        detail = f"{what}, {delay} s after the first split"
        return Plan(**common, bad=False, detail=detail, delay=delay, edit_to=edit_to)
    if kind == "alarm_flip":
        delay = round(draw.uniform(0.0, 0.9), 2)
        hold = round(draw.uniform(0.0, 1.5), 2)
        detail = f"the alarm in ALARM {delay} s after the first split, OK {hold} s later"
        return Plan(**common, bad=False, detail=detail, delay=delay, hold=hold)
    if kind == "brownout":
        service = draw.choice(("cloudwatch", "dynamodb"))
        actions = draw.choice(BROWNOUT_ACTIONS[service])
        # A bounded outage: the fault is disarmed only once the rollout has ended, and one
        # that never ends holds Revert in its retries (as it would on AWS) past any wait.
        times = draw.choice((*range(1, 13), 20, 40))
        latency, status = 0.0, None
        if draw.random() < 0.5:
            latency = float(draw.choice((3, 10, 25, 40)))
        else:
            status = draw.choice((500, 503))
        what = f"{latency:g} s latency" if latency else f"HTTP {status}"
        which = ", ".join(sorted(actions)) if actions else "every call"
        detail = f"{service} brownout ({which}): {what} for the next {times} requests"
        return Plan(
            **common,
            bad=bad,
            detail=detail,
            api=(service, ",".join(sorted(actions or ()))),
            times=times,
            latency=latency,
            status=status or 0,
        )
    raise ValueError(f"unknown fault kind {kind!r}; use one of {KINDS}")


@dataclass
class Result:
    plan: Plan
    expected: Expected
    status: str = ""
    error: str = ""
    outcome: str = ""
    fired: bool = False  # the fault took effect (fired, injected, landed mid-rollout)
    swept: bool = False  # the state settled only after the scheduled sweep
    redelivered: int = 0  # outcome events sent again (at least once: the same event)
    seconds: float = 0.0
    violations: list[str] = field(default_factory=list)


@dataclass
class ChaosReport:
    results: list[Result]
    seconds: float

    def violations(self) -> list[tuple[Result, str]]:
        return [(r, v) for r in self.results for v in r.violations]

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, dict[str, int]] = {}
        for r in self.results:
            counts = kinds.setdefault(r.plan.kind, {"rollouts": 0, "fired": 0, "violations": 0})
            counts["rollouts"] += 1
            counts["fired"] += int(r.fired)
            counts["violations"] += len(r.violations)
        return {
            "rollouts": len(self.results),
            "wallSeconds": round(self.seconds, 1),
            "byKind": {k: kinds[k] for k in KINDS if k in kinds},
            "bad": sum(r.plan.bad for r in self.results),
            "outcomes": dict(collections.Counter(r.outcome or "none" for r in self.results)),
            "statuses": dict(collections.Counter(r.status for r in self.results)),
            "settledBySweep": sum(r.swept for r in self.results),
            "redeliveredEvents": sum(r.redelivered for r in self.results),
            "violations": len(self.violations()),
        }


@dataclass
class _Armed:
    fired: Callable[[], bool] = lambda: False


@contextlib.contextmanager
def _armed(cloud: LocalCloud, plan: Plan) -> Iterator[_Armed]:
    """The plan's process-wide fault, armed for the duration of the rollout."""
    if plan.point is not None:
        point = plan.point
        with faults.handler_fault(
            task_function(cloud, point.task),
            after=point.action,
            service=point.service,
            how=plan.how,
            nth=point.nth,
            skip=plan.skip,
        ) as handler:
            yield _Armed(lambda: handler.fired > 0)
    elif plan.kind == "throttle" and plan.rate:
        with faults.control_plane_rate_limit(rate=plan.rate, burst=1) as bucket:
            yield _Armed(lambda: bucket.throttled > 0)
    elif plan.kind == "throttle":
        with faults.throttle(plan.api[1], times=plan.times, service=plan.api[0]) as fault:
            yield _Armed(lambda: fault.injected > 0)
    elif plan.kind == "brownout":
        with faults.brownout(
            plan.api[0],
            latency=plan.latency,
            status=plan.status or None,
            actions=plan.api[1].split(",") if plan.api[1] else None,
            times=plan.times or None,
        ) as outage:
            yield _Armed(lambda: outage.requests > 0)
    else:
        yield _Armed()


def _running(cloud: LocalCloud, execution: str) -> bool:
    described = cloud.client("stepfunctions").describe_execution(executionArn=execution)
    return described["status"] not in TERMINAL


def _sleep_while_running(cloud: LocalCloud, execution: str, seconds: float) -> bool:
    """Sleep `seconds`, or until the execution ends; True if it still runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _running(cloud, execution):
            return False
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return _running(cloud, execution)


def _wait_for_split(cloud: LocalCloud, rollout: Rollout, execution: str) -> bool:
    """Until the alias is first split; False if the execution ended first."""
    while _running(cloud, execution):
        if rollout.routing()[1]:
            return True
        time.sleep(0.02)
    return False


def _act(cloud: LocalCloud, rollout: Rollout, execution: str, plan: Plan, alarm: str) -> bool:
    """The faults that come from outside, at their moment; True if it landed mid-rollout."""
    if plan.kind == "stop":
        if not _sleep_while_running(cloud, execution, plan.delay):
            return False
        cloud.client("stepfunctions").stop_execution(
            executionArn=execution, error="Chaos.Stop", cause=plan.detail
        )
        return True
    if plan.kind == "alias_edit":
        split = _wait_for_split(cloud, rollout, execution)
        landed = split and _sleep_while_running(cloud, execution, plan.delay)
        rollout.lam.update_alias(
            FunctionName=rollout.function,
            Name=rollout.alias,
            FunctionVersion=plan.edit_to,
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        return landed
    if plan.kind == "alarm_flip":
        if not (
            _wait_for_split(cloud, rollout, execution)
            and _sleep_while_running(cloud, execution, plan.delay)
        ):
            return False
        cw = cloud.client("cloudwatch")
        cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="chaos: flipped")
        time.sleep(plan.hold)
        cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="chaos: flipped back")
        return True
    return False


def _settled(ledger: Ledger, expected: Expected) -> bool:
    record = ledger.deployment(expected.execution_arn)
    if record is None or record.outcome is None or record.outcome_event_pending:
        return False
    return ledger.lock(expected.function_name, expected.alias) is None


def _wait_settled(ledger: Ledger, expected: Expected, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _settled(ledger, expected):
            return True
        time.sleep(0.05)
    return _settled(ledger, expected)


def _create_alarm(cloud: LocalCloud, function: str) -> str:
    return create_errors_alarm(cloud.client("cloudwatch"), function)


def _run_one(
    cloud: LocalCloud, plan: Plan, bad: dict[str, str], settle: float, timeout: float
) -> Result:
    function = new_function(cloud)
    if plan.edit_to == "3":
        publish_version_with(cloud.client("lambda"), function, 0.0, build="3")
    alarm = _create_alarm(cloud, function)
    if plan.bad:
        bad[function] = alarm
    rollout = Rollout(cloud, function)
    request = rollout.request(strategy=plan.strategy, alarms=[alarm])
    started = time.perf_counter()
    with _armed(cloud, plan) as armed:
        execution = rollout.start(request)
        landed = _act(cloud, rollout, execution, plan, alarm)
        try:
            finished = rollout.wait(execution, timeout=timeout)
        except AssertionError:
            finished = {"status": "RUNNING", "error": f"not ended after {timeout:g} s"}
        fired = landed or armed.fired()
    edited = (plan.edit_to, {}) if plan.kind == "alias_edit" else None
    expected = Expected(execution, function, rollout.alias, "1", "2", edited_to=edited)
    ledger = Ledger(cloud.ledger_table, cloud.client("dynamodb"))
    swept = False
    if not _wait_settled(ledger, expected, settle):
        swept = True
        sweep(cloud)
        _wait_settled(ledger, expected, settle)
    if finished["status"] != "SUCCEEDED":
        time.sleep(0.1)  # the reconciler's turn (the status change it was sent) to finish
    record = ledger.deployment(execution)
    ended = [] if finished["status"] in TERMINAL else [f"execution: {finished['error']}"]
    return Result(
        plan=plan,
        expected=expected,
        status=str(finished["status"]),
        error=str(finished.get("error") or ""),
        outcome=str(record.outcome or "") if record else "",
        fired=fired,
        swept=swept,
        seconds=time.perf_counter() - started,
        violations=ended,
    )


def run_chaos(
    cloud: LocalCloud,
    plans: list[Plan],
    *,
    on_result: Callable[[Result], None] | None = None,
    settle: float = 3.0,
    timeout: float = 180.0,
) -> ChaosReport:
    """Run each plan's rollout in turn, then check the invariants on all of them (after
    the last: an event or a write that arrives late is still seen)."""
    tap = EventTap(cloud, name=f"chaos-{int(time.time() * 1000)}")
    bad: dict[str, str] = {}
    results: list[Result] = []
    started = time.perf_counter()
    with alarm_on_first_split(cloud, bad):
        for plan in plans:
            result = _run_one(cloud, plan, bad, settle, timeout)
            result.violations += violations(result.expected, observe(cloud, result.expected, tap))
            results.append(result)
            if on_result is not None:
                on_result(result)
    tap.drain()
    for result in results:  # again, now that every rollout has had time to misbehave
        observed = observe(cloud, result.expected, tap)
        late = violations(result.expected, observed)
        result.violations += [v for v in late if v not in result.violations]
        result.redelivered = redeliveries(observed)
    return ChaosReport(results, time.perf_counter() - started)
