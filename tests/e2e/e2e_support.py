"""Helpers of the end-to-end tests (a uniquely named module, importable from the tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Shared with the benchmarks (bench/chaos.py): re-exported for the tests' imports.
from trafficshift.emulator.driver import (
    TERMINAL,
    Rollout,
    eventually,
    new_function,
    scheduled_event,
    task_function,
)

__all__ = [
    "TERMINAL",
    "AliasRecorder",
    "Rollout",
    "eventually",
    "new_function",
    "scheduled_event",
    "task_function",
]


@dataclass
class AliasRecorder:
    """Every routing the alias was given, in order, as moto applied it (ground truth)."""

    alias: str
    function: str
    seen: list[tuple[str, dict[str, float]]] = field(default_factory=list)

    def record(self, version: str, routing: Any) -> None:
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        self.seen.append((str(version), {str(k): float(v) for k, v in weights.items()}))
