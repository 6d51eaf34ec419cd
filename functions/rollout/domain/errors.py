"""Typed domain errors.

The class name of each is the `Error` that the state machine's Retry and Catch
match (Lambda reports `errorType` = the exception's class name), so renaming one
is a breaking change of the workflow contract.
"""

from __future__ import annotations

import reprlib

_SHOWN_CHARS = 80
_repr = reprlib.Repr()
_repr.maxlevel = 2  # a list nested 1,000 deep is shown as [[[...]]], not walked
_repr.maxstring = _repr.maxother = _repr.maxlong = _SHOWN_CHARS
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 4


def shown(value: object) -> str:
    """A value from the user's input as an error message echoes it: escaped and short.

    repr escapes newlines, control and bidi characters and lone surrogates, so the Cause and
    the log line stay printable; a Cause holds at most 32,768 characters, and 80 are enough
    to recognise a 256 KB value.
    """
    try:
        text = _repr.repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def field_label(key: object) -> str:
    """A key of the user's input as an error's `field` names it.

    Itself when it is a printable name of at most 64 characters; otherwise `shown(key)`, so
    that an empty, huge or control-character key is still named, quoted and bounded.
    """
    if isinstance(key, str) and 0 < len(key) <= 64 and key.isprintable():
        return key
    return shown(key)


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
    """Lambda is still making the function or version ready: `LastUpdateStatus: InProgress`,
    `State: Pending` (a SnapStart version until its snapshot exists), or a 409
    ResourceConflictException from a write; retried by the state machine."""


class Throttled(TrafficShiftError):
    """An AWS API throttled us after botocore's own retries; the state machine retries."""


class AliasChangedConcurrently(TrafficShiftError):
    """The alias's RevisionId is not the one we last wrote: somebody else changed it."""


class DeploymentRolledBack(TrafficShiftError):
    """Terminal: the deployment was reverted to the stable version."""


class ServiceUnavailable(TrafficShiftError):
    """An AWS API answered 5xx or could not be reached, after botocore's own retries."""


class NotFound(TrafficShiftError):
    """A function, alias or version that AWS says does not exist."""


class AliasBusy(PreflightFailed):
    """Another execution holds the alias's lock and the input asked to wait (`onBusy: wait`);
    the state machine retries Prepare with a bound, then the refusal stands."""


class LeaseLost(TrafficShiftError):
    """The rollout's lock lease expired and another execution took the alias: stop, and
    leave the alias to its new owner."""


class HookFailed(TrafficShiftError):
    """A preTraffic or postTraffic hook raised, timed out or answered Failed: revert."""


class AccessDenied(TrafficShiftError):
    """IAM refused a call: in tag mode, the function is not tagged trafficshift:managed."""


# What to do when IAM refuses the control plane a function (said in refusals and causes).
ACCESS_FIX = (
    "in the default tag mode, tag the function: aws lambda tag-resource --resource "
    "<function ARN> --tags trafficshift:managed=true; or deploy the control plane with the "
    "function in ManagedFunctions.named([...])"
)


def access_refused(action: str, subject: str, denied: object, *, fix: str = ACCESS_FIX) -> str:
    """The Cause when IAM refuses the control plane `action` on the function `subject`.

    In tag mode the policy allows only functions tagged trafficshift:managed=true, and IAM
    evaluates that condition before Lambda looks the function up: a function that does not
    exist has no tags, so it is denied exactly as an untagged one (never "not found"). The
    Cause says both, so that a typo in the name is not taken for a missing tag.
    """
    return (
        f"this control plane may not {action} {subject}: it is untagged, or does not exist "
        f"(IAM denies both alike: {denied}); check the name and the region, and {fix}"
    )
