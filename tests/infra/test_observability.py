"""Logs at level ALL and X-Ray everywhere; every log group has a retention."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from infra.control_plane import HANDLERS


def test_state_machine_logs_everything_including_execution_data(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": Match.any_value(),
            },
            "TracingConfiguration": {"Enabled": True},
        },
    )


def test_every_function_is_traced_and_configured_alike(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == len(HANDLERS)
    handlers = set()
    for function in functions.values():
        props = function["Properties"]
        handlers.add(props["Handler"])
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        # UpdateCode downloads and checks a zip of up to 250 MB.
        sizes = {
            "prepare": (256, 60),
            "update_code": (1024, 120),
            "reconcile": (256, 300),  # a sweep reconciles one execution after another
            "run_hook": (256, 900),  # a hook may take up to hooks.timeoutSeconds (840 s)
            # two AWS calls with every attempt, and the margin (tests/infra/test_time_budgets)
            **{task: (256, 60) for task in ("set_weight", "check", "promote", "revert")},
        }
        module = props["Handler"].split(".")[-2]
        assert (props["MemorySize"], props["Timeout"]) == sizes.get(module, (256, 30))
        powertools = {
            "POWERTOOLS_SERVICE_NAME": "trafficshift",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_METRICS_NAMESPACE": "TrafficShift",
        }
        assert props["Environment"]["Variables"].items() >= powertools.items()
        assert "LogGroup" in props["LoggingConfig"]["LogGroup"]["Ref"]
    assert handlers == set(HANDLERS.values())


def test_every_log_group_keeps_logs_for_a_month(template_dict: dict[str, Any]) -> None:
    log_groups = [
        r for r in template_dict["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"
    ]
    # One per function and one for the state machine.
    assert len(log_groups) == len(HANDLERS) + 1
    for log_group in log_groups:
        assert log_group["Properties"]["RetentionInDays"] == 30


def test_the_stack_outputs_the_state_machine_arn(template: Template) -> None:
    template.has_output(
        "StateMachineArn", {"Value": {"Ref": Match.string_like_regexp("StateMachine")}}
    )
