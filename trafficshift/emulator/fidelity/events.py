"""EventBridge: rules deliver to Lambda and Step Functions targets as AWS does."""

from __future__ import annotations

import copy
import datetime
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

from moto.awslambda.utils import get_backend as lambda_backend
from moto.events.models import Rule
from moto.stepfunctions.responses import get_backend as stepfunctions_backend

from trafficshift.emulator.fidelity._common import (
    _Replacement,
)

logger = logging.getLogger(__name__)

_OURS = (["lambda"], ["states"])


def _target_input(rule: Rule, target: Mapping[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge sends to a target: Input, InputPath, InputTransformer or the event."""
    event = dict(event)
    if isinstance(event.get("time"), int | float):  # moto keeps S3 event times as epochs
        moment = datetime.datetime.fromtimestamp(float(event["time"]), tz=datetime.UTC)
        event["time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _json_path(target["InputPath"], event)
    if "InputTransformer" in target:
        return _transform(rule, target["InputTransformer"], event)
    return event


def _json_path(path: str, document: Any) -> Any:
    from jsonpath_ng.ext import parse  # type: ignore[attr-defined] # moto's dependency

    matches = parse(path).find(document)
    return matches[0].value if matches else None


def _transform(rule: Rule, transformer: Mapping[str, Any], event: dict[str, Any]) -> Any:
    """EventBridge's input transformer (EventBridge user guide: eb-transform-target-input).

    In a JSON template a placeholder outside quotes becomes the value as JSON (a string is
    quoted), inside a string literal the bare text; a template that is not JSON is text.
    moto's own transformer inserts strings unquoted, which yields invalid JSON.
    """
    values = {
        name: _json_path(path, event)
        for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values.update(
        {
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event.get("time"),
            "aws.events.rule-name": rule.name,
            "aws.events.rule-arn": rule.arn,
        }
    )
    template = str(transformer.get("InputTemplate", "<aws.events.event.json>"))
    stripped = template.strip()
    is_json = stripped[:1] in ("{", "[") or re.fullmatch(r"<[^<>]+>", stripped) is not None

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        before = template[: match.start()]
        inside_string = (before.count('"') - before.count('\\"')) % 2 == 1
        if not is_json or inside_string:
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)[1:-1] if inside_string else text
        return json.dumps(value)

    rendered = re.sub(r"<([A-Za-z0-9_.\-]+)>", replace, template)
    if not is_json:
        return rendered
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def _deliver(rule: Rule, target: Mapping[str, Any], event: dict[str, Any]) -> None:
    arn = str(target["Arn"])
    payload = json.dumps(_target_input(rule, target, event))
    if arn.split(":")[2] == "lambda":
        headers = {"X-Amz-Invocation-Type": "Event"}
        lambda_backend(rule.account_id, rule.region_name).invoke(arn, None, payload, headers, {})
    else:
        backend = stepfunctions_backend(rule.account_id, rule.region_name)
        backend.start_execution(arn, str(uuid.uuid4()), payload)  # EventBridge: a UUID name


def event_rules_deliver_to_lambda_and_step_functions() -> list[_Replacement]:
    """EventBridge rules deliver to Lambda functions and Step Functions state machines.

    AWS: a rule's target may be a Lambda function (invoked asynchronously) or a state
    machine (StartExecution, name generated); the target gets `Input`, `InputPath`, the
    `InputTransformer`'s output, or the event - also for S3's native EventBridge events
    (EventBridge user guide: eb-targets, eb-transform-target-input). Delivery is
    asynchronous: a failing target never fails PutEvents or the S3 call.

    moto: only log groups, SQS, archives, event buses and API destinations are delivered;
    a Lambda or Step Functions target raises NotImplementedError (facts: "The EventBridge
    target for Step Functions is not implemented"), and events that S3 sends skip the
    InputTransformer.

    A disabled rule delivers nothing (API_DisableRule: "a disabled rule won't match any
    events"), and a rule with a schedule and no event pattern is run by its schedule only,
    never by an event (API_PutRule: a rule has an event pattern, a schedule, or both).
    moto delivers through a disabled rule all the same, and takes a rule without a pattern
    for one that matches every event: a scheduled rule's target got every event put on
    the bus.

    Here: Lambda and Step Functions targets are delivered in-process, synchronously (errors
    are logged, not raised); the other targets are left to moto; a disabled rule and a rule
    without an event pattern deliver no event.
    """

    def build(original: Any) -> Any:
        def send_to_targets(
            self: Rule, original_event: dict[str, Any], transform_input: bool = True
        ) -> None:
            if self.state != "ENABLED" or not self.event_pattern.get_pattern():
                return
            ours = [t for t in self.targets if str(t.get("Arn", "")).split(":")[2:3] in _OURS]
            if ours and self.event_pattern.matches_event(original_event):  # type: ignore[arg-type]
                for target in ours:
                    try:
                        _deliver(self, target, original_event)
                    except Exception:
                        logger.warning(
                            "Rule %s: delivery to %s failed",
                            self.name,
                            target["Arn"],
                            exc_info=True,
                        )
            if len(ours) < len(self.targets):
                rest = copy.copy(self)
                rest.targets = [t for t in self.targets if t not in ours]
                original(rest, original_event, transform_input)

        return send_to_targets

    return [_Replacement(Rule, "send_to_targets", build)]
