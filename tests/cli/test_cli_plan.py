"""`trafficshift plan`: the exact schedule of every CodeDeploy name, and the total time."""

from __future__ import annotations

import json

import pytest
from cli_support import assert_one_line_error, run_cli


def _canary(minutes: int) -> list[tuple[float, int]]:
    return [(10.0, minutes * 60), (100.0, 0)]


def _linear(minutes: int) -> list[tuple[float, int]]:
    return [(float(p), minutes * 60) for p in range(10, 100, 10)] + [(100.0, 0)]


# Written out from CodeDeploy's documentation, not computed by the code under test.
CODEDEPLOY = {
    "Canary10Percent5Minutes": _canary(5),
    "Canary10Percent10Minutes": _canary(10),
    "Canary10Percent15Minutes": _canary(15),
    "Canary10Percent30Minutes": _canary(30),
    "Linear10PercentEvery1Minute": _linear(1),
    "Linear10PercentEvery2Minutes": _linear(2),
    "Linear10PercentEvery3Minutes": _linear(3),
    "Linear10PercentEvery10Minutes": _linear(10),
    "AllAtOnce": [(100.0, 0)],
}


@pytest.mark.parametrize("name", sorted(CODEDEPLOY))
def test_plan_prints_the_exact_schedule_of_every_codedeploy_name(name: str) -> None:
    expected = CODEDEPLOY[name]

    # When the plan is asked for as JSON, under SAM's name and CodeDeploy's full name
    for spelled in (name, f"CodeDeployDefault.Lambda{name}"):
        result = run_cli("plan", spelled, "--output", "json")

        # Then it is exactly CodeDeploy's schedule, with when each step starts and the total
        assert result.returncode == 0, result.stderr
        planned = json.loads(result.stdout)
        assert [(s["percent"], s["bakeSeconds"]) for s in planned["steps"]] == expected
        assert [s["step"] for s in planned["steps"]] == list(range(1, len(expected) + 1))
        starts = [sum(bake for _p, bake in expected[:i]) for i in range(len(expected))]
        assert [s["startsAtSeconds"] for s in planned["steps"]] == starts
        assert planned["totalSeconds"] == sum(bake for _p, bake in expected)


@pytest.mark.parametrize(
    ("name", "rows", "total"),
    [
        ("Canary10Percent5Minutes", ["│ 1 │ 10% │ 5 min │ +0 s", "│ 2 │ 100% │ 0 s │ +5 min"], 300),
        ("Linear10PercentEvery10Minutes", ["│ 9 │ 90% │ 10 min │ +1 h 20 min"], 5400),
        ("AllAtOnce", ["│ 1 │ 100% │ 0 s │ +0 s"], 0),
    ],
)
def test_plan_prints_a_table_and_the_total_time_for_people(
    name: str, rows: list[str], total: int
) -> None:
    result = run_cli("plan", name)

    assert result.returncode == 0, result.stderr
    squeezed = [" ".join(line.split()) for line in result.stdout.splitlines()]
    for row in rows:
        assert any(line.startswith(" ".join(row.split())) for line in squeezed), result.stdout
    assert f"({total} s) of bake" in result.stdout


def test_plan_of_a_strategy_object_shows_its_steps_and_effective_poll() -> None:
    strategy = {"type": "exponential", "startPercent": 1, "growthFactor": 2, "intervalSeconds": 60}

    result = run_cli("plan", json.dumps(strategy), "-o", "json", "--poll-interval", "10")

    assert result.returncode == 0, result.stderr
    planned = json.loads(result.stdout)
    assert [s["percent"] for s in planned["steps"]] == [1, 2, 4, 8, 16, 32, 64, 100]
    assert planned["totalSeconds"] == 7 * 60
    assert planned["pollIntervalSeconds"] == 10


@pytest.mark.parametrize(
    ("strategy", "says"),
    [
        ("Canary10Percent7Minutes", "did you mean 'Canary10Percent5Minutes'"),
        ('{"type": "linear", "percent": 10, "intervalSecond": 60}', "intervalSeconds"),
        ('{"type": "linear", ', "not valid JSON"),
    ],
)
def test_an_unknown_or_malformed_strategy_is_one_line_and_exit_2(strategy: str, says: str) -> None:
    result = run_cli("plan", strategy)

    line = assert_one_line_error(result, 2)
    assert says in line
