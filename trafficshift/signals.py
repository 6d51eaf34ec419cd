"""Operator signals, as the CLI sends them: a ledger item, then the approval gate's token.

The ledger is the record (who, when, what) and what Check reads at its next poll. When the
rollout is waiting at its approval gate, the gate's task token (left in the ledger by
AwaitApproval) makes the signal take effect at once: `approve` and `promote` answer it with
SendTaskSuccess, `abort` with SendTaskFailure. A token that has already expired (the gate
rotates it every poll) is no loss: the ledger's signal is read at the next Check.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rollout.adapters.ledger import Ledger
from rollout.domain.ledger import Signal, SignalAction, parse_action

# SendTask* answers for a token that is no longer waited on: the signal still counts.
STALE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


def send_signal(
    ledger: Ledger,
    stepfunctions: Any,
    execution_arn: str,
    action: str | SignalAction,
    by: str,
    *,
    now: float | None = None,
) -> tuple[Signal, bool]:
    """Record the signal, then answer the gate's token if one waits.

    Returns the signal and whether a waiting gate was answered (the effect is immediate).
    Raises InvalidInput for an unknown action or a deployment that is unknown or finished.
    """
    parsed = action if isinstance(action, SignalAction) else parse_action(action)
    sent = ledger.put_signal(execution_arn, parsed, by, time.time() if now is None else now)
    if parsed not in (SignalAction.APPROVE, SignalAction.PROMOTE, SignalAction.ABORT):
        return sent, False
    token = ledger.approval_token(execution_arn)
    if not token:
        return sent, False
    from botocore.exceptions import ClientError

    try:
        if parsed is SignalAction.ABORT:
            stepfunctions.send_task_failure(
                taskToken=token, error="Aborted", cause=f"aborted by {by} at the approval gate"
            )
        else:
            stepfunctions.send_task_success(
                taskToken=token, output=json.dumps({"approvedBy": by, "action": parsed.value})
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in STALE_TOKEN_ERRORS:
            return sent, False
        raise
    return sent, True
