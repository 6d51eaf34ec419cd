"""A fast seeded subset of bench/analysis.py's lagged-delivery benchmark (issue 11.4).

Lambda's metrics land 1 to 3 minutes late and not together (Lambda developer guide:
monitoring-metrics, "Viewing metrics"): a bad version must never be promoted on them, and an
A/A canary must not be rolled back on evidence.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "analysis.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_analysis", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_lagged_bad_version_is_never_promoted(bench: ModuleType) -> None:
    for scenario in (s for s in bench.LAGGED_SCENARIOS if s.bad):
        rng = random.Random(11)
        outcomes = [bench.lagged_rollout(scenario, rng)[0] for _ in range(12)]

        assert "promoted" not in outcomes, scenario.name


def test_a_lagged_a_a_canary_is_not_rolled_back_on_evidence(bench: ModuleType) -> None:
    rng = random.Random(5)
    scenario = next(
        s for s in bench.LAGGED_SCENARIOS if s.name.startswith("A/A 5%") and s.rate == 100
    )

    outcomes = [bench.lagged_rollout(scenario, rng)[0] for _ in range(15)]

    assert outcomes.count("reverted") == 0
    assert outcomes.count("promoted") >= 10


def test_before_the_fix_lagged_errors_roll_back_a_good_version(bench: ModuleType) -> None:
    # The same seeded traffic, judged as the Check did before: whatever had landed, at once
    rng = random.Random(5)
    scenario = next(
        s for s in bench.LAGGED_SCENARIOS if s.name.startswith("A/A 5%") and s.rate == 100
    )

    outcomes = [bench.lagged_rollout(scenario, rng, settled=False)[0] for _ in range(15)]

    assert outcomes.count("reverted") >= 3
