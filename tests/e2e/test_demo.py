"""The README's first command, run as a test: one promotion, then one revert."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from trafficshift.demo import run_demo

pytestmark = pytest.mark.e2e


def test_demo_promotes_the_healthy_canary_and_reverts_the_bad_one() -> None:
    out = io.StringIO()

    code = run_demo(Console(file=out, width=200), seed=3)

    text = out.getvalue()
    assert code == 0, text
    assert "SUCCEEDED: PROMOTED" in text
    # the healthy canary passed its pre-traffic hook and waited for the operator's approval
    assert "preTraffic hook CodeDeployHook_orders_smoke passed" in text
    assert "waiting for approval" in text
    assert "demo-operator: trafficshift approve" in text
    assert "FAILED: DeploymentRolledBack" in text
    # the bad version is caught by the version-versus-version analysis, with no alarm
    assert "no alarms" in text
    assert "evidence of a regression" in text
    assert "rollout from an upload" in text
    assert "alias live now serves version 4 only" in text

    # And it ends by writing the report of both rollouts, and says where
    folder = Path(text.split("open the .html): ")[1].split()[0])
    assert len(list(folder.glob("*.png"))) == len(list(folder.glob("*.html"))) >= 2
