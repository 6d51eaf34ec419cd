"""The optional gates of a rollout: the approval before 100%, and the traffic hooks.

Pure: the input's `approval` and `hooks` objects, the context a hook function receives,
how its answer is read, and how long the approval gate waits on one task token.

- **Approval.** Before the step that takes the alias to 100%, the rollout waits for an
  approval: `trafficshift approve` (an `approve` signal in the ledger, then SendTaskSuccess
  on the gate's task token), a bare SendTaskSuccess on that token, or a `promote` signal.
  The gate waits on one token for one poll (stretched as the execution's history budget
  runs low, see domain.budget), then Check reads the health
  again (an alarm still reverts while waiting) and a new token is issued; past
  `timeoutSeconds` without approval the rollout reverts.
- **Hooks.** `preTraffic` runs after the pre-flight checks, before any weight moves;
  `postTraffic` runs once the new version takes 100%, before the rollout is promoted. A
  hook that raises, times out, or answers `{"status": "Failed"}` reverts the rollout.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from rollout.domain import budget
from rollout.domain.errors import InvalidInput, shown

APPROVAL_MIN_TIMEOUT_SECONDS = 1
APPROVAL_MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
APPROVAL_DEFAULT_TIMEOUT_SECONDS = 24 * 3600
HOOK_DEFAULT_TIMEOUT_SECONDS = 300
# The hook task's own Lambda timeout is 900 s (Lambda's most); the hook must answer well
# within it so that a hook timeout is reported as one, not as a task timeout.
HOOK_MAX_TIMEOUT_SECONDS = 840
# Hook functions trafficshift may invoke unless the construct says otherwise. CodeDeploy's
# AWSCodeDeployRoleForLambda allows CodeDeployHook_*: its hooks move over unchanged.
DEFAULT_HOOK_PATTERNS: tuple[str, ...] = ("CodeDeployHook_*", "TrafficShiftHook*")
HOOK_PHASES = ("preTraffic", "postTraffic")
# The environment variable through which the construct passes `hook_function_names`.
HOOK_PATTERNS_ENV = "TRAFFICSHIFT_HOOK_FUNCTION_PATTERNS"

_HOOK_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"function:(?P<name>[a-zA-Z0-9-_]{1,64})"
    r"(?::(?P<qualifier>[a-zA-Z0-9-_$]+))?$"
)
_HOOK_NAME = re.compile(r"^(?P<name>[a-zA-Z0-9-_]{1,64})(?::(?P<qualifier>[a-zA-Z0-9-_$]+))?$")


class _Config(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class ApprovalConfig(_Config):
    """`"approval": {"timeoutSeconds": 3600}` (or `true`): wait for a person before 100%."""

    timeout_seconds: int = Field(
        default=APPROVAL_DEFAULT_TIMEOUT_SECONDS,
        ge=APPROVAL_MIN_TIMEOUT_SECONDS,
        le=APPROVAL_MAX_TIMEOUT_SECONDS,
        strict=True,
    )


class HooksConfig(_Config):
    """`"hooks": {"preTraffic": "CodeDeployHook_checks", "postTraffic": ..., "timeoutSeconds"}`."""

    pre_traffic: str | None = Field(default=None, max_length=160)
    post_traffic: str | None = Field(default=None, max_length=160)
    timeout_seconds: int = Field(
        default=HOOK_DEFAULT_TIMEOUT_SECONDS, ge=1, le=HOOK_MAX_TIMEOUT_SECONDS, strict=True
    )

    @field_validator("pre_traffic", "post_traffic")
    @classmethod
    def _function_reference(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not (_HOOK_ARN.fullmatch(value) or _HOOK_NAME.fullmatch(value)):
            raise ValueError(
                "must be a Lambda function name or ARN (optionally with :version or :alias)"
            )
        return value


def approval_from_input(value: Any) -> ApprovalConfig | None:
    """`true` means the defaults, `false` or absent no gate; an object configures it."""
    if value is None or value is False:
        return None
    if value is True:
        return ApprovalConfig()
    return ApprovalConfig.model_validate(value)


def hook_name(reference: str) -> str:
    """The bare function name of a hook reference (a name or ARN, maybe qualified)."""
    match = _HOOK_ARN.fullmatch(reference) or _HOOK_NAME.fullmatch(reference)
    if match is None:  # validated on input
        raise ValueError(f"not a function reference: {reference!r}")
    return match["name"]


def check_hook_allowed(
    field: str,
    reference: str,
    patterns: Sequence[str],
    *,
    region: str | None = None,
    account: str | None = None,
) -> None:
    """Refuse a hook the control plane has no permission to invoke, before anything moves.

    The construct grants lambda:InvokeFunction only on functions of its own account and
    region matching its `hook_function_names`; without this check the refusal would come
    mid-rollout.
    """
    arn = _HOOK_ARN.fullmatch(reference)
    if arn and ((region and arn["region"] != region) or (account and arn["account"] != account)):
        raise InvalidInput(
            field,
            f"{reference} is in another account or region than this control plane",
            "use a hook function in the same account and region",
        )
    name = hook_name(reference)
    if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
        raise InvalidInput(
            field,
            f"{shown(name)} is not a hook function this control plane may invoke "
            f"(allowed: {', '.join(patterns) or 'none'})",
            "name the hook function to match one of these patterns (e.g. "
            "CodeDeployHook_<name>), or add it to the construct's hook_function_names",
        )


def check_approval_fits(approval: ApprovalConfig | None, plan: Sequence[Mapping[str, Any]]) -> None:
    """The gate sits before the step that reaches 100%; a plan that starts there has none."""
    if approval is not None and plan and float(plan[0]["percent"]) >= 100:
        raise InvalidInput(
            "approval",
            "needs a step below 100% before the gate, but this strategy shifts everything "
            "in its first step (AllAtOnce)",
            'use a canary or linear strategy, or drop "approval" and start the deployment '
            "once it is approved",
        )


def longest_check_interval(poll_interval: int, horizon_seconds: int) -> int:
    """The longest time between two Checks (a bake, pause or gate wait, stretched as the
    history budget runs low, see domain.budget): the lease on the alias must outlast it."""
    return max(poll_interval, budget.longest_wait(horizon_seconds))


def needs_approval(plan: Sequence[Mapping[str, Any]], next_index: int) -> bool:
    """Whether the step at `next_index` is the one that takes the alias to 100%."""
    return 0 <= next_index < len(plan) and float(plan[next_index]["percent"]) >= 100


def token_approval(raw_state: Mapping[str, Any]) -> str | None:
    """Who approved through the task token (SendTaskSuccess's output, at `$.approval`).

    Any successful SendTaskSuccess approves; `{"approvedBy": "alice"}` names the approver.
    """
    answer = raw_state.get("approval")
    if answer is None:
        return None
    if isinstance(answer, Mapping):
        by = answer.get("approvedBy") or answer.get("by")
        if isinstance(by, str) and by.strip():
            return by.strip()[:256]
    return "SendTaskSuccess"


# --- hooks -------------------------------------------------------------------------------


def hook_context(
    phase: Literal["preTraffic", "postTraffic"],
    *,
    execution_id: str,
    function_name: str,
    alias: str,
    stable_version: str,
    target_version: str,
    weight_percent: float,
) -> dict[str, Any]:
    """What a hook function receives: enough to call the new version and judge it."""
    return {
        "trafficshift": {
            "phase": phase,
            "executionId": execution_id,
            "functionName": function_name,
            "alias": alias,
            "stableVersion": stable_version,
            "targetVersion": target_version,
            # Invoke this to exercise the new version without going through the alias.
            "targetQualifiedName": f"{function_name}:{target_version}",
            "aliasWeightPercent": weight_percent,
        }
    }


def hook_verdict(function_error: str | None, payload: bytes | str | None) -> tuple[bool, str]:
    """Read a hook's answer: (passed, why).

    Fails on an error the function raised (or a timeout Lambda reported), and on an answer
    whose `status` is anything but "Succeeded" (CodeDeploy's lifecycle status names); any
    other answer, `null` included, passes.
    """
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload or ""
    try:
        answer = json.loads(text) if text.strip() else None
    except ValueError:
        answer = text
    if function_error:
        message = answer.get("errorMessage") if isinstance(answer, Mapping) else None
        kind = answer.get("errorType") if isinstance(answer, Mapping) else None
        detail = ": ".join(str(p) for p in (kind, message) if p) or function_error
        return False, f"raised {detail}"[:500]
    if isinstance(answer, Mapping) and "status" in answer:
        status = str(answer["status"])
        if status.lower() != "succeeded":
            reason = answer.get("reason") or answer.get("message")
            why = f"answered status {status!r}"
            return False, (f"{why}: {reason}" if reason else why)[:500]
    return True, "passed"


def patterns_from_env(text: str | None) -> tuple[str, ...]:
    """The construct's `hook_function_names`, comma-separated in the environment."""
    if text is None:
        return DEFAULT_HOOK_PATTERNS
    return tuple(p.strip() for p in text.split(",") if p.strip())


def check_hooks_allowed(
    hooks: Mapping[str, Any], patterns: Sequence[str], *, region: str | None, account: str | None
) -> None:
    """Pre-flight: every hook is a function of this account and region that the control
    plane may invoke (its IAM policy allows only `hook_function_names`)."""
    for phase in HOOK_PHASES:
        reference = hooks.get(phase)
        if not reference:
            continue
        check_hook_allowed(f"hooks.{phase}", reference, patterns, region=region, account=account)
