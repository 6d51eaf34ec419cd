"""The control plane's CloudWatch dashboard: what it shows, and that it reads the metrics
the state machine and the handlers really publish."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.control_plane import HANDLERS
from infra.dashboard import (
    ROLLOUTS_PROMOTED,
    ROLLOUTS_ROLLED_BACK,
    ROLLOUTS_STARTED,
    STEP_DURATION,
)


def _flatten(value: Any) -> str:
    """The dashboard body as text: each Ref / GetAtt becomes `${LogicalId}` (inside JSON
    strings, so the result still parses)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise ValueError(f"unexpected intrinsic in the dashboard body: {value!r}")


@pytest.fixture(scope="module")
def dashboard(template_dict: dict[str, Any]) -> dict[str, Any]:
    (resource,) = [
        r for r in template_dict["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body: dict[str, Any] = json.loads(_flatten(resource["Properties"]["DashboardBody"]))
    return body


def _metrics(dashboard: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """Every metric of every widget: (title, namespace/name, dimensions, statistic)."""
    found = []
    for widget in dashboard["widgets"]:
        props = widget["properties"]
        for entry in props.get("metrics", []):
            namespace, name, *rest = entry
            options = rest[-1] if rest and isinstance(rest[-1], dict) else {}
            pairs = [item for item in rest if not isinstance(item, dict)]
            dims = dict(zip(pairs[::2], pairs[1::2], strict=True))
            statistic = options.get("stat", props.get("stat", ""))
            found.append((props.get("title", ""), f"{namespace}/{name}", dims, statistic))
    return found


def _logical_id(template_dict: dict[str, Any], kind: str, handler: str | None = None) -> str:
    (logical_id,) = [
        lid
        for lid, r in template_dict["Resources"].items()
        if r["Type"] == kind and (handler is None or r["Properties"].get("Handler") == handler)
    ]
    return logical_id


def test_the_stack_has_one_dashboard_and_outputs_its_url(template: Template) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    url = template.find_outputs("DashboardUrl")["DashboardUrl"]["Value"]
    assert "#dashboards:name=" in _flatten(url)


def test_executions_are_graphed_by_outcome_for_this_state_machine(
    dashboard: dict[str, Any], template_dict: dict[str, Any]
) -> None:
    machine = "${" + _logical_id(template_dict, "AWS::StepFunctions::StateMachine") + "}"
    graphed = {
        name: dims
        for title, name, dims, _stat in _metrics(dashboard)
        if name.startswith("AWS/States/")
    }
    for metric in (
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsAborted",
        "ExecutionsTimedOut",
        "ExecutionThrottled",
        "ExecutionTime",
    ):
        assert graphed[f"AWS/States/{metric}"] == {"StateMachineArn": machine}, metric


def test_rollouts_are_graphed_from_the_metrics_the_handlers_emit(
    dashboard: dict[str, Any], template_dict: dict[str, Any]
) -> None:
    from rollout.handlers import _runtime

    # Given what the handlers emit (names) and how they are configured (namespace, service)
    assert (
        _runtime.ROLLOUTS_STARTED,
        _runtime.ROLLOUTS_PROMOTED,
        _runtime.ROLLOUTS_ROLLED_BACK,
        _runtime.STEP_DURATION,
    ) == (ROLLOUTS_STARTED, ROLLOUTS_PROMOTED, ROLLOUTS_ROLLED_BACK, STEP_DURATION)
    environments = {
        json.dumps(r["Properties"]["Environment"]["Variables"], sort_keys=True)
        for r in template_dict["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    namespaces = {json.loads(e)["POWERTOOLS_METRICS_NAMESPACE"] for e in environments}
    services = {json.loads(e)["POWERTOOLS_SERVICE_NAME"] for e in environments}
    assert len(namespaces) == len(services) == 1
    (namespace,), (service,) = namespaces, services

    # Then the dashboard reads exactly those metrics, with Powertools' service dimension
    emf = [(name, dims, stat) for _t, name, dims, stat in _metrics(dashboard)]
    for metric in (ROLLOUTS_STARTED, ROLLOUTS_PROMOTED, ROLLOUTS_ROLLED_BACK):
        assert (f"{namespace}/{metric}", {"service": service}, "Sum") in emf, metric
    assert (f"{namespace}/{STEP_DURATION}", {"service": service}, "Average") in emf
    assert (f"{namespace}/{STEP_DURATION}", {"service": service}, "Maximum") in emf


def test_every_task_function_has_its_errors_duration_and_throttles_graphed(
    dashboard: dict[str, Any], template_dict: dict[str, Any]
) -> None:
    metrics = _metrics(dashboard)
    functions = [
        logical_id
        for logical_id, resource in template_dict["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    ]
    assert len(functions) == len(HANDLERS)  # PreTraffic and PostTraffic share a handler
    for logical_id in functions:
        handler = template_dict["Resources"][logical_id]["Properties"]["Handler"]
        function = "${" + logical_id + "}"
        graphed = {
            (name, stat) for _t, name, dims, stat in metrics if dims == {"FunctionName": function}
        }
        assert graphed >= {
            ("AWS/Lambda/Errors", "Sum"),
            ("AWS/Lambda/Duration", "p99"),
            ("AWS/Lambda/Throttles", "Sum"),
        }, handler


def test_an_undelivered_event_raises_an_alarm_shown_on_the_dashboard(
    template: Template, template_dict: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    queue = _logical_id(template_dict, "AWS::SQS::Queue")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )
    alarm = _logical_id(template_dict, "AWS::CloudWatch::Alarm")
    widgets = [
        w for w in dashboard["widgets"] if "alarms" in w["properties"].get("annotations", {})
    ]
    assert len(widgets) == 1
    assert widgets[0]["properties"]["annotations"]["alarms"] == [f"${{{alarm}.Arn}}"]
