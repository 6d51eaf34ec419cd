"""The analysis' evidence: Lambda's per-version metrics read through the port, judged in
the domain (rollout.domain.analysis)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from rollout.application.ports import (
    MetricsPort,
)
from rollout.domain import analysis as analysis_domain
from rollout.domain.rollout import (
    AnalysisView,
    RolloutState,
)


# Lambda's metrics for a minute arrive minutes late, and not together: the analysis judges
# only the minutes that have settled and hold both versions' Invocations and Errors, split by
# the step each minute belongs to. Until the new version has such data the verdict is
# "undecided", which never advances a step.
def analysis_view(
    state: RolloutState, metrics: MetricsPort | None, now: float
) -> AnalysisView | None:
    d = state.deployment
    if d.analysis is None:
        return None
    if metrics is None:
        raise ValueError("the analysis is on but the Check has no metrics port")
    config = analysis_domain.AnalysisConfig.model_validate(d.analysis)
    period = metrics.period_seconds
    until = analysis_domain.settled_until(config, now, period)
    series = metrics.per_minute(
        d.function_name, d.alias, [d.stable_version, d.target_version], d.started_epoch, until
    )
    empty = analysis_domain.MinuteSeries()
    stable_series = series.get(d.stable_version, empty)
    new_series = series.get(d.target_version, empty)
    counts = analysis_domain.settled_counts(
        config,
        stable_series,
        new_series,
        step_starts=[_epoch(record.shifted_at) for record in state.steps],
        now=now,
        period=period,
    )
    stable = dataclasses.replace(
        counts.stable, p99_ms=stable_series.p99_ms, version=d.stable_version
    )
    new = dataclasses.replace(counts.new, p99_ms=new_series.p99_ms, version=d.target_version)
    verdict = analysis_domain.evaluate(config, stable, new, by_step=counts.by_step)
    reason = verdict.reason
    if verdict.outcome == "undecided" and counts.minutes_judged == 0:
        reason += f" (a minute is judged {config.settle_seconds} s after it ends)"
    numbers = {**verdict.numbers, **counts.numbers, "settleSeconds": config.settle_seconds}
    return AnalysisView(outcome=verdict.outcome, reason=reason, numbers=numbers)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def detectability(
    state: RolloutState, metrics: MetricsPort, now: float, window_minutes: int = 60
) -> dict[str, Any] | None:
    """Pre-flight: what regression can this plan detect, given the alias's recent traffic?

    The rate is read over the last settled hour (the latest minutes are still arriving, and
    would read as a lull). Every bake's traffic counts: a step undecided at the end of its
    bake waits `settleSeconds` more for its last minutes (domain.judge), so a verdict comes
    about settleSeconds + one minute after the traffic it judges (`verdictLagSeconds`).
    """
    d = state.deployment
    if d.analysis is None:
        return None
    config = analysis_domain.AnalysisConfig.model_validate(d.analysis)
    period = metrics.period_seconds
    # An hour of Lambda's minutes (the emulator may compress a minute to a second).
    window_seconds = window_minutes * period
    until = analysis_domain.settled_until(config, now, period)
    invocations, errors = metrics.alias_traffic(
        d.function_name, d.alias, until - window_seconds, until
    )
    return analysis_domain.detectability(
        config, d.plan, invocations, errors, window_seconds=window_seconds, period=period
    )
