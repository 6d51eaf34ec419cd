"""Helpers of the CLI tests: the emulator served in a subprocess, and the CLI run as a
person or a CI job runs it (a subprocess, exit code, stdout, stderr)."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 180.0  # synthesizing the CDK app is most of it; two test workers share 2 cores
CLI_TIMEOUT = 120.0


@dataclass
class Served:
    """A running `trafficshift local serve` (or the bare emulator server)."""

    process: subprocess.Popen[str]
    ready: dict[str, str]
    stderr_path: Path

    @property
    def endpoint_url(self) -> str:
        return self.ready["endpointUrl"]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.ready["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextmanager
def served(argv: list[str], stderr_path: Path) -> Iterator[Served]:
    """Start `argv` (a server that prints one JSON line when ready), yield it, stop it."""
    stderr = stderr_path.open("w")
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        argv,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        cwd=REPO,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        try:
            ready = json.loads(lines.get(timeout=STARTUP_TIMEOUT))
        except (queue.Empty, json.JSONDecodeError):
            raise AssertionError(
                f"the server did not start: {stderr_path.read_text(errors='replace')[-3000:]}"
            ) from None
        yield Served(process, ready, stderr_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        stderr.close()


def serve_argv() -> list[str]:
    return [sys.executable, "-m", "trafficshift.cli", "local", "serve", "--port", "0"]


def bare_server_argv() -> list[str]:
    """The emulator's APIs with nothing deployed (no stack, no state machine)."""
    server = [sys.executable, "-m", "trafficshift.emulator.server"]
    return [*server, "--port", "0", "--no-control-plane"]


def cli_env(endpoint_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        # Never ask the instance metadata service for credentials from a test.
        "AWS_EC2_METADATA_DISABLED": "true",
        "COLUMNS": "200",
        **extra,
    }
    env.pop("TRAFFICSHIFT_ENDPOINT_URL", None)
    env.pop("TRAFFICSHIFT_STATE_MACHINE_ARN", None)
    env.pop("TRAFFICSHIFT_TABLE_NAME", None)
    if endpoint_url:
        env["TRAFFICSHIFT_ENDPOINT_URL"] = endpoint_url
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "trafficshift.cli", *args]


def run_cli(
    *args: str, env: dict[str, str] | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, arguments from the test
        cli_argv(*args),
        capture_output=True,
        text=True,
        env=env if env is not None else cli_env(),
        cwd=REPO,
        timeout=CLI_TIMEOUT,
        input=input_text,
        check=False,
    )


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The documented exit code, one line on stderr, no traceback, nothing on stdout."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == "", result.stdout
    return lines[0]
