"""Traffic-shifting strategies, planned as exact weight sequences.

`plan` turns what the user asked for (a CodeDeploy predefined name or a strategy
object) into a tuple of `Step`s. Every plan ends with a step at 100%: the state
machine treats 100% as "promote", so no strategy can forget to finish.

Pure: no boto3, no environment, no I/O. Every bad input raises `InvalidInput`
whose `field` is the JSON path of the bad field in the user's request.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from rollout.domain.errors import InvalidInput, field_label, shown

__all__ = [
    "CODEDEPLOY_PREDEFINED",
    "CODEDEPLOY_PREFIX",
    "MAX_POLLS",
    "MAX_STEPS",
    "MAX_TOTAL_BAKE_SECONDS",
    "STRATEGY_TYPES",
    "Step",
    "effective_poll_interval",
    "plan",
    "total_bake_seconds",
]

MAX_STEPS: Final = 100
MAX_TOTAL_BAKE_SECONDS: Final = 7 * 24 * 3600
# Bake-loop iterations per execution. Each costs a handful of history events, so
# this keeps an execution far below Step Functions' 25,000-event history limit.
MAX_POLLS: Final = 2000

# The real CodeDeploy deployment-config names carry this prefix; accepting it lets
# users paste the name from a SAM template or the CodeDeploy console unchanged.
CODEDEPLOY_PREFIX: Final = "CodeDeployDefault.Lambda"

STRATEGY_TYPES: Final = ("canary", "linear", "exponential", "steps")

# Generated percents (linear, exponential) are rounded to this many decimals, so
# float drift (e.g. 3 * 33.33333 = 99.99999) never becomes a step of its own.
_PERCENT_DECIMALS: Final = 4


@dataclass(frozen=True)
class Step:
    """Hold the new version at `percent` of traffic for `bake_seconds` while health is checked."""

    percent: float
    bake_seconds: int

    def __post_init__(self) -> None:
        # Guards programming errors; user input is validated (with InvalidInput) before this.
        p = self.percent
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 100:
            raise ValueError(f"Step.percent must be a number in (0, 100], got {p!r}")
        b = self.bake_seconds
        if isinstance(b, bool) or not isinstance(b, int) or b < 0:
            raise ValueError(f"Step.bake_seconds must be an int >= 0, got {b!r}")
        # One type in every plan, so the state's JSON is uniform (10 and 10.0 compare equal).
        object.__setattr__(self, "percent", float(p))

    def to_dict(self) -> dict[str, float | int]:
        return {"percent": self.percent, "bakeSeconds": self.bake_seconds}

    @classmethod
    def from_dict(cls, d: object, *, field: str = "step") -> Step:
        """Parse `{"percent": ..., "bakeSeconds": ...}`; `field` is its path for errors."""
        mapping = _as_mapping(d, field, 'an object like {"percent": 10, "bakeSeconds": 300}')
        _check_keys(mapping, field, required=("percent", "bakeSeconds"))
        return cls(
            percent=_percent(mapping["percent"], f"{field}.percent", allow_100=True),
            bake_seconds=_seconds(mapping["bakeSeconds"], f"{field}.bakeSeconds"),
        )


def _canary(percent: float, minutes: int) -> tuple[Step, ...]:
    return (Step(percent, minutes * 60), Step(100, 0))


def _linear(percent: int, minutes: int) -> tuple[Step, ...]:
    return (*(Step(p, minutes * 60) for p in range(percent, 100, percent)), Step(100, 0))


CODEDEPLOY_PREDEFINED: dict[str, tuple[Step, ...]] = {
    "Canary10Percent5Minutes": _canary(10, 5),
    "Canary10Percent10Minutes": _canary(10, 10),
    "Canary10Percent15Minutes": _canary(10, 15),
    "Canary10Percent30Minutes": _canary(10, 30),
    "Linear10PercentEvery1Minute": _linear(10, 1),
    "Linear10PercentEvery2Minutes": _linear(10, 2),
    "Linear10PercentEvery3Minutes": _linear(10, 3),
    "Linear10PercentEvery10Minutes": _linear(10, 10),
    "AllAtOnce": (Step(100, 0),),
}

_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "canary": ("type", "percent", "bakeSeconds"),
    "linear": ("type", "percent", "intervalSeconds"),
    "exponential": ("type", "startPercent", "growthFactor", "intervalSeconds"),
    "steps": ("type", "steps"),
}


def plan(strategy: str | Mapping[str, Any]) -> tuple[Step, ...]:
    """Return the steps for `strategy`; the last step is always at 100%.

    Raises InvalidInput naming the bad field (`strategy`, `strategy.percent`,
    `strategy.steps[2].percent`, ...) and saying how to fix it.
    """
    if isinstance(strategy, str):
        return _predefined(strategy)
    if not isinstance(strategy, Mapping):
        raise InvalidInput(
            "strategy",
            f"must be a predefined name or an object, got {type(strategy).__name__} "
            f"{shown(strategy)}",
            'give a name such as "Canary10Percent5Minutes" or an object such as '
            '{"type": "canary", "percent": 10, "bakeSeconds": 300}',
        )
    kind = _strategy_type(strategy)
    _check_keys(strategy, "strategy", required=_KEYS[kind])
    if kind == "canary":
        return _plan_canary(strategy)
    if kind == "linear":
        return _plan_linear(strategy)
    if kind == "exponential":
        return _plan_exponential(strategy)
    return _plan_steps(strategy)


def total_bake_seconds(steps: Sequence[Step]) -> int:
    return sum(step.bake_seconds for step in steps)


def effective_poll_interval(steps: Sequence[Step], requested_seconds: int) -> int:
    """The health-poll interval: `requested_seconds`, raised if needed to stay within MAX_POLLS.

    A step costs max(1, ceil(bake / poll)) polls: a step with no bake is still checked once.
    Values below 1 are treated as 1 (the user's field is validated elsewhere).
    """
    poll = max(1, requested_seconds)
    if _polls(steps, poll) <= MAX_POLLS:
        return poll
    if len(steps) > MAX_POLLS:  # plan() caps steps at MAX_STEPS, far below this
        raise ValueError(f"{len(steps)} steps need more than MAX_POLLS={MAX_POLLS} polls")
    # Polls fall as the interval grows; at the longest bake every step costs one poll,
    # so the answer lies in (poll, longest bake].
    lo, hi = poll + 1, max(step.bake_seconds for step in steps)
    while lo < hi:
        mid = (lo + hi) // 2
        if _polls(steps, mid) <= MAX_POLLS:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _polls(steps: Sequence[Step], poll: int) -> int:
    return sum(max(1, -(-step.bake_seconds // poll)) for step in steps)


# --- predefined names -----------------------------------------------------------------


def _predefined(name: str) -> tuple[Step, ...]:
    bare = name.removeprefix(CODEDEPLOY_PREFIX)
    if bare in CODEDEPLOY_PREDEFINED:
        return CODEDEPLOY_PREDEFINED[bare]
    names = ", ".join(CODEDEPLOY_PREDEFINED)
    raise InvalidInput(
        "strategy",
        f"unknown strategy name {shown(name)}",
        f"{_did_you_mean(bare.removeprefix('CodeDeployDefault.'), CODEDEPLOY_PREDEFINED)}"
        f"use one of {names} "
        f"(optionally prefixed with {CODEDEPLOY_PREFIX!r}), or an object with "
        f"type {_or_list(STRATEGY_TYPES)}",
    )


# --- strategy objects -----------------------------------------------------------------


def _strategy_type(strategy: Mapping[str, Any]) -> str:
    types = _or_list(STRATEGY_TYPES)
    if "type" not in strategy:
        raise InvalidInput(
            "strategy.type",
            "is missing",
            f'add "type": {types} (or give a predefined name such as "Canary10Percent5Minutes")',
        )
    kind = strategy["type"]
    if not isinstance(kind, str) or kind not in _KEYS:
        hint = _did_you_mean(kind, STRATEGY_TYPES) if isinstance(kind, str) else ""
        raise InvalidInput("strategy.type", f"unknown type {shown(kind)}", f"{hint}use {types}")
    return kind


def _plan_canary(s: Mapping[str, Any]) -> tuple[Step, ...]:
    percent = _percent(s["percent"], "strategy.percent", allow_100=False)
    bake = _seconds(s["bakeSeconds"], "strategy.bakeSeconds")
    return _checked((Step(percent, bake), Step(100, 0)), "strategy.percent", "strategy.bakeSeconds")


def _plan_linear(s: Mapping[str, Any]) -> tuple[Step, ...]:
    percent = _percent(s["percent"], "strategy.percent", allow_100=False)
    interval = _seconds(s["intervalSeconds"], "strategy.intervalSeconds")
    # Counted before building: a tiny percent would otherwise build millions of steps.
    count = _count_steps(percent, 1.0)
    if count is None or count > MAX_STEPS:
        _too_many_steps("strategy.percent", count, percent)
    steps: list[Step] = []
    k = 1
    # Multiply rather than accumulate so each step's error is one rounding, not k of them.
    while (p := round(k * percent, _PERCENT_DECIMALS)) < 100:
        steps.append(Step(p, interval))
        k += 1
    steps.append(Step(100, 0))
    return _checked(tuple(steps), "strategy.percent", "strategy.intervalSeconds")


def _plan_exponential(s: Mapping[str, Any]) -> tuple[Step, ...]:
    start = _percent(s["startPercent"], "strategy.startPercent", allow_100=False)
    growth = _number(s["growthFactor"], "strategy.growthFactor", "a number above 1, e.g. 2")
    if growth <= 1:
        raise InvalidInput(
            "strategy.growthFactor",
            f"must be greater than 1, got {shown(growth)}",
            "use a growth factor above 1, e.g. 2 to double the traffic at each step",
        )
    interval = _seconds(s["intervalSeconds"], "strategy.intervalSeconds")
    steps: list[Step] = []
    raw = start
    while (p := round(raw, _PERCENT_DECIMALS)) < 100:
        if p == 0:
            raise InvalidInput(
                "strategy.startPercent",
                f"{shown(start)} rounds to 0 at {_PERCENT_DECIMALS} decimals",
                f"use a startPercent of at least {10**-_PERCENT_DECIMALS}",
            )
        if steps and p <= steps[-1].percent:
            raise InvalidInput(
                "strategy.growthFactor",
                f"{shown(growth)} is too small for startPercent {shown(start)}: "
                f"steps {len(steps) - 1} "
                f"and {len(steps)} both round to {p}%",
                "use a larger growthFactor or startPercent, or list the steps explicitly "
                'with "type": "steps"',
            )
        if len(steps) + 2 > MAX_STEPS:  # this step and the final 100% would not fit
            _too_many_steps("strategy.growthFactor", _count_steps(start, growth), growth)
        steps.append(Step(p, interval))
        # Iterated (not start * growth**k) so a huge factor gives inf, never OverflowError.
        raw *= growth
    steps.append(Step(100, 0))
    return _checked(tuple(steps), "strategy.growthFactor", "strategy.intervalSeconds")


def _plan_steps(s: Mapping[str, Any]) -> tuple[Step, ...]:
    raw = s["steps"]
    example = '[{"percent": 1, "bakeSeconds": 300}, {"percent": 10, "bakeSeconds": 600}]'
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise InvalidInput(
            "strategy.steps", f"must be a list, got {type(raw).__name__}", f"give a list: {example}"
        )
    if not raw:
        raise InvalidInput("strategy.steps", "is empty", f"give at least one step: {example}")
    if len(raw) > MAX_STEPS:
        _too_many_steps("strategy.steps", len(raw), None)
    steps: list[Step] = []
    for i, item in enumerate(raw):
        field = f"strategy.steps[{i}]"
        step = Step.from_dict(item, field=field)
        if steps and step.percent <= steps[-1].percent:
            raise InvalidInput(
                f"{field}.percent",
                f"{_fmt(step.percent)} is not larger than the step before "
                f"({_fmt(steps[-1].percent)})",
                "make each step's percent larger than the one before",
            )
        if step.percent == 100 and i != len(raw) - 1:
            raise InvalidInput(
                f"{field}.percent",
                "100 is allowed only on the last step (100% promotes the new version)",
                "remove the steps after it, or lower this step's percent",
            )
        steps.append(step)
    if steps[-1].percent < 100:
        steps.append(Step(100, 0))
    return _checked(tuple(steps), "strategy.steps", "strategy.steps")


# --- limits ---------------------------------------------------------------------------


def _checked(steps: tuple[Step, ...], count_field: str, bake_field: str) -> tuple[Step, ...]:
    if len(steps) > MAX_STEPS:
        _too_many_steps(count_field, len(steps), None)
    total = total_bake_seconds(steps)
    if total > MAX_TOTAL_BAKE_SECONDS:
        raise InvalidInput(
            bake_field,
            f"the total bake time is {total} seconds ({total / 86400:.1f} days); "
            f"the longest supported schedule is 7 days ({MAX_TOTAL_BAKE_SECONDS} seconds)",
            "shorten the bake times or use fewer steps so they add up to at most 7 days",
        )
    return steps


def _too_many_steps(field: str, count: int | None, value: float | None) -> NoReturn:
    got = f"{shown(value)} makes " if value is not None else "makes "
    # A tiny percent makes a count hundreds of digits long: no use to anyone reading it.
    many = f"{count} steps" if count is not None and count < 10**6 else "millions of steps"
    raise InvalidInput(
        field,
        f"{got}{many} (including the final step at 100%); the most is MAX_STEPS={MAX_STEPS}",
        f"use fewer, larger steps so the plan has at most {MAX_STEPS} steps",
    )


def _count_steps(start: float, growth: float) -> int | None:
    """Steps in a generated plan, the final 100% included; None if too many to count.

    Linear is `growth == 1` (start, 2*start, ...); exponential is start, start*growth, ...
    A percent is a step if it rounds below 100, i.e. is below 100 minus half the last decimal.
    """
    limit = 100 - 0.5 * 10**-_PERCENT_DECIMALS
    try:
        if growth == 1:
            return math.ceil(limit / start)  # (ceil - 1) multiples below 100, plus the 100%
        return math.ceil(math.log(limit / start) / math.log(growth)) + 1
    except OverflowError:  # a subnormal start: the count is infinite in floats
        return None


# --- field parsing --------------------------------------------------------------------


def _as_mapping(value: object, field: str, expected: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(field, f"must be an object, got {shown(value)}", f"give {expected}")
    return value


def _check_keys(mapping: Mapping[str, Any], field: str, *, required: Sequence[str]) -> None:
    # Unknown keys first: a typo such as `bakeSecond` is also a missing `bakeSeconds`,
    # and "did you mean bakeSeconds?" is the more useful of the two messages.
    for key in mapping:
        if key not in required:
            raise InvalidInput(
                f"{field}.{field_label(key)}",
                "is not a known key",
                f"{_did_you_mean(str(key), required)}the allowed keys are {', '.join(required)}",
            )
    for key in required:
        if key not in mapping:
            raise InvalidInput(f"{field}.{key}", "is missing", f"add {key!r}")


def _number(value: object, field: str, expected: str) -> float:
    # bool is an int subclass in Python, but `true` is never a meaningful percent or factor.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a number, got {shown(value)}", f"give {expected}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range, e.g. 10**400 from json.loads
        finite = False
    if not finite:
        raise InvalidInput(
            field, f"must be a finite number, got {shown(value)}", f"give {expected}"
        )
    return value


def _percent(value: object, field: str, *, allow_100: bool) -> float:
    upper = "at most 100" if allow_100 else "below 100"
    expected = f"a percent above 0 and {upper}, e.g. 10 (fractions such as 0.5 are allowed)"
    p = _number(value, field, expected)
    if p <= 0 or p > 100 or (p == 100 and not allow_100):
        fix = f"give {expected}"
        if p == 100 and not allow_100:
            fix += '; to send all traffic at once use "AllAtOnce"'
        raise InvalidInput(field, f"must be above 0 and {upper}, got {shown(value)}", fix)
    return p


def _seconds(value: object, field: str) -> int:
    fix = "give a whole number of seconds, 0 or more, e.g. 300"
    problem = f"must be a whole number of seconds, got {shown(value)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, problem, fix)
    # JSON producers (and Step Functions' intrinsics) may write 60 as 60.0; is_integer()
    # also rejects NaN and infinity.
    if isinstance(value, float) and not value.is_integer():
        raise InvalidInput(field, problem, fix)
    if value < 0:
        raise InvalidInput(field, f"must be 0 or more, got {shown(value)}", fix)
    # Refused here, before any sum: 10**400 seconds would overflow the message's day count.
    if value > MAX_TOTAL_BAKE_SECONDS:
        raise InvalidInput(
            field,
            f"is {shown(value)} seconds; the longest supported schedule is 7 days "
            f"({MAX_TOTAL_BAKE_SECONDS} seconds)",
            f"give at most {MAX_TOTAL_BAKE_SECONDS} seconds",
        )
    return int(value)


# --- messages -------------------------------------------------------------------------


def _did_you_mean(given: str, candidates: Sequence[str] | Mapping[str, object]) -> str:
    # Case-insensitive, so `canary10percent5minutes` still finds its name.
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(given.lower(), list(by_lower), n=1)
    return f"did you mean {by_lower[close[0]]!r}? " if close else ""


def _or_list(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + f" or {items[-1]}"


def _fmt(p: float) -> str:
    return f"{p:g}"
