"""Which EventBridge rules deliver an event: enabled rules whose pattern matches it, only.

AWS: a disabled rule matches no event (API_DisableRule); a rule with a schedule and no event
pattern runs on its schedule only (API_PutRule). moto delivered through both (fidelity:
`event_rules_deliver_to_lambda_and_step_functions`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from emulator_helpers import code_zip

from trafficshift.emulator.cloud import LocalCloud

RECORDS_EVENTS = """
import boto3

def handler(event, context):
    boto3.client("lambda").create_alias(
        FunctionName=context.function_name, Name=event["detail"]["mark"], FunctionVersion="1"
    )
"""


@pytest.fixture
def recorder(lam: Any, role_arn: str) -> str:
    lam.create_function(
        FunctionName="recorder",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(RECORDS_EVENTS)},
    )
    lam.publish_version(FunctionName="recorder")
    return str(lam.get_function(FunctionName="recorder")["Configuration"]["FunctionArn"])


def _put(events: Any, mark: str) -> None:
    events.put_events(
        Entries=[{"Source": "test", "DetailType": "Mark", "Detail": json.dumps({"mark": mark})}]
    )


def _marks(lam: Any) -> list[str]:
    return sorted(a["Name"] for a in lam.list_aliases(FunctionName="recorder")["Aliases"])


def test_a_disabled_rule_delivers_nothing_until_it_is_enabled_again(
    cloud: LocalCloud, lam: Any, recorder: str
) -> None:
    events = cloud.client("events")
    events.put_rule(Name="marks", EventPattern=json.dumps({"source": ["test"]}))
    events.put_targets(Rule="marks", Targets=[{"Id": "recorder", "Arn": recorder}])

    events.disable_rule(Name="marks")
    _put(events, "while-disabled")
    events.enable_rule(Name="marks")
    _put(events, "while-enabled")

    assert _marks(lam) == ["while-enabled"]


def test_a_scheduled_rule_without_a_pattern_gets_no_events(
    cloud: LocalCloud, lam: Any, recorder: str
) -> None:
    events = cloud.client("events")
    events.put_rule(Name="every-5-minutes", ScheduleExpression="rate(5 minutes)")
    events.put_targets(Rule="every-5-minutes", Targets=[{"Id": "recorder", "Arn": recorder}])

    _put(events, "an-event")

    assert _marks(lam) == []
