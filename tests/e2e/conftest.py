"""End-to-end: the synthesized template on the emulator, the real handlers, moto's APIs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import AliasRecorder, Rollout, new_function
from moto.awslambda.models import LambdaAlias

from trafficshift.emulator.cloud import LocalCloud


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(routing_seed=11) as local_cloud:
        yield local_cloud


@pytest.fixture
def rollout(cloud: LocalCloud) -> Rollout:
    return Rollout(cloud, new_function(cloud))


@pytest.fixture
def alias_updates(rollout: Rollout, monkeypatch: pytest.MonkeyPatch) -> AliasRecorder:
    """Spy on moto's alias model: records each routing that was actually applied."""
    recorder = AliasRecorder(alias=rollout.alias, function=rollout.function)
    original = LambdaAlias.update

    def update(self: LambdaAlias, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if self.name == recorder.alias and f":function:{recorder.function}:" in self.arn:
            recorder.record(self.function_version, self.routing_config)
        return result

    monkeypatch.setattr(LambdaAlias, "update", update)
    return recorder
