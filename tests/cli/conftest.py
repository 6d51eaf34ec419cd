"""The CLI against `trafficshift local serve`, started once per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import Served, serve_argv, served


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    stderr = tmp_path_factory.mktemp("serve") / "stderr.log"
    with served(serve_argv(), stderr) as running:
        yield running
