"""Version-versus-version analysis: is the new version's error rate worse than the stable one's?

Pure statistics on the counts Lambda publishes per `ExecutedVersion` for one alias, cumulative
since the rollout started (optionally split by weight step). No I/O and no numpy: the Lambda
asset has only pydantic and Powertools.

Three questions, answered from the same counts:
- **fail**: is there strong evidence that the new version errs more than the stable one?
  A mixture sequential probability ratio test on the *conditional* binomial: given a step's
  total number of errors on the alias, each error belongs to the new version with probability
  pi = n_new*p_new / (n_new*p_new + n_stable*p_stable). With no regression pi is the new
  version's share of the invocations, whatever the stable version's own error rate is, so an
  old version already at 5% errors does not make a good new one look bad. The alternatives are
  the stable version's rate plus 1x, 3x and 9x the configured increase; mixing them lets a
  gross regression fail after a few errors. A mixture of likelihood ratios is a test
  martingale, so checking at every poll keeps the false-rollback rate at or below
  `false_positive_rate` (Ville's inequality). That is exact for known alternatives and
  approximate here, as the stable rate is estimated (so the anchor is an upper bound of it):
  bench/analysis.py measures false-rollback rates under 1% at 10% and 50% canary shares.
- **pass**: were enough new-version invocations seen to rule out the configured regression?
  Wald's lower boundary for "p_new = p_stable" against "p_new = p_stable + increase", with the
  stable version's observed rate in the same step (it serves most of the traffic) as
  p_stable, and at least `min_invocations` new-version invocations.
- **latency**: is the new version's p99 Duration above the stable one's by more than the
  tolerance, with enough new-version invocations for a p99 to mean something?

Anything else, including no traffic at all, is "undecided": missing data never reads as healthy.
bench/analysis.py measures all of it against Wald's oracle and the usual alarms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from statistics import NormalDist
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

Outcome = Literal["fail", "pass", "undecided"]

# The fail test's alternatives, "stable rate + multiple x the configured increase", and their
# prior weights.
# 1x is the regression the user asked to catch; 3x and 9x make a gross regression (1% -> 5%)
# fail in about as many requests as Wald's test tuned to it. Tuned with bench/analysis.py:
# a wider grid pays log(1/weight) in evidence for every component it adds.
FAIL_MIXTURE: tuple[tuple[float, float], ...] = ((1.0, 0.4), (3.0, 0.35), (9.0, 0.25))
_MAX_EXTENSION_SECONDS = 7 * 24 * 3600  # the longest plan (strategies.MAX_TOTAL_BAKE_SECONDS)
# Lambda sends its metrics to CloudWatch in 1-minute intervals (Lambda guide: monitoring-metrics).
LAMBDA_METRIC_PERIOD_SECONDS = 60
# How long after a minute ends its datapoints are taken as complete (docs/decisions.md, 11.4):
# a minute's metrics are emitted when its invocations finish and reach CloudWatch a minute or
# two later, and each metric on its own schedule.
DEFAULT_SETTLE_SECONDS = 180
_MAX_SETTLE_SECONDS = 3600
_Z = NormalDist()


class AnalysisConfig(BaseModel):
    """The `analysis` object of the input contract (camelCase on the wire).

    Every field has a default that suits AWS Lambda's per-minute metrics; see docs/decisions.md.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    enabled: bool = True
    """Judge the new version against the stable one (no alarm needed)."""
    max_error_rate_increase: float = Field(default=0.01, gt=0, lt=1)
    """The regression to catch, as an absolute increase of the error rate (0.01 = +1 pp)."""
    min_invocations: int = Field(default=100, ge=1)
    """New-version invocations required before any pass."""
    false_positive_rate: float = Field(default=0.01, gt=0, lt=0.5)
    """Alpha: the chance of failing a version that is no worse than the stable one."""
    power: float = Field(default=0.99, gt=0.5, lt=1)
    """1 - beta: the chance of not passing a version that is worse by the configured increase."""
    latency_p99_tolerance: float | None = Field(default=0.25, ge=0, le=100)
    """Fail when new p99 > stable p99 * (1 + tolerance); None turns the latency check off."""
    min_latency_invocations: int = Field(default=500, ge=1)
    """New-version invocations before a p99 is trusted (about 5 requests above the p99)."""
    on_inconclusive: Literal["rollback", "promote"] = "rollback"
    """What to do when a step's bake and its extension are over and the verdict is undecided."""
    max_extension_seconds: int = Field(default=600, ge=0, le=_MAX_EXTENSION_SECONDS)
    """How long a step's bake may be extended while the verdict is undecided."""
    refuse_undetectable: bool = Field(default=False, strict=True)
    """Refuse to start (PreflightFailed) when the pre-flight estimate says the plan, at the
    alias's recent traffic, cannot detect `max_error_rate_increase`; by default only warn."""
    settle_seconds: int = Field(default=DEFAULT_SETTLE_SECONDS, ge=0, le=_MAX_SETTLE_SECONDS)
    """Judge a minute only once it ended this long ago: Lambda's datapoints arrive late, and
    its metrics not together. Raise it above the function's Timeout (a metric is emitted when
    the invocation ends, timestamped when it started)."""

    @field_validator(
        "enabled",
        "max_error_rate_increase",
        "min_invocations",
        "false_positive_rate",
        "power",
        "latency_p99_tolerance",
        "min_latency_invocations",
        "max_extension_seconds",
        "settle_seconds",
        mode="before",
    )
    @classmethod
    def _no_text_or_bool_for_numbers(cls, value: Any, info: Any) -> Any:
        # JSON numbers only: "0.01" and true are mistakes in a contract typed by hand.
        if isinstance(value, str) or (info.field_name != "enabled" and isinstance(value, bool)):
            raise ValueError("must be a number, not text or a boolean")
        if info.field_name == "enabled" and not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value

    @property
    def fail_threshold(self) -> float:
        """log(1/alpha): the mixture likelihood ratio that fails a version."""
        return math.log(1 / self.false_positive_rate)

    @property
    def pass_threshold(self) -> float:
        """log(beta / (1 - alpha)): Wald's lower boundary, below which a version passes."""
        return math.log((1 - self.power) / (1 - self.false_positive_rate))


@dataclass(frozen=True)
class VersionSample:
    """One version's counts on the alias, cumulative since the rollout started."""

    invocations: int
    errors: int
    p99_ms: float | None = None
    version: str = ""  # for the reason sentence only, e.g. "7"

    def __post_init__(self) -> None:
        for name in ("invocations", "errors"):
            value = getattr(self, name)
            # GetMetricData returns Sum as a float (150.0); a fraction of a request is a bug.
            if isinstance(value, float) and value.is_integer():
                object.__setattr__(self, name, int(value))
            elif not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be a whole number: {self}")
        if self.invocations < 0 or self.errors < 0:
            raise ValueError(f"counts cannot be negative: {self}")
        if self.p99_ms is not None and not (self.p99_ms >= 0 and math.isfinite(self.p99_ms)):
            raise ValueError(f"p99_ms must be a finite number >= 0: {self}")

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str  # one sentence a person can read in the execution's Cause
    numbers: dict[str, float | int | str]  # everything behind the verdict, JSON-serializable


@dataclass(frozen=True)
class MinuteSeries:
    """One version's datapoints as GetMetricData returns them: minute start (epoch s) -> Sum.

    A minute with no datapoint is absent, never zero: it may still be on its way.
    """

    invocations: Mapping[int, float] = _field(default_factory=dict)
    errors: Mapping[int, float] = _field(default_factory=dict)
    p99_ms: float | None = None  # p99 Duration over the window read


@dataclass(frozen=True)
class SettledCounts:
    """The counts the analysis may judge: settled minutes where every series is present."""

    stable: VersionSample
    new: VersionSample
    by_step: tuple[tuple[VersionSample, VersionSample], ...]
    settled_until: float  # the end of the last minute that may be judged (epoch s)
    minutes_judged: int
    minutes_incomplete: int  # settled, but a version's Invocations or Errors is missing
    minutes_across_a_shift: int = 0  # cut by a weight change, or before the first one

    @property
    def numbers(self) -> dict[str, float | int | str]:
        return {
            "settledUntil": self.settled_until,
            "minutesJudged": self.minutes_judged,
            "minutesIncomplete": self.minutes_incomplete,
            "minutesAcrossAShift": self.minutes_across_a_shift,
        }


def settled_until(config: AnalysisConfig, now: float, period: int) -> float:
    """The end of the last whole minute that ended at least `settle_seconds` ago."""
    return math.floor((now - config.settle_seconds) / period) * period


def settled_counts(
    config: AnalysisConfig,
    stable: MinuteSeries,
    new: MinuteSeries,
    *,
    step_starts: Sequence[float],
    now: float,
    period: int = LAMBDA_METRIC_PERIOD_SECONDS,
) -> SettledCounts:
    """The counts of the minutes that have settled and are complete, split by weight step.

    A minute is judged only when it ended `settle_seconds` before `now` and both versions'
    Invocations and Errors are there: a minute whose error-free Invocations landed before its
    Errors would otherwise read as evidence of health. Each minute belongs to the step whose
    shift (`step_starts`) came at or before its start: the split never depends on when a
    datapoint arrived. A minute that a shift cuts in two mixes two weights, as would a minute
    before the first shift: neither is judged, so nothing is ever pooled across steps.
    """
    cutoff = settled_until(config, now, period)
    series = (stable.invocations, stable.errors, new.invocations, new.errors)
    seen = sorted({m for s in series for m in s if m + period <= cutoff})
    starts = sorted(step_starts) or [-math.inf]
    strata = [[0, 0, 0, 0] for _ in starts]
    judged = incomplete = across = 0
    for minute in seen:
        if minute < starts[0] or any(minute < start < minute + period for start in starts):
            across += 1
            continue
        if not all(minute in s for s in series):
            incomplete += 1
            continue
        judged += 1
        index = sum(1 for start in starts if start <= minute) - 1
        for slot, values in enumerate(series):
            strata[index][slot] += _whole(values[minute])
    pairs = tuple((VersionSample(si, se), VersionSample(ni, ne)) for si, se, ni, ne in strata)
    return SettledCounts(
        stable=VersionSample(sum(p[0].invocations for p in pairs), sum(p[0].errors for p in pairs)),
        new=VersionSample(sum(p[1].invocations for p in pairs), sum(p[1].errors for p in pairs)),
        by_step=pairs if len(pairs) > 1 else (),
        settled_until=cutoff,
        minutes_judged=judged,
        minutes_incomplete=incomplete,
        minutes_across_a_shift=across,
    )


def _whole(value: float) -> int:
    # GetMetricData returns Sum as a float (150.0); partial datapoints of a minute sum exactly.
    return round(value)


def evaluate(
    config: AnalysisConfig,
    stable: VersionSample,
    new: VersionSample,
    *,
    by_step: Sequence[tuple[VersionSample, VersionSample]] = (),
) -> Verdict:
    """Judge the new version against the stable one on counts of the same alias and minutes.

    `stable` and `new` are the counts since the rollout started (and the p99 over that window).
    `by_step` optionally splits the same counts by weight step, as (stable, new) pairs: the
    error tests are then stratified by step, so that an outage that hits both versions while
    the new one has 50% of the traffic is not read as the new version's fault (pooled over
    steps, it would be: Simpson's paradox). Their sums must equal `stable` and `new`.
    """
    strata = _strata(stable, new, by_step)
    numbers: dict[str, float | int | str] = {
        "newVersion": new.version,
        "newInvocations": new.invocations,
        "newErrors": new.errors,
        "stableVersion": stable.version,
        "stableInvocations": stable.invocations,
        "stableErrors": stable.errors,
        "steps": len(strata),
        "maxErrorRateIncrease": config.max_error_rate_increase,
        "minInvocations": config.min_invocations,
        "falsePositiveRate": config.false_positive_rate,
        "power": config.power,
    }
    if not config.enabled:
        return Verdict("pass", "version analysis is turned off", {**numbers, "enabled": "false"})
    counts = _counts_sentence(stable, new)
    if new.invocations == 0 or stable.invocations == 0:
        who = "new version" if new.invocations == 0 else "stable version"
        return Verdict(
            "undecided",
            f"{counts}; no invocations of the {who} yet",
            {**numbers, "outcome": "undecided"},
        )
    if any(s.errors > s.invocations or n.errors > n.invocations for s, n in strata):
        # An Errors datapoint in before its Invocations one: wait for the minute to land.
        return Verdict(
            "undecided",
            f"{counts}; more errors than invocations (late datapoints)",
            {**numbers, "outcome": "undecided"},
        )
    numbers["newErrorRate"] = new.error_rate
    numbers["stableErrorRate"] = stable.error_rate

    fail_llr = _regression_llr(config, strata)
    pass_llr = _no_regression_llr(config, strata)
    numbers.update(
        {
            "failLogLikelihoodRatio": round(fail_llr, 4),
            "failThreshold": round(config.fail_threshold, 4),
            "passLogLikelihoodRatio": round(pass_llr, 4),
            "passThreshold": round(config.pass_threshold, 4),
        }
    )
    latency, latency_text = _latency(config, stable, new, numbers)
    numbers["latency"] = latency

    if fail_llr >= config.fail_threshold:
        return Verdict(
            "fail",
            f"{counts}; evidence of a regression (log-likelihood ratio "
            f"{fail_llr:.1f} >= {config.fail_threshold:.1f})",
            {**numbers, "outcome": "fail"},
        )
    if latency == "regressed":
        return Verdict("fail", f"{counts}; {latency_text}", {**numbers, "outcome": "fail"})

    increase = _pp(config.max_error_rate_increase)
    if pass_llr <= config.pass_threshold and new.invocations >= config.min_invocations:
        if latency in ("ok", "off"):
            return Verdict(
                "pass",
                f"{counts}; rules out a regression of {increase} (log-likelihood ratio "
                f"{pass_llr:.1f} <= {config.pass_threshold:.1f}){latency_text}",
                {**numbers, "outcome": "pass"},
            )
        return Verdict(
            "undecided",
            f"{counts}; errors rule out {increase} but {latency_text.removeprefix('; ')}",
            {**numbers, "outcome": "undecided"},
        )
    more = more_invocations_to_pass(config, stable, new, pass_llr=pass_llr)
    numbers["moreInvocationsToPass"] = more
    return Verdict(
        "undecided",
        f"{counts}; not enough evidence yet to rule out {increase} "
        f"(about {more:,} more new-version requests if it keeps the stable error rate)",
        {**numbers, "outcome": "undecided"},
    )


def regression_log_likelihood_ratio(
    config: AnalysisConfig,
    stable: VersionSample,
    new: VersionSample,
    *,
    by_step: Sequence[tuple[VersionSample, VersionSample]] = (),
) -> float:
    """log of the mixture likelihood ratio "the new version is worse" vs "it is not".

    Fail when it reaches log(1/alpha). Conditional on a step's total errors X, the new version's
    errors x ~ Binomial(X, pi); with no regression pi = the new version's share of the step's
    invocations, whatever the error rate of either version is or how it moves within the step.
    """
    return _regression_llr(config, _strata(stable, new, by_step))


def no_regression_log_likelihood_ratio(
    config: AnalysisConfig,
    stable: VersionSample,
    new: VersionSample,
    *,
    by_step: Sequence[tuple[VersionSample, VersionSample]] = (),
) -> float:
    """Wald's log-likelihood ratio of the new version's counts, "p0 + increase" vs "p0".

    Pass when it falls to log(beta / (1 - alpha)). p0 is the stable version's rate in the same
    step (over the whole rollout for a step where the stable version had no traffic), shrunk by
    half an error so that a stable version with no errors yet still gives a finite ratio.
    """
    return _no_regression_llr(config, _strata(stable, new, by_step))


def _strata(
    stable: VersionSample,
    new: VersionSample,
    by_step: Sequence[tuple[VersionSample, VersionSample]],
) -> tuple[tuple[VersionSample, VersionSample], ...]:
    if not by_step:
        return ((stable, new),)
    for field in ("invocations", "errors"):
        for total, side in ((stable, 0), (new, 1)):
            summed = sum(getattr(pair[side], field) for pair in by_step)
            if summed != getattr(total, field):
                raise ValueError(
                    f"by_step {field} of the {'new' if side else 'stable'} version sum to "
                    f"{summed}, not {getattr(total, field)}"
                )
    return tuple(by_step)


def _regression_llr(
    config: AnalysisConfig, strata: Sequence[tuple[VersionSample, VersionSample]]
) -> float:
    informative = [
        (n.errors, s.errors + n.errors, n.invocations / (n.invocations + s.invocations))
        for s, n in strata
        if s.invocations and n.invocations and s.errors + n.errors
    ]
    expected = sum(total * share for _, total, share in informative)
    if not informative or sum(x for x, _, _ in informative) <= expected:
        return 0.0  # one-sided: no more errors than its share is never evidence of a regression
    # The alternatives are "the stable version's rate + k x the increase", anchored on an upper
    # bound (about 2 sigma) of the stable's rate. The bound keeps the estimated anchor from
    # inflating false rollbacks when the stable's errors are low by chance (0.95% -> 0.6% at a
    # 50% share in bench/analysis.py, same power); using only the stable's counts keeps the ratio
    # monotone in the new version's counts.
    stable_invocations = sum(s.invocations for s, _ in strata)
    stable_errors = sum(s.errors for s, _ in strata)
    anchor = min(
        (stable_errors + 1 + 2 * math.sqrt(stable_errors + 1)) / (stable_invocations + 2), 1.0
    )
    terms = []
    for multiple, weight in FAIL_MIXTURE:
        ratio = min(1 + multiple * config.max_error_rate_increase / anchor, 1 / anchor)
        llr = math.log(weight)
        for x, total, share in informative:
            alt = share * ratio / (share * ratio + 1 - share)
            llr += x * math.log(alt / share) + (total - x) * math.log((1 - alt) / (1 - share))
        terms.append(llr)
    top = max(terms)
    # Floored at 0 ("no evidence"): near the null a mixture of ratios can dip just below 1.
    return max(0.0, top + math.log(sum(math.exp(t - top) for t in terms)))


def _no_regression_llr(
    config: AnalysisConfig, strata: Sequence[tuple[VersionSample, VersionSample]]
) -> float:
    stable_invocations = sum(s.invocations for s, _ in strata)
    stable_errors = sum(s.errors for s, _ in strata)
    llr = 0.0
    for s, n in strata:
        if s.invocations:
            p0 = (s.errors + 0.5) / (s.invocations + 1)
        else:  # the 100% step: no concurrent stable traffic, compare with the whole rollout
            p0 = (stable_errors + 0.5) / (stable_invocations + 1)
        p1 = min(p0 + config.max_error_rate_increase, 1 - 1e-9)
        clean = n.invocations - n.errors
        llr += n.errors * math.log(p1 / p0) + clean * math.log((1 - p1) / (1 - p0))
    return llr


def more_invocations_to_pass(
    config: AnalysisConfig,
    stable: VersionSample,
    new: VersionSample,
    *,
    pass_llr: float | None = None,
) -> int:
    """About how many more new-version invocations a pass needs, if they err like the stable."""
    p0 = (stable.errors + 0.5) / (stable.invocations + 1)
    p1 = min(p0 + config.max_error_rate_increase, 1 - 1e-9)
    drift = p0 * math.log(p0 / p1) + (1 - p0) * math.log((1 - p0) / (1 - p1))  # KL(p0 || p1)
    if pass_llr is None:
        pass_llr = no_regression_log_likelihood_ratio(config, stable, new)
    gap = pass_llr - config.pass_threshold
    by_evidence = max(gap, 0.0) / drift
    by_floor = config.min_invocations - new.invocations
    if config.latency_p99_tolerance is not None:
        by_floor = max(by_floor, config.min_latency_invocations - new.invocations)
    return max(0, math.ceil(max(by_evidence, by_floor)))


def detectable_increase(
    config: AnalysisConfig, *, stable_error_rate: float, new_invocations: float
) -> float | None:
    """The smallest absolute error-rate increase the plan can detect (pre-flight).

    Solves the one-sided fixed-sample formula n = [z(1-a)*sqrt(p0 q0) + z(1-b)*sqrt(p1 q1)]^2
    / (p1 - p0)^2 for p1 - p0, given the new-version invocations the plan expects. The
    sequential test needs fewer on average for a large regression and about this many for one
    of exactly this size. None when the plan expects no new-version traffic.
    """
    if new_invocations <= 0 or not math.isfinite(new_invocations):
        return None
    p0 = min(max(stable_error_rate, 0.0), 1 - 1e-9)
    low, high = 0.0, 1.0 - p0
    if _fixed_sample_n(config, p0, p0 + high) > new_invocations:
        return None  # not even an always-failing version would show in so few requests
    for _ in range(60):  # n falls as the increase grows: bisect to ~1e-18
        mid = (low + high) / 2
        if _fixed_sample_n(config, p0, p0 + mid) > new_invocations:
            low = mid
        else:
            high = mid
    return high


def required_new_invocations(config: AnalysisConfig, *, stable_error_rate: float) -> float:
    """New-version invocations the plan should give to detect the configured increase."""
    p0 = min(max(stable_error_rate, 0.0), 1 - 1e-9)
    p1 = min(p0 + config.max_error_rate_increase, 1.0)
    return max(float(config.min_invocations), _fixed_sample_n(config, p0, p1))


def expected_new_invocations(
    alias_rate_per_second: float, steps: Sequence[tuple[float, int]]
) -> float:
    """New-version invocations a plan gives: sum of rate * percent/100 * bake seconds."""
    rate = max(alias_rate_per_second, 0.0)
    return sum(rate * percent / 100 * bake for percent, bake in steps)


def _fixed_sample_n(config: AnalysisConfig, p0: float, p1: float) -> float:
    z_alpha = _Z.inv_cdf(1 - config.false_positive_rate)
    z_beta = _Z.inv_cdf(config.power)
    spread = z_alpha * math.sqrt(p0 * (1 - p0)) + z_beta * math.sqrt(p1 * (1 - p1))
    return spread**2 / (p1 - p0) ** 2


def _latency(
    config: AnalysisConfig,
    stable: VersionSample,
    new: VersionSample,
    numbers: dict[str, float | int | str],
) -> tuple[str, str]:
    """One of off, unknown, too-few, regressed, ok; and a clause for the reason sentence."""
    tolerance = config.latency_p99_tolerance
    if tolerance is None:
        return "off", ""
    if new.p99_ms is None or stable.p99_ms is None:
        return "unknown", "; the p99 Duration of a version is unknown"
    limit = stable.p99_ms * (1 + tolerance)
    numbers.update({"newP99Ms": new.p99_ms, "stableP99Ms": stable.p99_ms, "p99LimitMs": limit})
    versus = (
        f"p99 {new.p99_ms:,.1f} ms vs {stable.p99_ms:,.1f} ms "
        f"(limit +{tolerance:.0%}: {limit:,.1f} ms)"
    )
    if new.invocations < config.min_latency_invocations:
        return "too-few", (
            f"; p99 needs {config.min_latency_invocations:,} new-version requests ({versus})"
        )
    if new.p99_ms > limit:
        return "regressed", f"latency regressed: {versus}"
    return "ok", f"; {versus}"


def _counts_sentence(stable: VersionSample, new: VersionSample) -> str:
    def side(sample: VersionSample, label: str, long: bool) -> str:
        name = f"{label} {sample.version}" if sample.version else label
        rate = f" ({_pct(sample.error_rate)})" if sample.invocations else ""
        noun = " requests" if long else ""
        return f"{name}: {sample.errors:,} errors in {sample.invocations:,}{noun}{rate}"

    return f"{side(new, 'new version', True)} vs {side(stable, 'stable', False)}"


def _pct(rate: float) -> str:
    return f"{rate:.2%}" if 0 < rate < 0.01 else f"{rate:.1%}"


def _pp(increase: float) -> str:
    return f"+{increase * 100:g} pp"


def detectability(
    config: AnalysisConfig,
    plan_steps: Sequence[Mapping[str, Any]],
    invocations: int,
    errors: int,
    *,
    window_seconds: int,
    period: int,
) -> dict[str, Any]:
    """What regression a plan can detect, given the alias's `invocations` and `errors` over
    the last settled `window_seconds`: the pre-flight's summary (and its warning)."""
    rate = invocations / window_seconds
    plan = [(float(s["percent"]), int(s["bakeSeconds"])) for s in plan_steps if s["percent"] < 100]
    expected = expected_new_invocations(rate, plan)
    smallest = detectable_increase(
        config,
        stable_error_rate=errors / invocations if invocations else 0.0,
        new_invocations=expected,
    )
    detectable = smallest is not None and smallest <= config.max_error_rate_increase
    summary: dict[str, Any] = {
        "aliasRequestsPerSecond": round(rate, 4),
        "expectedNewVersionInvocations": round(expected, 1),
        "smallestDetectableIncrease": None if smallest is None else round(smallest, 6),
        "configuredIncrease": config.max_error_rate_increase,
        "detectable": detectable,
        "verdictLagSeconds": config.settle_seconds + period,
    }
    if not detectable:
        summary["warning"] = (
            f"at {rate:.3g} requests/s in the last hour this plan gives the new version about "
            f"{expected:.0f} requests, too few to detect a +{config.max_error_rate_increase:.2%} "
            "error-rate increase; steps may end inconclusive (lengthen the bakes, raise the "
            "percents, or set analysis.maxErrorRateIncrease higher)"
        )
    return summary
