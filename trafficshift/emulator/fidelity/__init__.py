"""Every patch of moto, one module per AWS service: where moto differs, follow AWS.

`lambda_`, `stepfunctions`, `events` and `cloudwatch` each hold the patches of one service.

Each patch is a small named function whose docstring says what AWS does (with the source,
from `aws-and-emulator-facts.md`) and what moto 5.2 does instead; it returns the
attributes it replaces. :func:`install` applies them all (idempotent), :func:`uninstall`
restores moto's originals. Each patch is pinned by a test in `tests/emulator/` named after
the AWS behaviour.

Error texts follow AWS's where they are known (LocalStack's snapshot-tested provider was
the reference); callers must branch on the error code, never on the text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from trafficshift.emulator import lambda_metrics
from trafficshift.emulator.fidelity import cloudwatch, events, lambda_, stepfunctions
from trafficshift.emulator.fidelity._common import (
    ResourceConflictException,
    _Replacement,
    seed_routing,
)
from trafficshift.emulator.fidelity.lambda_ import (
    set_snapshot_duration,
    set_snapshot_failure,
    set_update_duration,
)

__all__ = [
    "PATCHES",
    "ResourceConflictException",
    "cloudwatch",
    "events",
    "install",
    "installed",
    "lambda_",
    "seed_routing",
    "set_snapshot_duration",
    "set_snapshot_failure",
    "set_update_duration",
    "stepfunctions",
    "uninstall",
]

PATCHES: tuple[Callable[[], list[_Replacement]], ...] = (
    stepfunctions.send_task_failure_keeps_the_cause,
    cloudwatch.get_metric_data_percentiles,
    lambda_metrics.delivers_on_read,
    lambda_.in_process_invoke,
    lambda_.function_environments_are_isolated,
    lambda_.lambda_functions_time_out,
    lambda_.invoke_reads_Qualifier,
    lambda_.update_alias_validates_like_aws,
    lambda_.function_revision_id,
    lambda_.publish_version_guards,
    lambda_.delete_version_in_use,
    stepfunctions.start_execution_generates_name,
    stepfunctions.start_execution_while_others_exist,
    lambda_.update_function_code_reads_S3ObjectVersion_and_RevisionId,
    lambda_.function_updates_take_time,
    lambda_.snap_start_versions_are_pending,
    events.event_rules_deliver_to_lambda_and_step_functions,
    stepfunctions.execution_status_change_events,
    lambda_.code_signing_configs,
    stepfunctions.history_events_are_limited,
    stepfunctions.states_all_does_not_catch_terminal_errors,
    stepfunctions.error_causes_are_limited,
)

_install_lock = threading.Lock()
_originals: list[
    tuple[type | ModuleType, str, Any]
] = []  # (owner, attribute, raw original or _ABSENT)
_ABSENT = object()


def installed() -> bool:
    return bool(_originals)


def install() -> None:
    """Apply every patch in :data:`PATCHES`. Calling it again does nothing."""
    with _install_lock:
        if _originals:
            return
        for patch in PATCHES:
            for replacement in patch():
                owner, attribute = replacement.owner, replacement.attribute
                raw = owner.__dict__.get(attribute, _ABSENT)
                _originals.append((owner, attribute, raw))
                current = getattr(owner, attribute, None)
                setattr(owner, attribute, replacement.build(current))


def uninstall() -> None:
    """Restore moto's originals (in reverse order). Calling it again does nothing."""
    with _install_lock:
        while _originals:
            owner, attribute, raw = _originals.pop()
            if raw is _ABSENT:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, raw)
