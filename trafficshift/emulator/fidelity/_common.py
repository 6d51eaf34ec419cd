"""What the per-service fidelity patches share: the replacement record, the lock, errors."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from moto.awslambda.exceptions import (
    LambdaClientError,
)

_STALE_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)

# Alias and version changes check-then-act (RevisionId, "is this version in use"): one lock
# makes each check and its update atomic, as AWS's optimistic locking is.
_control_plane_lock = threading.RLock()

_routing_rng = random.Random()


class ResourceConflictException(LambdaClientError):
    """Lambda's 409 ResourceConflictException (moto only has it for "function exists")."""

    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


class InvalidRequestContentException(LambdaClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


def seed_routing(seed: int | None) -> None:
    """Make alias weighted routing reproducible (None: seed from the OS)."""
    _routing_rng.seed(seed)


@dataclass(frozen=True)
class _Replacement:
    owner: type | ModuleType
    attribute: str
    build: Callable[[Any], Any]  # moto's original -> the replacement
