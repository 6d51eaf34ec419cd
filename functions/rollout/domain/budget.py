"""The execution's history budget: every loop of the state machine draws on one count.

Step Functions fails an execution whose history reaches 25,000 events ("The execution
reached the maximum number of history events (25000).", States.Runtime, which no Catch
catches). The rollout state carries `historyEvents`, the events the execution has used so
far (counted from the state machine's shape, worst case), and every loop draws on it: a
bake poll, an extension poll, a pause poll, an approval-gate poll. The waits stretch as the
events left run low (`stretched_wait`), so that whatever the plan, the pauses and the gate
still have to cover fits in what is left; and when nothing is left the rollout reverts on
its own terms, before AWS fails the execution (see docs/decisions.md, 11.2).

The upload's WaitForCode loop runs before the rollout state exists: it has a fixed share of
the budget (`CODE_MAX_POLLS`), reserved here in `fixed_events`.

Pure: no I/O. The per-state event counts are pinned against the synthesized definition
(tests/infra/test_history_budget.py) and measured on the emulator.
"""

from __future__ import annotations

import math
from typing import Final

from rollout.domain.strategies import MAX_STEPS

HISTORY_LIMIT: Final = 25_000
# What each state writes to the history on the path a rollout takes:
# a Lambda task: TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted,
# LambdaFunctionSucceeded (or Failed), TaskStateExited.
TASK_EVENTS: Final = 5
# a waitForTaskToken task: TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted,
# TaskSucceeded (or TaskTimedOut), TaskStateExited.
CALLBACK_TASK_EVENTS: Final = 6
WAIT_EVENTS: Final = 2  # WaitStateEntered, WaitStateExited
CHOICE_EVENTS: Final = 2  # ChoiceStateEntered, ChoiceStateExited
# one retried attempt: LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionFailed
RETRY_EVENTS: Final = 3

BAKE_POLL_EVENTS: Final = WAIT_EVENTS + TASK_EVENTS + CHOICE_EVENTS  # Bake, Check, Decide
GATE_POLL_EVENTS: Final = CALLBACK_TASK_EVENTS + TASK_EVENTS + CHOICE_EVENTS  # AwaitApproval..
CODE_POLL_EVENTS: Final = WAIT_EVENTS + TASK_EVENTS + CHOICE_EVENTS  # WaitForCode, Publish..

# The states every execution passes at most once, on its longest path: an upload, both
# hooks, a Promote that fails into Revert. ExecutionStarted, Source, UpdateCode, Prepare,
# HasPreTrafficHook, PreTraffic, HasPostTrafficHook, PostTraffic, Promote, Revert,
# RolledBack (FailStateEntered) and ExecutionFailed.
ONCE_EVENTS: Final = (
    1 + CHOICE_EVENTS + 2 * TASK_EVENTS + 2 * (CHOICE_EVENTS + TASK_EVENTS) + 2 * TASK_EVENTS + 2
)
# Every Retry's MaxAttempts of those once-only tasks, summed (UpdateCode, Prepare, the hooks,
# Promote, Revert): pinned against the definition.
ONCE_RETRY_ATTEMPTS: Final = 246
# The upload's WaitForCode loop: at most this many looks (its waits stretch to cover the
# construct's code_update_timeout within them, see `code_wait`): the default 600 s at
# its steady 5 s, and its first shorter waits.
CODE_MAX_POLLS: Final = 130
# Kept free for what the count cannot see: throttled attempts of the loop tasks (Check,
# SetWeight, AwaitApproval, PublishArtifact retry up to 12 times each; SetWeight also waits
# out an UpdateAlias 409, FunctionNotReady, rare and short), a step that ends between two
# polls. A tenth of the limit.
SAFETY_MARGIN_EVENTS: Final = 2_500
BUDGET_EVENTS: Final = HISTORY_LIMIT - SAFETY_MARGIN_EVENTS


def fixed_events(steps: int) -> int:
    """What an execution of `steps` steps uses outside its Check loops, worst case.

    Prepare charges it all at once: the once-only states and their retries, the upload's
    WaitForCode share, and one SetWeight a step.
    """
    return (
        ONCE_EVENTS
        + ONCE_RETRY_ATTEMPTS * RETRY_EVENTS
        + CODE_MAX_POLLS * CODE_POLL_EVENTS
        + steps * TASK_EVENTS
    )


def poll_events(after_gate: bool) -> int:
    """The events of the loop iteration that ends in a Check: a gate wait, or a bake wait."""
    return GATE_POLL_EVENTS if after_gate else BAKE_POLL_EVENTS


def events_left(used: int, steps_after: int) -> int:
    """The events the loops may still spend: each step after this one keeps two polls (its
    first, and one for a bake that ends between two polls)."""
    return BUDGET_EVENTS - used - 2 * BAKE_POLL_EVENTS * steps_after


def stretched_wait(
    base_seconds: int,
    *,
    bake_seconds: float,
    gate_seconds: float,
    left: int,
    phase_seconds: float,
    next_poll_events: int = BAKE_POLL_EVENTS,
) -> int | None:
    """The next wait: `base_seconds`, stretched so the time still to cover fits `left`.

    `bake_seconds` is the time still to cover with bake polls (bakes, extensions, a pause),
    `gate_seconds` with approval-gate polls, each at its cost per poll: waiting
    (9·bake + 13·gate) / left seconds a poll, the time left per event never grows, so the
    events cannot run out before the time does. `phase_seconds` is what is left of the
    phase under way (this bake, extension, gate or pause): a wait never overshoots it.
    None when not even the next poll (`next_poll_events`) fits: the caller ends the rollout.
    """
    if left < next_poll_events:
        return None
    # The Check that finds the time over ends a wait too: it is kept out of the pace.
    spare = max(1, left - next_poll_events)
    need = BAKE_POLL_EVENTS * max(0.0, bake_seconds) + GATE_POLL_EVENTS * max(0.0, gate_seconds)
    wait = max(base_seconds, math.ceil(need / spare))
    return max(1, min(wait, math.ceil(phase_seconds))) if phase_seconds > 0 else max(1, wait)


# A pause's polls back off with its age: the next look comes after at most this share of
# the time paused so far, so a resume is seen within max(poll interval, 5% of the pause)
# and a week-long pause costs a few hundred polls, not the pace of a pause as long as the
# execution's whole timeout.
PAUSE_BACKOFF: Final = 0.05


def pause_wait(base_seconds: int, paused_seconds: float) -> int:
    """The next look during a pause: the poll interval, backing off with the pause's age."""
    return max(base_seconds, math.ceil(PAUSE_BACKOFF * max(0.0, paused_seconds)))


def pause_polls(base_seconds: int, paused_seconds: float, more_seconds: float) -> int:
    """How many looks `pause_wait` takes from a pause of `paused_seconds` to one
    `more_seconds` longer (an upper bound, counted as the waits are)."""
    if more_seconds <= 0:
        return 0
    age, end, polls = max(0.0, paused_seconds), max(0.0, paused_seconds) + more_seconds, 0
    knee = base_seconds / PAUSE_BACKOFF  # below it, the poll interval rules
    if age < knee:
        flat = min(end, knee) - age
        polls += math.ceil(flat / base_seconds)
        age = min(end, knee)
    if end > age:
        polls += math.ceil(math.log(end / max(age, 1.0)) / math.log1p(PAUSE_BACKOFF)) + 1
    return polls


def longest_wait(horizon_seconds: int) -> int:
    """The longest a stretched wait gets within an execution of `horizon_seconds` (the
    state machine's timeout): the lease on the alias must outlast it.

    The time left per event never grows (see `stretched_wait`) but for a poll that ends a
    phase early, at most a few a step: twice the first wait of the largest plan bounds it.
    """
    spare = BUDGET_EVENTS - fixed_events(MAX_STEPS) - 2 * BAKE_POLL_EVENTS * MAX_STEPS
    return math.ceil(2 * GATE_POLL_EVENTS * horizon_seconds / spare)


def code_wait(
    base_seconds: int, *, polls: int, remaining_seconds: float, steady_seconds: int
) -> int:
    """The upload's next WaitForCode: `base_seconds` (its schedule, which settles at
    `steady_seconds`), stretched only if that pace would not cover what is left of the code
    update's timeout within CODE_MAX_POLLS looks (`polls` done so far)."""
    left = max(1, CODE_MAX_POLLS - polls)
    remaining = max(0.0, remaining_seconds)
    if remaining <= steady_seconds * left:
        return max(1, base_seconds)
    return max(1, base_seconds, math.ceil(remaining / left))
