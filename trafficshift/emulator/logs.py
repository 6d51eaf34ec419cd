"""Where the in-process handlers' output goes.

On AWS, what a Lambda function prints goes to CloudWatch Logs, not to the terminal of the
person deploying. In the emulator the handlers run in this process, so their Powertools
JSON logs would interleave with the demo's or benchmark's own output; this sends them to a
file instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def handler_logs_to(path: Path) -> Iterator[TextIO]:
    """Send what the handlers print (Powertools' JSON logs, EMF metrics) to a file, as
    Lambda sends it to CloudWatch Logs, so the terminal shows only the rollout."""
    with path.open("w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        from rollout.handlers import _runtime  # the handlers' one Logger

        handler = _runtime.logger.registered_handler
        previous = handler.setStream(sink) if isinstance(handler, logging.StreamHandler) else None
        moto_logger = logging.getLogger("moto")
        level = moto_logger.level
        # moto's interpreter logs every failed state as an error, with its internals; the
        # demo shows the execution's own Error and Cause instead.
        moto_logger.setLevel(logging.CRITICAL)
        try:
            yield sink
        finally:
            moto_logger.setLevel(level)
            if previous is not None and isinstance(handler, logging.StreamHandler):
                handler.setStream(previous)
