"""The version-versus-version statistics: known values, boundaries, monotonicity, config."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rollout.domain.analysis import (
    FAIL_MIXTURE,
    AnalysisConfig,
    MinuteSeries,
    VersionSample,
    detectable_increase,
    evaluate,
    expected_new_invocations,
    no_regression_log_likelihood_ratio,
    regression_log_likelihood_ratio,
    required_new_invocations,
    settled_counts,
)

DEFAULT = AnalysisConfig()
NO_LATENCY = AnalysisConfig(latency_p99_tolerance=None)
FAVOUR = {"fail": 0, "undecided": 1, "pass": 2}  # higher is more favourable to the new version


def sample(
    invocations: int, errors: int, p99: float | None = 100.0, version: str = ""
) -> VersionSample:
    return VersionSample(invocations, errors, p99, version)


def closed_form_n(p0: float, p1: float, alpha: float = 0.01, power: float = 0.99) -> float:
    """The facts guide's one-sided fixed-sample size, written out independently."""
    z = NormalDist().inv_cdf
    spread = z(1 - alpha) * math.sqrt(p0 * (1 - p0)) + z(power) * math.sqrt(p1 * (1 - p1))
    return spread**2 / (p1 - p0) ** 2


# --- known values ---------------------------------------------------------------------


def test_gross_regression_fails_with_a_reason_naming_both_versions_rates_and_counts() -> None:
    verdict = evaluate(DEFAULT, sample(1350, 3, version="6"), sample(150, 12, version="7"))

    assert verdict.outcome == "fail"
    assert verdict.reason.startswith(
        "new version 7: 12 errors in 150 requests (8.0%) vs stable 6: 3 errors in 1,350 (0.22%);"
        " evidence of a regression (log-likelihood ratio "
    )
    assert verdict.reason.endswith(" >= 4.6)")
    assert verdict.numbers["newErrorRate"] == pytest.approx(0.08)
    assert verdict.numbers["stableErrorRate"] == pytest.approx(3 / 1350)
    assert verdict.numbers["outcome"] == "fail"


def test_regression_log_likelihood_ratio_matches_the_conditional_binomial_mixture() -> None:
    stable, new = sample(1350, 3), sample(150, 12)
    share, x, total = 150 / 1500, 12, 15
    anchor = (3 + 1 + 2 * math.sqrt(3 + 1)) / (1350 + 2)  # ~2-sigma bound of the stable rate
    expected = 0.0
    for multiple, weight in FAIL_MIXTURE:
        ratio = 1 + multiple * 0.01 / anchor
        alt = share * ratio / (share * ratio + 1 - share)
        expected += (
            weight * alt**x * (1 - alt) ** (total - x) / (share**x * (1 - share) ** (total - x))
        )

    assert regression_log_likelihood_ratio(DEFAULT, stable, new) == pytest.approx(
        math.log(expected)
    )


def test_no_regression_log_likelihood_ratio_is_walds_with_the_stable_rate_as_p0() -> None:
    stable, new = sample(100_000, 1_000), sample(460, 0)
    p0 = 1000.5 / 100_001
    p1 = p0 + 0.01

    llr = no_regression_log_likelihood_ratio(DEFAULT, stable, new)

    assert llr == pytest.approx(460 * math.log((1 - p1) / (1 - p0)))
    assert llr == pytest.approx(-4.67, abs=0.01)


def test_thresholds_are_walds_boundaries_for_the_configured_alpha_and_power() -> None:
    config = AnalysisConfig(false_positive_rate=0.05, power=0.9)

    assert config.fail_threshold == pytest.approx(math.log(20))
    assert config.pass_threshold == pytest.approx(math.log(0.1 / 0.95))


def test_equal_versions_with_enough_traffic_pass() -> None:
    verdict = evaluate(DEFAULT, sample(90_000, 900), sample(10_000, 100))

    assert verdict.outcome == "pass"
    assert "rules out a regression of +1 pp" in verdict.reason


def test_old_version_already_at_5_percent_does_not_fail_a_same_rate_new_version() -> None:
    stable, new = sample(90_000, 4_500), sample(10_000, 500)

    verdict = evaluate(DEFAULT, stable, new)

    assert verdict.outcome == "pass"
    assert regression_log_likelihood_ratio(DEFAULT, stable, new) == 0.0


def test_old_version_already_at_5_percent_does_not_block_a_fix() -> None:
    verdict = evaluate(DEFAULT, sample(9_000, 450), sample(1_000, 10))

    assert verdict.outcome == "pass"


def test_old_version_already_at_5_percent_still_fails_a_worse_new_version() -> None:
    verdict = evaluate(DEFAULT, sample(9_000, 450), sample(1_000, 120))

    assert verdict.outcome == "fail"


def test_too_few_requests_to_rule_out_the_regression_is_undecided_with_how_many_more() -> None:
    verdict = evaluate(DEFAULT, sample(9_000, 90), sample(1_000, 10))

    assert verdict.outcome == "undecided"
    assert "not enough evidence yet to rule out +1 pp" in verdict.reason
    more = verdict.numbers["moreInvocationsToPass"]
    assert isinstance(more, int)
    assert 0 < more < 1_000

    # That many more requests at the stable rate pass; half as many do not.
    def with_more(extra: int) -> str:
        return evaluate(
            DEFAULT, sample(9_000, 90), sample(1_000 + extra, 10 + extra // 100)
        ).outcome

    assert with_more(more) == "pass"
    assert with_more(more // 2) == "undecided"


def test_numbers_are_json_serializable_and_name_everything_behind_the_verdict() -> None:
    verdict = evaluate(DEFAULT, sample(1350, 3, version="6"), sample(150, 12, version="7"))

    decoded = json.loads(json.dumps(verdict.numbers))

    for key in (
        "newVersion",
        "newInvocations",
        "newErrors",
        "newErrorRate",
        "stableVersion",
        "stableInvocations",
        "stableErrors",
        "stableErrorRate",
        "failLogLikelihoodRatio",
        "failThreshold",
        "passLogLikelihoodRatio",
        "passThreshold",
        "newP99Ms",
        "stableP99Ms",
        "latency",
    ):
        assert key in decoded
    assert decoded["newVersion"] == "7"


# --- missing data is never healthy ----------------------------------------------------


@pytest.mark.parametrize(
    ("stable", "new"),
    [((0, 0), (0, 0)), ((10_000, 100), (0, 0)), ((0, 0), (10_000, 0))],
    ids=["no traffic", "no new-version traffic", "no stable traffic"],
)
def test_zero_invocations_is_undecided_never_pass(
    stable: tuple[int, int], new: tuple[int, int]
) -> None:
    verdict = evaluate(DEFAULT, sample(*stable), sample(*new))

    assert verdict.outcome == "undecided"
    assert "no invocations" in verdict.reason


def test_more_errors_than_invocations_from_late_datapoints_is_undecided() -> None:
    verdict = evaluate(DEFAULT, sample(10_000, 100), sample(50, 60))

    assert verdict.outcome == "undecided"
    assert "late datapoints" in verdict.reason


def test_unknown_p99_blocks_a_pass_but_not_a_fail() -> None:
    stable, new = VersionSample(90_000, 900), VersionSample(10_000, 100)

    assert evaluate(DEFAULT, stable, new).outcome == "undecided"
    assert "p99 Duration of a version is unknown" in evaluate(DEFAULT, stable, new).reason
    assert evaluate(DEFAULT, VersionSample(1350, 3), VersionSample(150, 12)).outcome == "fail"


def test_latency_off_passes_without_p99() -> None:
    verdict = evaluate(NO_LATENCY, VersionSample(90_000, 900), VersionSample(10_000, 100))

    assert verdict.outcome == "pass"


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        VersionSample(-1, 0)
    with pytest.raises(ValueError, match="p99_ms"):
        VersionSample(1, 0, math.nan)


def test_whole_float_counts_from_cloudwatch_sums_are_read_as_integers() -> None:
    counted = VersionSample(150.0, 12.0)  # type: ignore[arg-type]

    assert (counted.invocations, counted.errors) == (150, 12)
    assert isinstance(counted.invocations, int)
    with pytest.raises(ValueError, match="whole number"):
        VersionSample(150.5, 12)  # type: ignore[arg-type]


def test_turned_off_analysis_passes_and_says_so() -> None:
    verdict = evaluate(AnalysisConfig(enabled=False), sample(0, 0), sample(0, 0))

    assert verdict.outcome == "pass"
    assert verdict.reason == "version analysis is turned off"


# --- boundaries -----------------------------------------------------------------------


def test_min_invocations_is_the_first_count_that_can_pass() -> None:
    config = AnalysisConfig(min_invocations=1_000, latency_p99_tolerance=None)
    stable = sample(100_000, 1_000)

    assert evaluate(config, stable, sample(999, 0)).outcome == "undecided"
    assert evaluate(config, stable, sample(1_000, 0)).outcome == "pass"


def test_fail_starts_exactly_where_the_log_likelihood_ratio_reaches_log_one_over_alpha() -> None:
    stable = sample(9_000, 90)
    errors = next(
        x for x in range(200) if evaluate(DEFAULT, stable, sample(1_000, x)).outcome == "fail"
    )

    llr_at = regression_log_likelihood_ratio(DEFAULT, stable, sample(1_000, errors))
    llr_before = regression_log_likelihood_ratio(DEFAULT, stable, sample(1_000, errors - 1))
    assert llr_before < DEFAULT.fail_threshold <= llr_at


def test_pass_starts_exactly_where_the_log_likelihood_ratio_reaches_walds_lower_boundary() -> None:
    stable = sample(100_000, 1_000)
    n = next(
        n for n in range(100, 2_000) if evaluate(NO_LATENCY, stable, sample(n, 0)).outcome == "pass"
    )

    assert no_regression_log_likelihood_ratio(NO_LATENCY, stable, sample(n, 0)) <= (
        NO_LATENCY.pass_threshold
    )
    assert no_regression_log_likelihood_ratio(NO_LATENCY, stable, sample(n - 1, 0)) > (
        NO_LATENCY.pass_threshold
    )
    assert n == 453  # log(0.01/0.99) / log((1 - p1) / (1 - p0)) with p0 = 1.0005%, rounded up


def test_p99_exactly_at_the_tolerance_is_not_a_regression() -> None:
    stable, base = sample(90_000, 900, 200.0), (10_000, 100)

    at_limit = evaluate(DEFAULT, stable, sample(*base, 250.0))
    above = evaluate(DEFAULT, stable, sample(*base, 250.5))

    assert at_limit.outcome == "pass"
    assert above.outcome == "fail"
    assert above.reason.endswith(
        "latency regressed: p99 250.5 ms vs 200.0 ms (limit +25%: 250.0 ms)"
    )
    assert above.numbers["latency"] == "regressed"


def test_p99_is_not_trusted_below_min_latency_invocations() -> None:
    stable = sample(90_000, 900, 200.0)

    too_few = evaluate(DEFAULT, stable, sample(499, 0, 900.0))
    enough = evaluate(DEFAULT, stable, sample(500, 0, 900.0))

    assert too_few.outcome == "undecided"
    assert "p99 needs 500 new-version requests" in too_few.reason
    assert enough.outcome == "fail"


# --- monotonicity ---------------------------------------------------------------------

counts = st.integers(min_value=1, max_value=20_000)
rates = st.floats(min_value=0.0, max_value=0.2)


@settings(max_examples=300, deadline=None)
@given(stable_n=counts, stable_rate=rates, new_n=counts, new_rate=rates, extra=st.integers(1, 50))
def test_more_new_version_errors_never_make_the_verdict_more_favourable(
    stable_n: int, stable_rate: float, new_n: int, new_rate: float, extra: int
) -> None:
    stable = sample(stable_n, round(stable_n * stable_rate))
    errors = round(new_n * new_rate)
    worse_errors = min(new_n, errors + extra)

    before = evaluate(DEFAULT, stable, sample(new_n, errors))
    after = evaluate(DEFAULT, stable, sample(new_n, worse_errors))

    assert FAVOUR[after.outcome] <= FAVOUR[before.outcome]
    assert regression_log_likelihood_ratio(
        DEFAULT, stable, sample(new_n, worse_errors)
    ) >= regression_log_likelihood_ratio(DEFAULT, stable, sample(new_n, errors))


@settings(max_examples=300, deadline=None)
@given(stable_n=counts, stable_rate=rates, new_n=counts, new_rate=rates, clean=counts)
def test_more_clean_new_version_traffic_never_makes_the_verdict_less_favourable(
    stable_n: int, stable_rate: float, new_n: int, new_rate: float, clean: int
) -> None:
    stable = sample(stable_n, round(stable_n * stable_rate))
    errors = round(new_n * new_rate)

    before = evaluate(DEFAULT, stable, sample(new_n, errors))
    after = evaluate(DEFAULT, stable, sample(new_n + clean, errors))

    assert FAVOUR[after.outcome] >= FAVOUR[before.outcome]


# --- stratified by step ---------------------------------------------------------------


def test_outage_in_a_heavier_step_does_not_fail_an_equal_new_version_when_split_by_step() -> None:
    # 10 min at 10% and 1% errors, then 1 min at 50% while a dependency fails 20% of requests.
    step_1 = (sample(27_000, 270), sample(3_000, 30))
    step_2 = (sample(1_500, 300), sample(1_500, 300))
    stable, new = sample(28_500, 570), sample(4_500, 330)

    pooled = evaluate(DEFAULT, stable, new)
    by_step = evaluate(DEFAULT, stable, new, by_step=[step_1, step_2])

    assert pooled.outcome == "fail"  # why the Check should pass counts by step
    assert by_step.outcome != "fail"
    assert by_step.numbers["steps"] == 2


def test_a_regression_in_every_step_still_fails_when_split_by_step() -> None:
    step_1 = (sample(2_700, 27), sample(300, 15))
    step_2 = (sample(1_500, 15), sample(1_500, 75))
    stable, new = sample(4_200, 42), sample(1_800, 90)

    assert evaluate(DEFAULT, stable, new, by_step=[step_1, step_2]).outcome == "fail"


def test_one_step_is_the_same_as_no_split() -> None:
    stable, new = sample(1350, 3), sample(150, 12)

    assert evaluate(DEFAULT, stable, new, by_step=[(stable, new)]) == evaluate(DEFAULT, stable, new)


def test_steps_that_do_not_add_up_to_the_totals_are_rejected() -> None:
    with pytest.raises(ValueError, match="sum to 100, not 150"):
        evaluate(
            DEFAULT, sample(1350, 3), sample(150, 12), by_step=[(sample(1350, 3), sample(100, 12))]
        )


# --- pre-flight -----------------------------------------------------------------------


@pytest.mark.parametrize("p0", [0.0, 0.001, 0.01, 0.05, 0.3])
@pytest.mark.parametrize("n", [50, 500, 3_104, 20_000])
def test_detectable_increase_solves_the_closed_form_sample_size(p0: float, n: int) -> None:
    increase = detectable_increase(DEFAULT, stable_error_rate=p0, new_invocations=n)

    assert increase is not None
    assert closed_form_n(p0, p0 + increase) == pytest.approx(n, rel=1e-6)


def test_detectable_increase_at_1_percent_and_3104_requests_is_1_point() -> None:
    increase = detectable_increase(DEFAULT, stable_error_rate=0.01, new_invocations=3_104.24)

    assert increase == pytest.approx(0.01, abs=1e-4)


def test_detectable_increase_shrinks_as_traffic_grows() -> None:
    sizes = [10, 100, 1_000, 10_000, 100_000]
    increases = [
        detectable_increase(DEFAULT, stable_error_rate=0.01, new_invocations=n) for n in sizes
    ]

    assert all(i is not None for i in increases)
    assert increases == sorted(increases, reverse=True)  # type: ignore[type-var]
    assert len(set(increases)) == len(increases)


@pytest.mark.parametrize("n", [0, -5, math.nan])
def test_detectable_increase_without_traffic_is_none(n: float) -> None:
    assert detectable_increase(DEFAULT, stable_error_rate=0.01, new_invocations=n) is None


def test_required_new_invocations_is_the_closed_form_or_min_invocations() -> None:
    assert required_new_invocations(DEFAULT, stable_error_rate=0.01) == pytest.approx(
        closed_form_n(0.01, 0.02)
    )
    loose = AnalysisConfig(max_error_rate_increase=0.5, min_invocations=100)
    assert required_new_invocations(loose, stable_error_rate=0.01) == 100


def test_expected_new_invocations_sums_rate_share_and_bake_over_steps() -> None:
    steps = [(10.0, 300), (50.0, 300), (0.5, 60), (100.0, 0)]

    assert expected_new_invocations(50, steps) == pytest.approx(1_500 + 7_500 + 15)
    assert expected_new_invocations(0, steps) == 0


# --- config ---------------------------------------------------------------------------


def test_config_defaults_suit_aws() -> None:
    assert DEFAULT.enabled is True
    assert DEFAULT.max_error_rate_increase == 0.01
    assert DEFAULT.min_invocations == 100
    assert DEFAULT.false_positive_rate == 0.01
    assert DEFAULT.power == 0.99
    assert DEFAULT.latency_p99_tolerance == 0.25
    assert DEFAULT.min_latency_invocations == 500
    assert DEFAULT.on_inconclusive == "rollback"
    assert DEFAULT.max_extension_seconds == 600


def test_config_reads_camel_case_and_snake_case() -> None:
    wire = {
        "maxErrorRateIncrease": 0.02,
        "minInvocations": 200,
        "falsePositiveRate": 0.05,
        "latencyP99Tolerance": 0.5,
        "onInconclusive": "promote",
        "maxExtensionSeconds": 900,
    }

    config = AnalysisConfig.model_validate(wire)

    assert config.max_error_rate_increase == 0.02
    assert config.on_inconclusive == "promote"
    assert AnalysisConfig(min_invocations=200).min_invocations == 200
    assert config.model_dump(by_alias=True)["maxExtensionSeconds"] == 900


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("falsePositiveRate", 0),
        ("falsePositiveRate", 0.5),
        ("falsePositiveRate", -0.01),
        ("maxErrorRateIncrease", 0),
        ("maxErrorRateIncrease", 1),
        ("power", 1),
        ("power", 0.5),
        ("minInvocations", 0),
        ("minInvocations", 1.5),
        ("latencyP99Tolerance", -0.1),
        ("maxExtensionSeconds", -1),
        ("maxExtensionSeconds", 8 * 24 * 3600),
        ("onInconclusive", "ignore"),
        ("falsePositiveRate", "0.01"),
        ("minInvocations", True),
        ("enabled", "yes"),
        ("alarmName", "x"),
    ],
)
def test_config_rejects_values_out_of_range(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        AnalysisConfig.model_validate({field: value})


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT.min_invocations = 5


# --- settled minutes only (Lambda's metrics arrive late, and not together) ---------------

M = 60  # Lambda's metric period
T_NOW = 10_000 * M  # a minute boundary


def minutes(counts: dict[int, tuple[int, int]]) -> MinuteSeries:
    """{minute index: (invocations, errors)} -> one version's datapoints."""
    return MinuteSeries(
        invocations={i * M: float(n) for i, (n, _) in counts.items()},
        errors={i * M: float(e) for i, (_, e) in counts.items()},
    )


def test_minutes_younger_than_the_settle_delay_are_not_judged() -> None:
    # Given minutes up to the one that just ended; the default settle delay is 180 s
    stable = minutes({i: (900, 9) for i in range(9_990, 10_000)})
    new = minutes({i: (100, 1) for i in range(9_990, 10_000)})

    counts = settled_counts(DEFAULT, stable, new, step_starts=[9_990 * M], now=T_NOW + 30)

    # Then only the minutes that ended 180 s before now count: 9,990 to 9,996
    assert counts.settled_until == T_NOW - 3 * M
    assert counts.minutes_judged == 7
    assert (counts.new.invocations, counts.stable.invocations) == (700, 6_300)


def test_error_free_invocations_whose_errors_are_still_on_the_way_never_pass_a_bad_version() -> (
    None
):
    # Given a version failing 5% of requests (stable 1%), whose last minutes' Invocations
    # landed before their Errors (CloudWatch has no Errors datapoint for them yet)
    config = AnalysisConfig(settle_seconds=0, latency_p99_tolerance=None)
    stable = minutes({i: (9_500, 95) for i in range(10)})
    new_invocations = {i * M: 500.0 for i in range(10)}
    new_errors = {i * M: 25.0 for i in range(2)}  # minutes 2-9: errors not landed yet
    new = MinuteSeries(invocations=new_invocations, errors=new_errors)

    counts = settled_counts(config, stable, new, step_starts=[0], now=10 * M)
    verdict = evaluate(config, counts.stable, counts.new)

    # Then the incomplete minutes are left out, not read as 4,000 clean requests
    assert counts.minutes_judged == 2
    assert counts.minutes_incomplete == 8
    assert counts.new == VersionSample(1_000, 50)
    assert verdict.outcome != "pass"
    # (read as they stand, the same datapoints would pass the bad version)
    naive = VersionSample(5_000, 50), VersionSample(95_000, 950)
    assert evaluate(config, naive[1], naive[0]).outcome == "pass"


def test_a_minute_is_judged_only_when_both_versions_invocations_and_errors_are_present() -> None:
    config = AnalysisConfig(settle_seconds=0)
    full = minutes({0: (90, 1), 1: (90, 1), 2: (90, 1), 3: (90, 1)})
    stable = MinuteSeries(
        invocations=full.invocations, errors={k: v for k, v in full.errors.items() if k != 1 * M}
    )
    new = MinuteSeries(
        invocations={k: 10.0 for k in full.invocations if k != 2 * M},
        errors={k: 0.0 for k in full.errors if k != 3 * M},
    )

    counts = settled_counts(config, stable, new, step_starts=[0], now=4 * M)

    # minute 0 complete; 1 lacks the stable Errors, 2 the new Invocations, 3 the new Errors
    assert (counts.minutes_judged, counts.minutes_incomplete) == (1, 3)
    assert (counts.stable, counts.new) == (VersionSample(90, 1), VersionSample(10, 0))


def test_minutes_are_split_by_the_step_whose_shift_came_at_or_before_them_never_pooled() -> None:
    # Given 3 minutes at 10%, a shift to 50% at 3:20, and an outage that hits both versions
    # from minute 3 on
    config = AnalysisConfig(settle_seconds=0)
    stable = minutes({0: (900, 9), 1: (900, 9), 2: (900, 9), 3: (600, 100), 4: (500, 100)})
    new = minutes({0: (100, 1), 1: (100, 1), 2: (100, 1), 3: (400, 100), 4: (500, 100)})

    counts = settled_counts(config, stable, new, step_starts=[0, 3 * M + 20], now=5 * M)

    # Then minute 3, which the shift cuts in two, is in neither step
    assert counts.by_step == (
        (VersionSample(2_700, 27), VersionSample(300, 3)),
        (VersionSample(500, 100), VersionSample(500, 100)),
    )
    assert counts.minutes_across_a_shift == 1
    # And the outage is not read as the new version's fault, as pooled counts would read it
    split = evaluate(config, counts.stable, counts.new, by_step=counts.by_step)
    assert split.outcome != "fail"
    assert evaluate(config, counts.stable, counts.new).outcome == "fail"


def test_minutes_before_the_first_shift_are_not_the_rollouts() -> None:
    config = AnalysisConfig(settle_seconds=0)
    stable = minutes({0: (1_000, 10), 1: (900, 9)})
    new = minutes({0: (5, 5), 1: (100, 1)})

    counts = settled_counts(config, stable, new, step_starts=[1 * M], now=2 * M)

    assert (counts.stable, counts.new) == (VersionSample(900, 9), VersionSample(100, 1))


def test_the_split_by_step_does_not_depend_on_when_datapoints_arrived() -> None:
    # A step's late minutes stay in that step: the same minutes, read at two later times
    config = AnalysisConfig(settle_seconds=0)
    stable = minutes({0: (900, 9), 1: (500, 5)})
    new = minutes({0: (100, 1), 1: (500, 5)})

    early = settled_counts(config, stable, new, step_starts=[0, 1 * M], now=2 * M)
    later = settled_counts(config, stable, new, step_starts=[0, 1 * M], now=50 * M)

    assert early.by_step == later.by_step != ()


def test_no_settled_minute_is_undecided_never_pass() -> None:
    stable = minutes({9_999: (900, 0)})
    new = minutes({9_999: (100, 0)})

    counts = settled_counts(DEFAULT, stable, new, step_starts=[0], now=T_NOW)
    verdict = evaluate(DEFAULT, counts.stable, counts.new)

    assert counts.minutes_judged == 0
    assert verdict.outcome == "undecided"


def test_settle_delay_default_and_bounds() -> None:
    assert DEFAULT.settle_seconds == 180
    assert AnalysisConfig.model_validate({"settleSeconds": 0}).settle_seconds == 0
    for bad in (-1, 3601, 1.5, "180", True):
        with pytest.raises(ValidationError):
            AnalysisConfig.model_validate({"settleSeconds": bad})
