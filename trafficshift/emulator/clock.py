"""An opt-in virtual clock: Wait states advance it instead of sleeping, the handlers read it.

    with virtual_clock() as clock:
        ...  # a rollout paused for 7 days runs in seconds; clock.now() is its "now"

Off by default, and process-wide while on (moto's interpreter threads and the in-process
handlers share it): use it in one test at a time. On AWS nothing reads it: the handlers'
`rollout.handlers._runtime.now` is `time.time` unless this swaps it.

What it covers: Wait states (`Seconds`, `SecondsPath`, ...), and every `now` the handlers
use. What it does not: Retry intervals, a task's TimeoutSeconds (the approval gate's token
wait) and the state machine's own TimeoutSeconds, which moto waits for in real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)

from rollout.handlers import _runtime


class VirtualClock:
    """Epoch seconds that move only when a Wait state (or `advance`) moves them."""

    def __init__(self, start: float | None = None, *, held: bool = False) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self._going = threading.Event()
        if not held:
            self._going.set()

    def hold(self) -> None:
        """Make Wait states wait (in real time) until `release`: a test's step in between."""
        self._going.clear()

    def release(self) -> None:
        self._going.set()

    def _wait(self, seconds: float, running: Any) -> None:
        while not self._going.wait(0.05):
            if not running():
                return
        if running():
            self.advance(seconds)

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)


_install_lock = threading.Lock()


@contextmanager
def virtual_clock(start: float | None = None, *, held: bool = False) -> Iterator[VirtualClock]:
    """Run Wait states and the handlers' clock on a VirtualClock until the block ends
    (`held`: Wait states wait for `clock.release()` first)."""
    clock = VirtualClock(start, held=held)
    if not _install_lock.acquire(blocking=False):
        raise RuntimeError("a virtual clock is already on in this process")
    original_wait = WaitFunction._wait_interval
    original_clock = _runtime._clock

    def _wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            clock._wait(wait_seconds, env.is_running)
        time.sleep(0)  # let StopExecution and the test's thread in

    try:
        WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
        _runtime._clock = clock.now
        yield clock
    finally:
        WaitFunction._wait_interval = original_wait  # type: ignore[method-assign]
        _runtime._clock = original_clock
        clock.release()
        _install_lock.release()
