"""The input contract: the JSON that the console, the CLI, S3 uploads and the tests all send.

Parsing turns every problem into `InvalidInput` naming the field and the fix, so that the
execution fails in its first state with a Cause a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rollout.domain.alias_ref import ALIAS_HELP, FUNCTION_HELP, AliasRef
from rollout.domain.analysis import AnalysisConfig
from rollout.domain.errors import InvalidInput, field_label, shown
from rollout.domain.gates import ApprovalConfig, HooksConfig, check_approval_fits
from rollout.domain.strategies import Step, plan

DEFAULT_POLL_INTERVAL_SECONDS = 30
MAX_ALARMS = 100  # DescribeAlarms takes at most 100 names in one call
MAX_ALARM_NAME = 255  # CloudWatch's limit on an alarm name
MAX_POLL_INTERVAL_SECONDS = 7 * 24 * 3600  # the longest schedule: a longer poll never polls
# Of the state machine's timeout, kept for what runs outside the plan: Prepare's wait for a
# busy alias (onBusy: wait, about 35 minutes), an upload's code update, Revert's retries
# (about an hour).
RESERVED_SECONDS = 2 * 3600
_VERSION = re.compile(r"^[0-9]{1,10}$")

_FIELD_HELP = {
    "maxHealthReadFailures": "give a whole number from 0 to 100 (default 3)",
    "analysis": 'give an object such as {"maxErrorRateIncrease": 0.01, "minInvocations": 100, '
    '"falsePositiveRate": 0.01, "onInconclusive": "rollback"}, or {"enabled": false}',
    "functionName": FUNCTION_HELP,
    "alias": ALIAS_HELP,
    "targetVersion": 'give a published version number as a string, e.g. "7", '
    'or drop it and set "publish": true',
    "publish": "use true to publish the function's current code, "
    'or drop it and give "targetVersion"',
    "strategy": 'give a CodeDeploy name such as "Canary10Percent5Minutes" or an object such as '
    '{"type": "linear", "percent": 10, "intervalSeconds": 60}',
    "alarms": 'give a list of CloudWatch alarm names, e.g. ["orders-api-errors"], '
    "or drop the field",
    "pollIntervalSeconds": "give a whole number of seconds from 1 to 604800 (7 days; default 30)",
    "onBusy": 'give "refuse" (the default) or "wait" (wait, bounded, for a running rollout '
    "of the same alias to finish)",
    "approval": 'give {"timeoutSeconds": 86400} (wait up to that long for `trafficshift '
    "approve` before 100%; 1 to 604800), true for the defaults, or drop the field",
    "hooks": 'give {"preTraffic": "CodeDeployHook_smoke", "postTraffic": "CodeDeployHook_e2e", '
    '"timeoutSeconds": 300} (each hook optional; timeout 1 to 840), or drop the field',
    "artifact": 'give the uploaded zip as {"bucket": "...", "key": "<function>/<name>.zip", '
    '"versionId": "..."}, or drop it and give "targetVersion"',
}


class DeploymentRequest(BaseModel):
    """One deployment, as the user asked for it (camelCase on the wire)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    function_name: str = Field(alias="functionName")
    alias: str
    target_version: str | None = Field(default=None, alias="targetVersion")
    # Strict: pydantic would read "false", "no" or 0 as a bool, and publishing is a write.
    publish: bool = Field(default=False, strict=True)
    strategy: str | dict[str, Any]
    # An uploaded zip to roll out; its shape is checked by rollout.domain.artifact.
    artifact: dict[str, Any] | None = None
    alarms: tuple[str, ...] = ()
    # Consecutive Checks that may fail to read the alarms or metrics (5xx, throttled after
    # retries) before the rollout reverts; a successful read resets the count.
    max_health_read_failures: int = Field(
        default=3, alias="maxHealthReadFailures", ge=0, le=100, strict=True
    )
    # Version-versus-version analysis: on by default, no alarm needed (domain.analysis).
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    poll_interval_seconds: int = Field(
        default=DEFAULT_POLL_INTERVAL_SECONDS,
        alias="pollIntervalSeconds",
        ge=1,
        le=MAX_POLL_INTERVAL_SECONDS,
    )
    # Another rollout holds the alias: refuse at once (default), or wait for it, bounded.
    on_busy: Literal["refuse", "wait"] = Field("refuse", alias="onBusy")
    # Wait for a person before the step that reaches 100% (domain.gates).
    approval: ApprovalConfig | None = None
    # Functions invoked before any traffic moves and once the new version takes 100%.
    hooks: HooksConfig | None = None

    @field_validator("approval", mode="before")
    @classmethod
    def _approval_switch(cls, value: Any) -> Any:
        # true = the defaults, false = no gate; an object configures it.
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_validator("target_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # "7" and 7 both mean version 7; a bool is neither.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("poll_interval_seconds", mode="before")
    @classmethod
    def _seconds_as_number(cls, value: Any) -> Any:
        # Like the strategy's seconds: 30 or 30.0, never true or "30".
        if isinstance(value, bool | str):
            raise ValueError("must be a number, not text or a boolean")
        return value

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


_NESTED: dict[str, type[BaseModel]] = {
    "analysis": AnalysisConfig,
    "approval": ApprovalConfig,
    "hooks": HooksConfig,
}


class ParsedRequest(BaseModel):
    """A request that passed every check that needs no AWS call."""

    model_config = ConfigDict(frozen=True)

    request: DeploymentRequest
    # The bare function name and the alias; with the ARN's partition, region and account
    # when the function was given as an ARN.
    ref: AliasRef
    plan: tuple[Step, ...]

    @property
    def function_name(self) -> str:
        return self.ref.function


def parse_request(raw: Any) -> ParsedRequest:
    """Validate the user's JSON; raise InvalidInput naming the first problem found."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            "input",
            f"must be a JSON object, got {type(raw).__name__}",
            'start the execution with e.g. {"functionName": "orders-api", "alias": "live", '
            '"targetVersion": "7", "strategy": "Canary10Percent5Minutes"}',
        )
    # Unknown keys first, named by field_label: pydantic would name a key that is not
    # valid UTF-8 (a lone surrogate) as the whole input, echo a 256 KB key whole, and
    # take "function_name" for "functionName" (populate_by_name).
    fields = [f.alias or name for name, f in DeploymentRequest.model_fields.items()]
    for key in raw:
        if key not in fields:
            raise InvalidInput(
                field_label(key),
                "is not a field of the input",
                f"remove it; the fields are {', '.join(fields)}",
            )
    try:
        request = DeploymentRequest.model_validate(dict(raw))
    except ValidationError as exc:
        raise _invalid_input_from(exc) from None

    ref = AliasRef.parse(request.function_name, request.alias)
    _check_target(request)
    if len(set(request.alarms)) != len(request.alarms) or len(request.alarms) > MAX_ALARMS:
        raise InvalidInput(
            "alarms",
            f"has {len(request.alarms)} names, with duplicates or more than {MAX_ALARMS}",
            f"list each alarm once, at most {MAX_ALARMS}",
        )
    for index, alarm in enumerate(request.alarms):
        if not alarm.strip():
            raise InvalidInput(f"alarms[{index}]", "is empty", _FIELD_HELP["alarms"])
        # CloudWatch refuses longer names and control characters; a lone surrogate cannot
        # even be sent (it is not UTF-8).
        if len(alarm) > MAX_ALARM_NAME or not alarm.isprintable():
            raise InvalidInput(
                f"alarms[{index}]",
                f"{shown(alarm)} is not a CloudWatch alarm name",
                f"use the alarm's name: at most {MAX_ALARM_NAME} printable characters",
            )
    steps = plan(request.strategy)
    check_approval_fits(request.approval, [s.to_dict() for s in steps])
    return ParsedRequest(
        request=request,
        ref=ref,
        plan=steps,
    )


def _check_target(request: DeploymentRequest) -> None:
    version = request.target_version
    if version is None and not request.publish and request.artifact is None:
        raise InvalidInput(
            "targetVersion",
            'is required unless "publish" is true or an "artifact" is given',
            _FIELD_HELP["targetVersion"],
        )
    if version is not None and request.publish:
        raise InvalidInput(
            "targetVersion",
            'and "publish": true were both given',
            "give one: a version to roll out, or publish: true to publish the current code",
        )
    if request.artifact is not None and (version is not None or request.publish):
        raise InvalidInput(
            "artifact",
            'and "targetVersion" or "publish" were both given',
            "give one: the uploaded artifact, a version, or publish: true",
        )
    if version is None:
        return
    if version.upper() == "$LATEST":
        raise InvalidInput(
            "targetVersion",
            "$LATEST cannot receive weighted alias traffic (Lambda routes only to published "
            "versions)",
            'publish a version first and give its number, or set "publish": true',
        )
    if not _VERSION.fullmatch(version):
        raise InvalidInput(
            "targetVersion",
            f"{shown(version)} is not a published version number",
            _FIELD_HELP["targetVersion"],
        )


def _invalid_input_from(exc: ValidationError) -> InvalidInput:
    error = exc.errors(include_url=False)[0]
    loc = [field_label(part) for part in error["loc"]]
    # pydantic reports a union's failing member as an extra location part; the user only
    # knows the top-level field.
    top = loc[0] if loc else "input"
    # analysis.maxErrorRateIncrease, hooks.preTraffic, approval.timeoutSeconds, ...
    nested = top in _NESTED and len(loc) > 1
    field = ".".join(loc) if nested or top not in _FIELD_HELP else top
    kind = error["type"]
    if kind == "missing":
        return InvalidInput(field, "is required", _FIELD_HELP.get(top, "add the field"))
    if kind == "extra_forbidden":
        known = ", ".join(
            [f.alias or n for n, f in _NESTED[top].model_fields.items()] if nested else _FIELD_HELP
        )
        return InvalidInput(
            field, "is not a field of the input", f"remove it; the fields are {known}"
        )
    received = error.get("input")
    return InvalidInput(
        field,
        f"{error['msg'].lower()} (got {shown(received)})",
        _FIELD_HELP.get(top, "see the input contract in the README"),
    )


def longest_run(parsed: ParsedRequest) -> list[tuple[str, int]]:
    """What the plan may take at most, field by field, in seconds (bakes, every step's
    analysis extension, the approval gate, the hooks)."""
    request, steps = parsed.request, parsed.plan
    parts = [("strategy", sum(step.bake_seconds for step in steps))]
    if request.analysis.enabled and steps[0].percent < 100:
        # An undecided step bakes on for the extension and the settle delay (domain.rollout).
        settle = int(getattr(request.analysis, "settle_seconds", 0))
        extension = (request.analysis.max_extension_seconds + settle) * len(steps)
        parts.append(("analysis.maxExtensionSeconds", extension))
    if request.approval is not None:
        parts.append(("approval.timeoutSeconds", request.approval.timeout_seconds))
    if request.hooks is not None:
        hooks = sum(1 for h in (request.hooks.pre_traffic, request.hooks.post_traffic) if h)
        parts.append(("hooks.timeoutSeconds", request.hooks.timeout_seconds * hooks))
    return [(field, seconds) for field, seconds in parts if seconds]


def check_fits_timeout(parsed: ParsedRequest, state_machine_timeout_seconds: int) -> None:
    """Refuse a plan that could not finish before the state machine's timeout.

    Step Functions ends a longer execution TIMED_OUT, with no Catch: Revert would not run.
    The plan's worst case (every step baked and extended, the whole approval wait, every
    hook to its timeout) plus RESERVED_SECONDS must fit.
    """
    parts = longest_run(parsed)
    total = sum(seconds for _, seconds in parts)
    room = state_machine_timeout_seconds - RESERVED_SECONDS
    if total <= room:
        return
    steps = len(parsed.plan)
    what = "; ".join(
        f"{field} {seconds} s" + (f" ({steps} steps)" if field.startswith("analysis") else "")
        for field, seconds in parts
    )
    field = max(parts, key=lambda part: part[1])[0]
    raise InvalidInput(
        field,
        f"the deployment may take up to {total} s ({what}), more than the state machine's "
        f"timeout of {state_machine_timeout_seconds} s "
        f"({state_machine_timeout_seconds / 86400:g} days) less {RESERVED_SECONDS} s kept "
        "for retries",
        f"shorten {', '.join(f for f, _ in parts)} so they add up to at most {room} s, or "
        "deploy the control plane with a longer state_machine_timeout",
    )
