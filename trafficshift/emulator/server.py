"""The emulator behind an HTTP endpoint, for the CLI and any boto3 client.

    python -m trafficshift.emulator.server --port 0
    {"endpointUrl": "http://127.0.0.1:40123", "region": "us-east-1", "stateMachineArn": "..."}

`serve()` starts a `LocalCloud` (the in-process mock stays active), then moto's
`ThreadedMotoServer` on 127.0.0.1 in the same process: the HTTP server, the state machine
interpreter and the Lambda handlers share the same backends. When the server is ready it
prints ONE JSON line to stdout (later output, such as handler logs, goes to stderr), then
blocks until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from moto.server import ThreadedMotoServer

from trafficshift.emulator.cloud import LocalCloud

__all__ = ["RunningServer", "main", "serve", "start_server"]


@dataclass
class RunningServer:
    cloud: LocalCloud
    server: ThreadedMotoServer
    endpoint_url: str
    _saved_moto_port: str | None = field(default=None, repr=False)

    def info(self) -> dict[str, str]:
        """What `serve()` prints: endpointUrl, region and (if deployed) stateMachineArn,
        artifactBucket and ledgerTable."""
        info = {"endpointUrl": self.endpoint_url, "region": self.cloud.region}
        with contextlib.suppress(RuntimeError):  # nothing deployed
            info["stateMachineArn"] = self.cloud.state_machine_arn
        with contextlib.suppress(RuntimeError):
            info["artifactBucket"] = self.cloud.artifact_bucket
        with contextlib.suppress(RuntimeError):
            info["ledgerTable"] = self.cloud.ledger_table
        return info

    def stop(self) -> None:
        try:
            self.server.stop()
        finally:
            self.cloud.stop()
            if self._saved_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._saved_moto_port


def start_server(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    template: dict[str, Any] | None = None,
    region: str = "us-east-1",
    load_control_plane: bool = True,
    routing_seed: int | None = None,
) -> RunningServer:
    """Start a LocalCloud and an HTTP endpoint on it; returns at once (see `serve`)."""
    cloud = LocalCloud(
        template,
        region=region,
        load_control_plane=load_control_plane,
        routing_seed=routing_seed,
    ).start()
    try:
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        bound_host, bound_port = server.get_host_and_port()
    except BaseException:
        cloud.stop()
        raise
    saved = os.environ.get("MOTO_PORT")
    # moto's interpreter calls this port when boto calls are not intercepted in-process.
    os.environ["MOTO_PORT"] = str(bound_port)
    return RunningServer(cloud, server, f"http://{bound_host}:{bound_port}", saved)


def serve(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    template: dict[str, Any] | None = None,
    region: str = "us-east-1",
    load_control_plane: bool = True,
    routing_seed: int | None = None,
    ready_stream: TextIO | None = None,
) -> None:
    """Run the emulator as a server until SIGINT/SIGTERM (call it from the main thread)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    running = start_server(
        port,
        host=host,
        template=template,
        region=region,
        load_control_plane=load_control_plane,
        routing_seed=routing_seed,
    )
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    stdout = sys.stdout
    try:
        stream = ready_stream or sys.stdout
        stream.write(json.dumps(running.info()) + "\n")
        stream.flush()
        # The ready line is the only stdout output: handler logs and EMF metrics (which
        # Powertools prints) go to stderr from here on.
        sys.stdout = sys.stderr
        while not stop.wait(0.2):
            pass
    finally:
        sys.stdout = stdout
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        running.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trafficshift.emulator.server",
        description="Serve the local emulator (moto + the control plane) over HTTP.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--template", type=Path, help="a CloudFormation template (JSON); default: synth the app"
    )
    parser.add_argument(
        "--no-control-plane", action="store_true", help="deploy nothing, serve the APIs only"
    )
    parser.add_argument("--routing-seed", type=int, default=None)
    args = parser.parse_args(argv)
    template = json.loads(args.template.read_text()) if args.template else None
    serve(
        args.port,
        host=args.host,
        template=template,
        region=args.region,
        load_control_plane=not args.no_control_plane,
        routing_seed=args.routing_seed,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
