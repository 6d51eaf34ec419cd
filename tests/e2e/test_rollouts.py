"""Whole deployments on the emulator: the synthesized definition and the real handlers."""

from __future__ import annotations

import json

import pytest
from e2e_support import AliasRecorder, Rollout

from rollout.domain import rollout as rollout_domain
from trafficshift.emulator import faults

pytestmark = pytest.mark.e2e


def _alarm(rollout: Rollout, name: str) -> str:
    cw = rollout.cloud.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": rollout.function}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    return name


def test_healthy_rollout_promotes_through_the_exact_weight_sequence(
    rollout: Rollout, alias_updates: AliasRecorder
) -> None:
    alarm = _alarm(rollout, f"{rollout.function}-errors")

    result = rollout.run(alarms=[alarm])

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["outcome"] == "PROMOTED"
    assert (output["stableVersion"], output["targetVersion"]) == ("1", "2")
    assert [s["percent"] for s in output["steps"]] == [25, 50, 75, 100]
    assert alias_updates.seen == [
        ("1", {"2": 0.25}),
        ("1", {"2": 0.5}),
        ("1", {"2": 0.75}),
        ("2", {}),
    ]
    assert rollout.routing() == ("2", {})


def test_codedeploy_named_strategy_runs_with_its_codedeploy_weights(
    rollout: Rollout, alias_updates: AliasRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given AllAtOnce (no bake, so the test is fast) under CodeDeploy's full config name
    result = rollout.run(strategy="CodeDeployDefault.LambdaAllAtOnce")

    assert result["status"] == "SUCCEEDED"
    assert alias_updates.seen == [("2", {})]


def test_alarm_set_to_alarm_mid_rollout_reverts_the_alias(rollout: Rollout) -> None:
    alarm = _alarm(rollout, f"{rollout.function}-errors")
    execution = rollout.start(
        rollout.request(
            alarms=[alarm],
            strategy={"type": "canary", "percent": 10, "bakeSeconds": 30},
        )
    )
    rollout.wait_until_split()

    rollout.cloud.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="errors above threshold"
    )
    result = rollout.wait(execution, timeout=20)

    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentRolledBack"
    assert f"alarm {alarm} in ALARM" in result["cause"]
    assert "step 1/2 (weight 10%)" in result["cause"]
    assert rollout.routing() == ("1", {})


def test_handler_that_raises_mid_rollout_reverts_the_alias(
    rollout: Rollout, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = rollout_domain.judge

    def judge_then_break(*args, **kwargs):  # the second Check crashes
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated bug in Check")
        return original(*args, **kwargs)

    monkeypatch.setattr(rollout_domain, "judge", judge_then_break)

    result = rollout.run()

    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentRolledBack"
    assert "RuntimeError: simulated bug in Check" in result["cause"]
    assert "version 2 had reached 50% of traffic" in result["cause"]
    assert rollout.routing() == ("1", {})


def test_throttled_revert_retries_until_the_alias_is_restored(rollout: Rollout) -> None:
    alarm = _alarm(rollout, f"{rollout.function}-errors")
    execution = rollout.start(
        rollout.request(
            alarms=[alarm], strategy={"type": "canary", "percent": 10, "bakeSeconds": 30}
        )
    )
    rollout.wait_until_split()

    # Every UpdateAlias from now on is the revert's: more throttles than botocore's own
    # retries absorb, so the state machine's Retry has to carry the revert through.
    with faults.throttle("UpdateAlias", times=6) as fault:
        rollout.cloud.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="errors"
        )
        result = rollout.wait(execution, timeout=60)

    assert fault.injected == 6
    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentRolledBack"
    assert rollout.states_entered(execution).count("Revert") == 1
    assert rollout.routing() == ("1", {})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"strategy": "Canary10Percent7Minutes"}, "strategy"),
        ({"functionName": None}, "functionName"),
        ({"strategy": {"type": "canary", "percent": 0, "bakeSeconds": 5}}, "strategy.percent"),
        (
            {"strategy": {"type": "canary", "percent": 10, "bakeSeconds": -5}},
            "strategy.bakeSeconds",
        ),
        (
            {
                "strategy": {
                    "type": "steps",
                    "steps": [{"percent": 50, "bakeSeconds": 0}, {"percent": 20, "bakeSeconds": 0}],
                }
            },
            "strategy.steps[1].percent",
        ),
        ({"targetVersion": "$LATEST"}, "targetVersion"),
        ({"targetVersion": "99"}, "targetVersion"),
        ({"alias": "no-such-alias"}, "alias"),
        ({"alarms": ["no-such-alarm"]}, "alarms[0]"),
    ],
)
def test_invalid_input_fails_in_prepare_and_leaves_the_alias_untouched(
    rollout: Rollout, overrides: dict, field: str
) -> None:
    before = rollout.revision()
    execution = rollout.start(rollout.request(**overrides))

    result = rollout.wait(execution)

    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidInput"
    assert result["cause"].startswith(f"{field}: ")
    assert "Fix: " in result["cause"]
    assert rollout.states_entered(execution) == ["Source", "Prepare", "Revert", "RolledBack"]
    assert rollout.revision() == before
    assert rollout.routing() == ("1", {})


def test_unknown_function_is_refused_naming_the_function(rollout: Rollout) -> None:
    result = rollout.run(functionName="no-such-function")

    assert result["error"] == "InvalidInput"
    assert "no-such-function" in result["cause"]


def test_target_equal_to_the_stable_version_is_refused(rollout: Rollout) -> None:
    before = rollout.revision()

    result = rollout.run(targetVersion="1")

    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidInput"
    assert "version 1, which alias live already serves" in result["cause"]
    assert rollout.revision() == before


def test_alarm_already_in_alarm_refuses_to_start(rollout: Rollout) -> None:
    alarm = _alarm(rollout, f"{rollout.function}-errors")
    rollout.cloud.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="old errors"
    )

    result = rollout.run(alarms=[alarm])

    assert result["error"] == "PreflightFailed"
    assert "already in ALARM" in result["cause"]
    assert rollout.routing() == ("1", {})


def test_publish_true_rolls_out_the_current_code_as_a_new_version(rollout: Rollout) -> None:
    from trafficshift.emulator.sample import sample_code_zip

    rollout.lam.update_function_code(FunctionName=rollout.function, ZipFile=sample_code_zip("3"))

    result = rollout.run(targetVersion=None, publish=True, strategy="AllAtOnce")

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["targetVersion"] == "3"
    assert rollout.routing() == ("3", {})


def test_ten_step_rollout_stays_within_the_transition_and_api_call_budgets(
    rollout: Rollout,
) -> None:
    # Deterministic counts, not timings (those are in bench/rollout_overhead.py).
    from trafficshift.emulator.metering import count_api_calls

    with count_api_calls() as calls:
        execution = rollout.start(
            rollout.request(strategy={"type": "linear", "percent": 10, "intervalSeconds": 0})
        )
        result = rollout.wait(execution)

    assert result["status"] == "SUCCEEDED"
    transitions = [e for e in rollout.history(execution) if e["type"].endswith("StateEntered")]
    assert len(transitions) <= 4 * 10 + 10
    # GetAlias + the two versions' configurations + one UpdateAlias per step
    assert calls.of("lambda").get("UpdateAlias") == 10
    assert calls.lambda_control_plane() <= 10 + 6


def test_the_same_start_submitted_twice_is_one_execution(rollout: Rollout) -> None:
    # A CI job that retries its StartExecution call (same name, same input), as AWS allows
    sfn = rollout.cloud.client("stepfunctions")
    body = json.dumps(rollout.request(strategy={"type": "canary", "percent": 10, "bakeSeconds": 5}))
    name = f"ci-{rollout.function}"

    first = sfn.start_execution(
        stateMachineArn=rollout.cloud.state_machine_arn, name=name, input=body
    )
    again = sfn.start_execution(
        stateMachineArn=rollout.cloud.state_machine_arn, name=name, input=body
    )

    assert again["executionArn"] == first["executionArn"]
    named = [
        e
        for e in sfn.list_executions(stateMachineArn=rollout.cloud.state_machine_arn)["executions"]
        if e["name"] == name
    ]
    assert len(named) == 1
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(
            stateMachineArn=rollout.cloud.state_machine_arn, name=name, input=body + " "
        )
    assert rollout.wait(first["executionArn"])["status"] == "SUCCEEDED"
