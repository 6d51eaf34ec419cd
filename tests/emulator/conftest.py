"""Fixtures of the emulator's tests: a fresh LocalCloud per test, and a small template.

The package-code handlers of SMALL_TEMPLATE (`emulator_test_handlers`) and the helpers
(`emulator_helpers`) import as top-level modules: pytest puts this directory on sys.path.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from emulator_helpers import NO_RETRIES, ROLE_TRUST, SMALL_TEMPLATE

from trafficshift.emulator.cloud import LocalCloud


@pytest.fixture
def small_template() -> dict[str, Any]:
    return copy.deepcopy(SMALL_TEMPLATE)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    """The faithful AWS APIs, nothing deployed; alias routing seeded."""
    with LocalCloud(load_control_plane=False, routing_seed=7) as local_cloud:
        yield local_cloud


@pytest.fixture
def lam(cloud: LocalCloud) -> Any:
    return cloud.client("lambda", config=NO_RETRIES)


@pytest.fixture
def role_arn(cloud: LocalCloud) -> str:
    iam = cloud.client("iam")
    return str(
        iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))[
            "Role"
        ]["Arn"]
    )
