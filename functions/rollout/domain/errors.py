"""Typed domain errors.

The class name of each is the `Error` that the state machine's Retry and Catch
match (Lambda reports `errorType` = the exception's class name), so renaming one
is a breaking change of the workflow contract.
"""

from __future__ import annotations


class TrafficShiftError(Exception):
    """Base of every error the control plane raises on purpose."""


class InvalidInput(TrafficShiftError):
    """The request is wrong: a field is missing, malformed or names nothing that exists.

    The message names the field and says how to fix it.
    """

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {problem}. Fix: {fix}")


class PreflightFailed(TrafficShiftError):
    """The request is well formed, but the world is not in a state to start now
    (an alarm already in ALARM, the alias already split between two versions, ...)."""


class FunctionNotReady(TrafficShiftError):
    """The function's LastUpdateStatus is InProgress; retried by the state machine."""


class Throttled(TrafficShiftError):
    """An AWS API throttled us after botocore's own retries; the state machine retries."""


class AliasChangedConcurrently(TrafficShiftError):
    """The alias's RevisionId is not the one we last wrote: somebody else changed it."""


class DeploymentRolledBack(TrafficShiftError):
    """Terminal: the deployment was reverted to the stable version."""


class NotFound(TrafficShiftError):
    """A function, alias or version that AWS says does not exist."""
