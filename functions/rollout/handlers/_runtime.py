"""What every handler shares: Powertools' Logger and Tracer, and the clock."""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger, Tracer

# The service name comes from POWERTOOLS_SERVICE_NAME; each log line carries the
# execution ARN as correlation id (inject_lambda_context(correlation_id_path=...)).
logger = Logger()
tracer = Tracer()
CORRELATION_ID_PATH = "executionId"


def now() -> float:
    return time.time()
