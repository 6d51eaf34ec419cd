"""Synthesize the CDK app once per session; the infra tests read that one template."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# jsii starts its Node kernel on the first aws_cdk import. The repository pins Node 22
# (package.json); the system Node may be older, slower and print a large warning.
_PINNED_NODE = REPO_ROOT / "node_modules" / ".bin" / "node"
if _PINNED_NODE.exists():
    os.environ.setdefault("JSII_NODE", str(_PINNED_NODE))

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra.app_factory import STACK_NAME, create_app  # noqa: E402

TEST_ENV = cdk.Environment(account="123456789012", region="us-east-1")
# The Lambda asset is the source directory as is: no pip download in unit-speed tests.
TEST_CONTEXT: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


@dataclass(frozen=True)
class Synthesized:
    app: cdk.App
    template: Template
    template_dict: dict[str, Any]
    outdir: Path

    @property
    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


AppFactory = Callable[..., cdk.App]


@pytest.fixture(scope="session")
def make_app(tmp_path_factory: pytest.TempPathFactory) -> AppFactory:
    """Build the app as `cdk synth` does (cdk-nag included), in the test environment.

    Keywords: ``context`` (added to the test context), ``env`` (default: the test account
    and region; ``None`` for environment-agnostic).
    """

    def make(
        context: dict[str, Any] | None = None, env: cdk.Environment | None = TEST_ENV
    ) -> cdk.App:
        outdir = tmp_path_factory.mktemp("cdk.out")
        return create_app({**TEST_CONTEXT, **(context or {})}, outdir=str(outdir), env=env)

    return make


@pytest.fixture(scope="session")
def synthesized(make_app: AppFactory) -> Synthesized:
    app = make_app()
    assembly = app.synth()
    outdir = Path(assembly.directory)
    template_dict = assembly.get_stack_by_name(STACK_NAME).template
    return Synthesized(
        app=app,
        template=Template.from_json(template_dict),
        template_dict=template_dict,
        outdir=outdir,
    )


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def template_dict(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.template_dict


@pytest.fixture(scope="session")
def definition(template_dict: dict[str, Any]) -> dict[str, Any]:
    """The state machine's ASL, with each function ARN replaced by a placeholder."""
    (state_machine,) = [
        r
        for r in template_dict["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return json.loads(_join_with_placeholders(state_machine["Properties"]["DefinitionString"]))


@pytest.fixture(scope="session")
def policy_statements(template_dict: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of every inline IAM policy, with the policy's logical id."""
    return [
        (logical_id, statement)
        for logical_id, resource in template_dict["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _join_with_placeholders(value: Any) -> str:
    """Resolve an `Fn::Join` of text and `Fn::GetAtt`s into text, one placeholder per GetAtt."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_join_with_placeholders(part) for part in parts)
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"arn:placeholder:{logical_id}.{attribute}"
    if "Ref" in value:
        return f"placeholder-{value['Ref']}"
    raise ValueError(f"unexpected intrinsic in the definition: {value!r}")
