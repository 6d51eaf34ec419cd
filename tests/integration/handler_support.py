"""What the handler tests on moto share: a Lambda context and a code zip."""

from __future__ import annotations

import io
import zipfile
from types import SimpleNamespace

CONTEXT = SimpleNamespace(
    function_name="trafficshift-test",
    function_version="$LATEST",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:trafficshift-test",
    memory_limit_in_mb=256,
    aws_request_id="req-1",
    log_group_name="/aws/lambda/trafficshift-test",
    log_stream_name="s",
    get_remaining_time_in_millis=lambda: 30_000,
)


def code_zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", source)
    return buf.getvalue()
