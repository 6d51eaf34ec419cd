"""Every adapter and every shared fake conforms to its port in `rollout.application.ports`.

Twice: mypy checks this file (pyproject's [tool.mypy] files), so `_static_conformance`
fails `make typecheck` when an adapter or a fake drifts from its Protocol; and the test
below compares, at run time, each Protocol method's parameters with the implementation's
(names, order, kinds and defaults), which mypy's structural check lets through in part
(a renamed positional parameter, a keyword that became positional).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from ledger_fake import InMemoryLedger, ListEvents

from rollout.adapters.alarms import Alarms
from rollout.adapters.events import Events
from rollout.adapters.executions import Executions
from rollout.adapters.hooks import HookInvoker
from rollout.adapters.lambda_code import FunctionCode
from rollout.adapters.lambda_functions import LambdaFunctions
from rollout.adapters.ledger import Ledger
from rollout.adapters.metrics import LambdaMetrics
from rollout.adapters.s3 import ArtifactObjects
from rollout.adapters.workflow import Workflow
from rollout.application import ports

CONFORMING: list[tuple[type[Any], type[Any]]] = [
    (ports.FunctionsPort, LambdaFunctions),
    (ports.LedgerPort, Ledger),
    (ports.ReconcilerLedgerPort, Ledger),
    (ports.ApprovalPort, Ledger),
    (ports.EventsPort, Events),
    (ports.AlarmsPort, Alarms),
    (ports.MetricsPort, LambdaMetrics),
    (ports.HookPort, HookInvoker),
    (ports.ExecutionsPort, Executions),
    (ports.ObjectsPort, ArtifactObjects),
    (ports.CodePort, FunctionCode),
    (ports.WorkflowPort, Workflow),
    # The shared fakes: the unit tests run the use cases on them.
    (ports.LedgerPort, InMemoryLedger),
    (ports.EventsPort, ListEvents),
]


def _static_conformance(
    functions: LambdaFunctions,
    ledger: Ledger,
    events: Events,
    alarms: Alarms,
    metrics: LambdaMetrics,
    hooks: HookInvoker,
    executions: Executions,
    objects: ArtifactObjects,
    code: FunctionCode,
    workflow: Workflow,
    fake_ledger: InMemoryLedger,
    fake_events: ListEvents,
) -> None:
    """Never called: mypy proves each assignment."""
    f: ports.FunctionsPort = functions
    lg: ports.LedgerPort = ledger
    lg = fake_ledger
    rl: ports.ReconcilerLedgerPort = ledger
    ap: ports.ApprovalPort = ledger
    ev: ports.EventsPort = events
    ev = fake_events
    al: ports.AlarmsPort = alarms
    me: ports.MetricsPort = metrics
    ho: ports.HookPort = hooks
    ex: ports.ExecutionsPort = executions
    ob: ports.ObjectsPort = objects
    co: ports.CodePort = code
    wo: ports.WorkflowPort = workflow
    del f, lg, rl, ap, ev, al, me, ho, ex, ob, co, wo


def _members(port: type[Any]) -> list[str]:
    return [
        name
        for name, value in vars(port).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    ]


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values() if p.name != "self"]


@pytest.mark.parametrize(
    ("port", "implementation"),
    CONFORMING,
    ids=[f"{impl.__name__}-{port.__name__}" for port, impl in CONFORMING],
)
def test_the_implementation_takes_what_its_port_declares(
    port: type[Any], implementation: type[Any]
) -> None:
    members = _members(port)
    assert members, f"{port.__name__} declares nothing"
    for name in members:
        declared = vars(port)[name]
        found = inspect.getattr_static(implementation, name, None)
        assert found is not None, f"{implementation.__name__} has no {name}"
        if isinstance(declared, property):
            assert isinstance(found, property), f"{implementation.__name__}.{name}: a property"
            continue
        assert _parameters(found) == _parameters(declared), (
            f"{implementation.__name__}.{name} takes {inspect.signature(found)}, "
            f"{port.__name__} declares {inspect.signature(declared)}"
        )
