"""The events trafficshift publishes (EventBridge, source `trafficshift`), as pure shapes.

Every event's detail carries the execution ARN, the function, the alias, both versions and
a reason a person can read; "Traffic Shifted" also carries the weight. Subscribers match on
`detail-type` (the constants below are a public contract: renaming one breaks their rules).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rollout.domain.rollout import Deployment

__all__ = ["SOURCE", "DeploymentEvent", "DetailType", "event_for"]

SOURCE: Final = "trafficshift"


class DetailType(StrEnum):
    STARTED = "Deployment Started"
    SHIFTED = "Traffic Shifted"
    PAUSED = "Deployment Paused"
    RESUMED = "Deployment Resumed"
    AWAITING_APPROVAL = "Deployment Awaiting Approval"
    APPROVED = "Deployment Approved"
    HOOK_PASSED = "Deployment Hook Passed"
    PROMOTED = "Deployment Promoted"
    ROLLED_BACK = "Deployment Rolled Back"
    FAILED = "Deployment Failed"
    ALIAS_CHANGED = "Alias Changed Concurrently"


class DeploymentEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    detail_type: DetailType
    execution_arn: str
    function_name: str
    alias: str
    stable_version: str | None = None
    target_version: str | None = None
    reason: str
    weight_percent: float | None = None
    time: str
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shift_has_weight(self) -> DeploymentEvent:
        if self.detail_type is DetailType.SHIFTED and self.weight_percent is None:
            raise ValueError("a Traffic Shifted event carries the weight")
        return self

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "functionName": self.function_name,
            "alias": self.alias,
            "stableVersion": self.stable_version,
            "targetVersion": self.target_version,
            "reason": self.reason,
            "time": self.time,
        }
        if self.weight_percent is not None:
            detail["weightPercent"] = self.weight_percent
        return {**self.extra, **detail}


def event_for(
    deployment: Deployment,
    detail_type: DetailType,
    reason: str,
    now: float,
    *,
    weight_percent: float | None = None,
    **extra: Any,
) -> DeploymentEvent:
    return DeploymentEvent(
        detail_type=detail_type,
        execution_arn=deployment.execution_id,
        function_name=deployment.function_name,
        alias=deployment.alias,
        stable_version=deployment.stable_version,
        target_version=deployment.target_version,
        reason=reason,
        weight_percent=weight_percent,
        time=datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds"),
        extra=extra,
    )
