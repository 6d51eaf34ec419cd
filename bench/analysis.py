"""Benchmark: the version-versus-version analysis against the oracle and the usual alarms.

A seeded, pure-Python (stdlib only) simulation of a canary step, on the same simulated traffic
for every method. Run: `python bench/analysis.py --rollouts 2000 --seed 1` (writes
docs/benchmarks.md), or `--quick` for 300 rollouts a scenario (prints only).
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

from rollout.domain.analysis import (
    AnalysisConfig,
    MinuteSeries,
    VersionSample,
    evaluate,
    required_new_invocations,
    settled_counts,
)

CANARY_SHARE = 0.10  # CodeDeploy's canaries and the linear strategies' first step
ALPHA = BETA = 0.01  # the oracle's error rates (the reference numbers)
SAME_P99_MS = 120.0  # latency is not simulated: both versions report the same p99
CHUNK = 250  # rollouts per job; each job has its own seed, so results do not depend on -j
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench/analysis.py: begin -->", "<!-- bench/analysis.py: end -->"

SETUP = """\
**Setup.** Each rollout is one canary step at {share:.0%} of the alias's traffic (one row: 50%).
The alias gets a fixed number of requests per second; each request goes to the new version with
that probability (Lambda's weighted routing is per request) and errs with its version's rate.
Counts are drawn per slice of about 10 new-version requests (1 to 30 s), which is exactly the
sum of the per-second Bernoulli draws. Every method sees the same simulated traffic (seeded).

- **ours**: `rollout.domain.analysis.evaluate` with the default `AnalysisConfig`, on the
  cumulative counts after every slice. A pass before the bake is over lets the step continue;
  at the end of the bake a pass promotes; while undecided the bake is extended by up to
  `maxExtensionSeconds` (600 s), then the step is inconclusive (default policy: roll back).
  Both versions report the same p99, so the latency check only adds its 500-request floor.
- **ours, 1-min data**: the same, evaluated on whole minutes only, as Lambda's 1-minute metrics
  allow on AWS. Metric lag (minutes) would delay every method alike and is not modelled.
- **oracle SPRT**: Wald's SPRT on the new version's requests alone with p0 and p1 known
  (p1 = the true new rate; p0 + 1 pp in A/A), alpha = beta = 1%, stopped at its first boundary,
  evaluated after the same slices. The row also shows Wald's analytic ASN (no overshoot).
- **alias alarm**: Errors >= N on the whole alias in a 1-minute period (CodeDeploy/SAM style).
  N is set for the baseline as an operator who knows it would: the 99.9th percentile of a
  normal minute (Poisson at the stable rate on all of the alias's traffic).
- **any error 60 s**: the new version's Errors > 0 in a 1-minute period (aws-samples style).
- The alarms have no "pass": reaching the horizon without firing promotes, as in CodeDeploy.

The horizon is the bake plus the 600 s extension. The bake is what the pre-flight estimate asks
for (`required_new_invocations` at the stable rate, at least the 15-minute canary); the
low-traffic rows instead take CodeDeploy's longest canary (30 minutes), which the pre-flight
would warn about: it can detect only {low_detectable} there.

**Columns.** *fail* is a rollback on evidence (in A/A rows: a false rollback); *inconclusive*
rolls back under the default policy but is not a verdict on the version. *Requests to fail* is
the number of new-version requests in the data when the method failed the version: mean and
95th percentile over the rollouts it failed, and a mean over all rollouts that counts each miss
as the requests at the horizon (a lower bound that does not reward a method for failing only
its lucky rollouts).
"""

TARGETS = """\
**Targets (issue 4).** A false-rollback (fail) rate <= 1% in every A/A scenario; a mean number
of requests to fail <= 2x the oracle's analytic expectation in every regression scenario;
fewer requests to fail than the alias-wide alarm (mean over all rollouts); a lower
false-rollback rate than the any-error rule.
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    stable_rate: float
    new_rate: float
    alias_rps: int
    fixed_bake_seconds: int | None = None  # None: sized by the pre-flight estimate
    share: float = CANARY_SHARE  # the new version's weight on the alias

    @property
    def regression(self) -> bool:
        return self.new_rate > self.stable_rate

    @property
    def bake_seconds(self) -> int:
        """What the pre-flight asks for, at least 15 minutes.

        The pre-flight knows only the stable version's recent rate, so a regression scenario
        gets the same plan as its A/A twin.
        """
        if self.fixed_bake_seconds is not None:
            return self.fixed_bake_seconds
        needed = required_new_invocations(AnalysisConfig(), stable_error_rate=self.stable_rate)
        seconds = needed / (self.alias_rps * self.share)
        return max(15 * 60, math.ceil(seconds / 60) * 60)

    @property
    def horizon_seconds(self) -> int:
        return self.bake_seconds + AnalysisConfig().max_extension_seconds

    @property
    def slice_seconds(self) -> int:
        """About 10 new-version requests, a divisor of 60, at most 30 s."""
        target = 10 / (self.alias_rps * self.share)
        return max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= max(target, 1))

    @property
    def oracle_p1(self) -> float:
        if self.regression:
            return self.new_rate
        return self.stable_rate + AnalysisConfig().max_error_rate_increase


SCENARIOS = (
    Scenario("1% -> 5%", 0.01, 0.05, 50),
    Scenario("0.1% -> 1%", 0.001, 0.01, 50),
    Scenario("1% -> 2%", 0.01, 0.02, 50),
    Scenario("A/A at 1%", 0.01, 0.01, 50),
    Scenario("A/A at 0.1%", 0.001, 0.001, 50),
    Scenario("A/A at 5% (old already erring)", 0.05, 0.05, 50),
    # Linear plans' later steps: the stable version's rate is estimated from half the traffic.
    Scenario("A/A at 1%, new version at 50%", 0.01, 0.01, 10, share=0.5),
    Scenario("low traffic: 1% -> 5% at 1 rps", 0.01, 0.05, 1, 1800),
    Scenario("low traffic: A/A at 1% at 1 rps", 0.01, 0.01, 1, 1800),
)
METHODS = ("ours", "ours, 1-min data", "oracle SPRT", "alias alarm", "any error 60 s")


@dataclass
class Tally:
    fail_n: list[int] = field(default_factory=list)  # new-version requests at each fail
    fail_seconds: list[int] = field(default_factory=list)
    passed: int = 0
    inconclusive: int = 0

    def add(self, other: Tally) -> None:
        self.fail_n += other.fail_n
        self.fail_seconds += other.fail_seconds
        self.passed += other.passed
        self.inconclusive += other.inconclusive


class Binomial:
    """Exact Binomial(n, p) draws for n <= n_max, by inverting tabulated CDFs (stdlib only)."""

    def __init__(self, n_max: int, p: float) -> None:
        self.cdfs: list[list[float]] = []
        for n in range(n_max + 1):
            cdf, total = [], 0.0
            for k in range(n + 1):
                total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
                cdf.append(total)
            cdf[-1] = 1.0
            self.cdfs.append(cdf)

    def draw(self, rng: random.Random, n: int) -> int:
        return min(bisect.bisect_right(self.cdfs[n], rng.random()), n)


def alarm_threshold(expected_per_minute: float, quantile: float = 0.999) -> int:
    """Smallest N with P(Poisson(expected) >= N) <= 1 - quantile."""
    n, term, below = 0, math.exp(-expected_per_minute), 0.0
    while True:
        below += term
        n += 1
        if 1 - below <= 1 - quantile:
            return n
        term *= expected_per_minute / n


def wald_asn(p0: float, p1: float, p: float) -> float:
    """Wald's approximate average sample number of the SPRT p0 vs p1 at true rate p."""
    upper, lower = math.log((1 - BETA) / ALPHA), math.log(BETA / (1 - ALPHA))
    drift = p * math.log(p1 / p0) + (1 - p) * math.log((1 - p1) / (1 - p0))
    if p == p1:
        return ((1 - BETA) * upper + BETA * lower) / drift
    return (ALPHA * upper + (1 - ALPHA) * lower) / drift


def simulate(job: tuple[int, int, int]) -> tuple[int, dict[str, Tally]]:
    """Run `rollouts` rollouts of scenario `index` with its own seed."""
    index, rollouts, seed = job
    scenario = SCENARIOS[index]
    rng = random.Random(seed)
    config = AnalysisConfig()
    bake, horizon, step = scenario.bake_seconds, scenario.horizon_seconds, scenario.slice_seconds
    per_slice = scenario.alias_rps * step
    slices_per_minute = 60 // step
    route = Binomial(per_slice, scenario.share)
    new_errors = Binomial(per_slice, scenario.new_rate)
    old_errors = Binomial(per_slice, scenario.stable_rate)
    threshold = alarm_threshold(scenario.alias_rps * 60 * scenario.stable_rate)
    p0, p1 = scenario.stable_rate, scenario.oracle_p1
    hit, miss = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    upper, lower = math.log((1 - BETA) / ALPHA), math.log(BETA / (1 - ALPHA))
    tallies = {method: Tally() for method in METHODS}

    for _ in range(rollouts):
        n_new = x_new = n_old = x_old = 0
        minute_errors = minute_new_errors = 0
        pending = set(METHODS)
        t = slices = 0
        while pending and t < horizon:
            n = route.draw(rng, per_slice)
            e_new, e_old = new_errors.draw(rng, n), old_errors.draw(rng, per_slice - n)
            n_new, x_new = n_new + n, x_new + e_new
            n_old, x_old = n_old + per_slice - n, x_old + e_old
            minute_errors += e_new + e_old
            minute_new_errors += e_new
            t += step
            slices += 1
            minute_end, last = slices % slices_per_minute == 0, t >= horizon

            decided: dict[str, str] = {}
            for method in ("ours", "ours, 1-min data"):
                if method in pending and (method == "ours" or minute_end or last):
                    outcome = evaluate(
                        config,
                        VersionSample(n_old, x_old, SAME_P99_MS),
                        VersionSample(n_new, x_new, SAME_P99_MS),
                    ).outcome
                    if outcome == "fail" or (outcome == "pass" and t >= bake):
                        decided[method] = outcome
            if "oracle SPRT" in pending:
                llr = x_new * hit + (n_new - x_new) * miss
                if llr >= upper or llr <= lower:
                    decided["oracle SPRT"] = "fail" if llr >= upper else "pass"
            if minute_end or last:
                if "alias alarm" in pending and minute_errors >= threshold:
                    decided["alias alarm"] = "fail"
                if "any error 60 s" in pending and minute_new_errors > 0:
                    decided["any error 60 s"] = "fail"
                minute_errors = minute_new_errors = 0

            for method, result in decided.items():
                tally = tallies[method]
                if result == "fail":
                    tally.fail_n.append(n_new)
                    tally.fail_seconds.append(t)
                else:
                    tally.passed += 1
                pending.discard(method)
            if last:
                for method in pending:
                    if method in ("alias alarm", "any error 60 s"):
                        tallies[method].passed += 1  # CodeDeploy promotes at the bake's end
                    else:
                        tallies[method].inconclusive += 1
                pending.clear()
    return index, tallies


def run(rollouts: int, seed: int, processes: int) -> list[dict[str, Tally]]:
    jobs = [
        (index, min(CHUNK, rollouts - start), seed * 1_000_003 + index * 1_009 + start)
        for index in range(len(SCENARIOS))
        for start in range(0, rollouts, CHUNK)
    ]
    # The longest scenarios first, so that two processes finish together.
    jobs.sort(key=lambda job: -SCENARIOS[job[0]].horizon_seconds / SCENARIOS[job[0]].slice_seconds)
    if processes > 1:
        with Pool(processes) as pool:
            parts: Iterable[tuple[int, dict[str, Tally]]] = pool.map(simulate, jobs, chunksize=1)
    else:
        parts = map(simulate, jobs)
    merged = [{method: Tally() for method in METHODS} for _ in SCENARIOS]
    for index, tallies in parts:
        for method, tally in tallies.items():
            merged[index][method].add(tally)
    return merged


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    method: str
    fail: float
    passed: float
    inconclusive: float
    mean: float | None  # over the rollouts failed
    p95: float | None
    mean_all: float | None  # over all rollouts, a miss counted at the horizon (regressions)
    minutes: float | None


def rows(results: list[dict[str, Tally]], rollouts: int) -> list[Row]:
    out = []
    for scenario, tallies in zip(SCENARIOS, results, strict=True):
        at_horizon = scenario.alias_rps * scenario.share * scenario.horizon_seconds
        for method in METHODS:
            tally = tallies[method]
            fails = tally.fail_n
            misses = rollouts - len(fails)
            out.append(
                Row(
                    scenario=scenario,
                    method=method,
                    fail=len(fails) / rollouts,
                    passed=tally.passed / rollouts,
                    inconclusive=tally.inconclusive / rollouts,
                    mean=statistics.fmean(fails) if fails else None,
                    p95=percentile(fails, 0.95) if fails else None,
                    mean_all=(sum(fails) + misses * at_horizon) / rollouts
                    if scenario.regression
                    else None,
                    minutes=statistics.fmean(tally.fail_seconds) / 60 if fails else None,
                )
            )
    return out


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)])


def table(all_rows: list[Row]) -> str:
    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    lines = [
        "| scenario | method | fail | pass | inconclusive | requests to fail: mean | p95 "
        "| mean, misses at horizon | minutes to fail |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in all_rows:
        s = row.scenario
        method = row.method
        if method == "oracle SPRT":
            method += f" (Wald ASN {wald_asn(s.stable_rate, s.oracle_p1, s.new_rate):,.0f})"
        minutes = "-" if row.minutes is None else f"{row.minutes:.1f}"
        lines.append(
            f"| {s.name} | {method} | {row.fail:.1%} | {row.passed:.1%} | "
            f"{row.inconclusive:.1%} | {num(row.mean)} | {num(row.p95)} | "
            f"{num(row.mean_all)} | {minutes} |"
        )
    return "\n".join(lines)


def plans() -> str:
    lines = [
        "| scenario | alias rps | new version's share | bake + extension | alias alarm N / min |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in SCENARIOS:
        threshold = alarm_threshold(s.alias_rps * 60 * s.stable_rate)
        lines.append(
            f"| {s.name} | {s.alias_rps} | {s.share:.0%} | {s.bake_seconds // 60} + "
            f"{AnalysisConfig().max_extension_seconds // 60} min | {threshold} |"
        )
    return "\n".join(lines)


def check_targets(all_rows: list[Row]) -> list[str]:
    found = {(row.scenario.name, row.method): row for row in all_rows}
    lines = []
    for s in SCENARIOS:
        ours = found[s.name, "ours"]
        if not s.regression:
            anyerr = found[s.name, "any error 60 s"]
            ok = ours.fail <= 0.01 and ours.fail < anyerr.fail
            lines.append(
                f"- {'met' if ok else 'NOT MET'}: {s.name}: false rollbacks {ours.fail:.1%} "
                f"(<= 1%; any-error rule {anyerr.fail:.1%}), inconclusive {ours.inconclusive:.1%}"
            )
            continue
        asn = wald_asn(s.stable_rate, s.oracle_p1, s.new_rate)
        alarm = found[s.name, "alias alarm"]
        ok = (
            ours.mean is not None
            and ours.mean_all is not None
            and alarm.mean_all is not None
            and ours.mean <= 2 * asn
            and ours.mean_all < alarm.mean_all
        )
        lines.append(
            f"- {'met' if ok else 'NOT MET'}: {s.name}: mean {num_or_dash(ours.mean)} requests "
            f"to fail (<= 2 x {asn:,.0f} = {2 * asn:,.0f}); over all rollouts "
            f"{num_or_dash(ours.mean_all)} vs alias alarm {num_or_dash(alarm.mean_all)}"
        )
    return lines


def findings(all_rows: list[Row]) -> str:
    """What the table says, with its numbers, including where it is weak."""
    row = {(r.scenario.name, r.method): r for r in all_rows}
    gross = row["1% -> 5%", "ours, 1-min data"]
    aa5, aa5_oracle = row[SCENARIOS[5].name, "ours"], row[SCENARIOS[5].name, "oracle SPRT"]
    half = row[SCENARIOS[6].name, "ours"]
    low, low_alarm = row[SCENARIOS[-2].name, "ours"], row[SCENARIOS[-2].name, "alias alarm"]
    low_aa_any = row[SCENARIOS[-1].name, "any error 60 s"]
    return "\n".join(
        [
            "**Findings and limits.**",
            f"- On AWS the data come in 1-minute periods: on whole minutes the test fails "
            f"1% -> 5% after {num_or_dash(gross.mean)} new-version requests "
            f"({num_or_dash(gross.minutes and gross.minutes * 60)} s) at 50 rps, where one "
            "minute already holds 300. The 2x-oracle target measures the statistics (per "
            "slice); at high traffic the minute, and the metric lag, dominate for every method.",
            f"- A/A at 5%: {aa5.inconclusive:.1%} of good versions are still undecided at the "
            f"horizon (the oracle: {aa5_oracle.inconclusive:.1%}) although the bake was sized by "
            "the pre-flight: Wald's test is slow to rule out +1 pp on a 5% baseline, with a long "
            "tail. The default policy rolls those back; a longer bake or "
            '`"onInconclusive": "promote"` avoids it.',
            f"- A new version at 50% of the traffic: {half.fail:.1%} false rollbacks. The "
            "stable rate that anchors the alternatives is then estimated from half the traffic; "
            "anchoring on an upper bound of it (not the estimate itself, which measured 0.95% "
            "over 8,000 rollouts) is what keeps this case under alpha.",
            f"- Low traffic: {low.fail:.1%} of bad versions fail on evidence and "
            f"{low.inconclusive:.1%} end inconclusive, which rolls back under the default policy; "
            f"none is promoted (the alias alarm promotes {low_alarm.passed:.1%}). The mean "
            "requests to fail is over the rollouts that failed in time, so it is censored; the "
            "any-error rule rolls back "
            f"{low_aa_any.fail:.1%} of good versions at the same traffic.",
            "- The any-error rule fails 0.1% -> 1% and 1% -> 2% in fewer requests than the test "
            "(at the first minute with an error), at the price of rolling back every good version.",
        ]
    )


def num_or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def markdown(all_rows: list[Row], rollouts: int, seed: int) -> str:
    from rollout.domain.analysis import detectable_increase

    low = SCENARIOS[-1]
    detectable = detectable_increase(
        AnalysisConfig(),
        stable_error_rate=low.stable_rate,
        new_invocations=low.alias_rps * low.share * low.bake_seconds,
    )
    low_text = "nothing" if detectable is None else f"+{detectable * 100:.1f} pp, not +1 pp"
    return "\n\n".join(
        [
            BEGIN,
            "## Version analysis: `bench/analysis.py`",
            f"Generated by `python bench/analysis.py --rollouts {rollouts} --seed {seed}` "
            f"({rollouts:,} rollouts a scenario).",
            SETUP.format(share=CANARY_SHARE, low_detectable=low_text).strip(),
            plans(),
            table(all_rows),
            TARGETS.strip(),
            "\n".join(check_targets(all_rows)),
            findings(all_rows),
            END,
        ]
    )


def write_docs(text: str) -> None:
    if DOCS.exists():
        current = DOCS.read_text()
        if BEGIN in current and END in current:
            head, rest = current.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            DOCS.write_text(head + text + tail)
            return
    DOCS.write_text("# Benchmarks\n\n" + text + "\n")


# --- lagged delivery: the Check as it runs on AWS's late, per-minute metrics ---------------

LAGGED_BEGIN = "<!-- bench/analysis.py lagged: begin -->"
LAGGED_END = "<!-- bench/analysis.py lagged: end -->"
LAG_DELAY_S, LAG_JITTER_S = 60.0, 120.0  # each metric of each minute: 1 to 3 minutes late
POLL_S = 30  # the state machine's default poll
CANARY_BAKE_S = 300  # Canary10Percent5Minutes: 10% for 5 minutes, then 100%


@dataclass(frozen=True)
class LaggedScenario:
    name: str
    rate: float  # alias requests per second
    stable_rate: float
    new_rate: float
    share: float = CANARY_SHARE

    @property
    def bad(self) -> bool:
        return self.new_rate > self.stable_rate


LAGGED_SCENARIOS = (
    LaggedScenario("A/A 1%, 10 req/s", 10, 0.01, 0.01),
    LaggedScenario("A/A 1%, 100 req/s", 100, 0.01, 0.01),
    LaggedScenario("A/A 5% (stable already at 5%), 10 req/s", 10, 0.05, 0.05),
    LaggedScenario("A/A 5% (stable already at 5%), 100 req/s", 100, 0.05, 0.05),
    LaggedScenario("A/A 1% at a 50% share, 10 req/s", 10, 0.01, 0.01, share=0.5),
    LaggedScenario("1% -> 5%, 1 req/s", 1, 0.01, 0.05),
    LaggedScenario("1% -> 5%, 10 req/s", 10, 0.01, 0.05),
    LaggedScenario("1% -> 5%, 100 req/s", 100, 0.01, 0.05),
    LaggedScenario("1% -> 5% at a 50% share, 10 req/s", 10, 0.01, 0.05, share=0.5),
)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n * p > 30 and n * (1 - p) > 30:
        return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))
    if n < 200:
        return sum(1 for _ in range(n) if rng.random() < p)
    return min(n, _poisson(rng, n * p))


def lagged_rollout(
    scenario: LaggedScenario, rng: random.Random, *, settled: bool = True
) -> tuple[str, float, int]:
    """One Canary10Percent5Minutes step on late metrics: (outcome, seconds, new-version
    requests the last verdict judged).

    outcome is "reverted" (a fail verdict), "promoted" or "inconclusive" (rolled back by the
    default policy). `settled=False` is the Check before issue 11.4: the cumulative sums of
    whatever datapoints have landed, judged at once.
    """
    config = AnalysisConfig()
    shift = 600.0 + rng.uniform(0, 60)  # the shift falls anywhere in a minute
    horizon = shift + CANARY_BAKE_S + config.max_extension_seconds
    if settled:
        horizon += config.settle_seconds
    landed: dict[tuple[str, str, int], tuple[float, float]] = {}  # -> (lands at, value)
    first = int(shift // 60) * 60
    new_total = 0
    for minute in range(first, int(horizon) + 60, 60):
        live = min(60.0, minute + 60 - shift)  # seconds of the minute at the canary's weight
        new_n = _poisson(rng, scenario.rate * scenario.share * live)
        stable_n = _poisson(rng, scenario.rate * (60 - live * scenario.share))
        new_total += new_n
        for version, n, p in (("stable", stable_n, scenario.stable_rate), ("new", new_n, 0)):
            if not n:
                continue  # Lambda sends no datapoint for a minute without invocations
            p = scenario.new_rate if version == "new" else p
            errors = _binomial(rng, n, p)
            for metric, value in (("inv", n), ("err", errors)):
                lands = minute + 60 + LAG_DELAY_S + rng.uniform(0, LAG_JITTER_S)
                landed[(version, metric, minute)] = (lands, float(value))
    now = shift
    while now < horizon + POLL_S:
        now += POLL_S

        def series(version: str, at: float = now) -> MinuteSeries:
            got = {
                metric: {
                    m: v
                    for (ver, met, m), (t, v) in landed.items()
                    if ver == version and met == metric and t <= at
                }
                for metric in ("inv", "err")
            }
            return MinuteSeries(got["inv"], got["err"], SAME_P99_MS)

        stable, new = series("stable"), series("new")
        if settled:
            counts = settled_counts(config, stable, new, step_starts=[shift], now=now)
            s_sample, n_sample = counts.stable, counts.new
            by_step = counts.by_step
        else:
            s_sample = VersionSample(
                round(sum(stable.invocations.values())), round(sum(stable.errors.values()))
            )
            n_sample = VersionSample(
                round(sum(new.invocations.values())), round(sum(new.errors.values()))
            )
            by_step = ()
        s_sample = VersionSample(s_sample.invocations, s_sample.errors, SAME_P99_MS)
        n_sample = VersionSample(n_sample.invocations, n_sample.errors, SAME_P99_MS)
        outcome = evaluate(config, s_sample, n_sample, by_step=by_step).outcome
        spent = now - shift
        if outcome == "fail":
            return "reverted", spent, n_sample.invocations
        if spent >= CANARY_BAKE_S and outcome == "pass":
            return "promoted", spent, n_sample.invocations
        if now >= horizon:
            return "inconclusive", spent, n_sample.invocations
    return "inconclusive", now - shift, new_total


def _lagged_job(job: tuple[int, int, int, bool]) -> list[tuple[str, float, int]]:
    index, seed, count, settled = job
    scenario = LAGGED_SCENARIOS[index]
    rng = random.Random(seed * 1_000_003 + index * 7919 + int(settled))
    return [lagged_rollout(scenario, rng, settled=settled) for _ in range(count)]


def run_lagged(
    rollouts: int, seed: int, processes: int, *, settled: bool = True
) -> dict[str, list[tuple[str, float, int]]]:
    jobs = [(i, seed, rollouts, settled) for i in range(len(LAGGED_SCENARIOS))]
    if processes > 1:
        with Pool(processes) as pool:
            results = pool.map(_lagged_job, jobs)
    else:
        results = [_lagged_job(job) for job in jobs]
    return {s.name: r for s, r in zip(LAGGED_SCENARIOS, results, strict=True)}


def lagged_table(results: dict[str, list[tuple[str, float, int]]], label: str) -> str:
    lines = [
        f"| scenario ({label}) | reverted (fail verdict) | promoted | inconclusive "
        "| time to revert, median / p90 (s) | new-version requests judged at revert (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, outcomes in results.items():
        n = len(outcomes)
        share = {
            k: sum(1 for o, _, _ in outcomes if o == k) / n
            for k in ("reverted", "promoted", "inconclusive")
        }
        times = sorted(t for o, t, _ in outcomes if o == "reverted")
        timing = f"{statistics.median(times):.0f} / {percentile(times, 0.9):.0f}" if times else "-"
        judged = [j for o, _, j in outcomes if o == "reverted"]
        evidence = f"{statistics.median(judged):,.0f}" if judged else "-"
        lines.append(
            f"| {name} | {share['reverted']:.1%} | {share['promoted']:.1%} "
            f"| {share['inconclusive']:.1%} | {timing} | {evidence} |"
        )
    return "\n".join(lines)


LAGGED_SETUP = """\
**Setup (lagged delivery).** One `Canary10Percent5Minutes` step (10% for 300 s, then 100%)
checked every 30 s by the real domain code, on metrics delivered as Lambda delivers them:
counts per minute for each version, and each metric (Invocations, Errors) of each minute
landing on its own 60 to 180 s after the minute ends (uniform, independent). A minute with no
invocations of a version has no datapoint. The shift falls anywhere in a minute. Times are
simulated seconds from the shift (the time to revert a regression on AWS would be these plus
the Revert task's few seconds). Default `AnalysisConfig` (settleSeconds 180,
maxExtensionSeconds 600, onInconclusive rollback). "Before 11.4" is the previous Check: the
cumulative sums of whatever had landed, judged at once.
"""


def lagged_markdown(
    settled: dict[str, list[tuple[str, float, int]]],
    before: dict[str, list[tuple[str, float, int]]],
    rollouts: int,
    seed: int,
) -> str:
    return "\n\n".join(
        [
            LAGGED_BEGIN,
            "### Under lagged delivery (issue 11.4)",
            LAGGED_SETUP.strip(),
            f"{rollouts:,} rollouts a scenario, seed {seed} "
            f"(`python bench/analysis.py --lagged --rollouts {rollouts} --seed {seed}`).",
            lagged_table(settled, "settled minutes, as shipped"),
            lagged_table(before, "before 11.4"),
            LAGGED_END,
        ]
    )


def write_lagged_docs(text: str) -> None:
    doc = DOCS.read_text()
    if LAGGED_BEGIN in doc:
        head, rest = doc.split(LAGGED_BEGIN, 1)
        doc = head + text + rest.split(LAGGED_END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    DOCS.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the version-versus-version analysis.")
    parser.add_argument("--rollouts", type=int, default=2000, help="per scenario (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="300 rollouts, do not write docs")
    parser.add_argument("--processes", "-j", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true", help=f"do not write {DOCS.name}")
    parser.add_argument(
        "--lagged", action="store_true", help="the Canary10Percent5Minutes step on late metrics"
    )
    args = parser.parse_args(argv)
    if args.lagged:
        count = 100 if args.quick else args.rollouts
        started = time.perf_counter()
        settled = run_lagged(count, args.seed, args.processes)
        before = run_lagged(count, args.seed, args.processes, settled=False)
        text = lagged_markdown(settled, before, count, args.seed)
        print(text)
        if not (args.quick or args.no_docs):
            write_lagged_docs(text)
        print(f"{count:,} a scenario, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return 0
    rollouts = 300 if args.quick else args.rollouts
    started = time.perf_counter()
    all_rows = rows(run(rollouts, args.seed, args.processes), rollouts)
    print(
        plans(),
        table(all_rows),
        "\n".join(check_targets(all_rows)),
        findings(all_rows),
        sep="\n\n",
    )
    if not (args.quick or args.no_docs):
        write_docs(markdown(all_rows, rollouts, args.seed))
        print(f"\nwrote {DOCS}")
    print(
        f"{rollouts:,} rollouts a scenario, seed {args.seed}, "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
