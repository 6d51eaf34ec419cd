"""The Lambda asset is built without Docker, with wheels for the function's architecture."""

from __future__ import annotations

import marshal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from infra import bundling
from infra.app_factory import cdk_json_context
from infra.bundling import LocalPythonBundler, compile_bytecode
from infra.control_plane import TrafficShiftControlPlane


@pytest.mark.parametrize(
    ("architecture", "platform"),
    [
        (lambda_.Architecture.ARM_64, "manylinux2014_aarch64"),
        (lambda_.Architecture.X86_64, "manylinux2014_x86_64"),
    ],
)
def test_pip_fetches_wheels_for_the_functions_architecture(
    architecture: lambda_.Architecture, platform: str
) -> None:
    bundler = LocalPythonBundler(
        Path("functions"), architecture=architecture, python_version="3.13"
    )
    command = bundler.pip_command("/out")
    assert command[command.index("--platform") + 1] == platform
    assert command[command.index("--python-version") + 1] == "3.13"
    assert "--only-binary=:all:" in command
    assert command[command.index("--target") + 1] == "/out"


def test_local_bundling_copies_the_package_without_the_source_trees_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a source tree with compiled files in it, and pip replaced by a recorder
    source = tmp_path / "functions"
    (source / "rollout" / "handlers" / "__pycache__").mkdir(parents=True)
    (source / "rollout" / "handlers" / "check.py").write_text("")
    (source / "rollout" / "handlers" / "__pycache__" / "check.cpython-311.pyc").write_text("")
    (source / "requirements.txt").write_text("")
    ran: list[list[str]] = []

    def record(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", record)
    monkeypatch.setattr(bundling, "_interpreter", lambda version: None)  # no 3.13 here
    bundler = LocalPythonBundler(
        source, architecture=lambda_.Architecture.ARM_64, python_version="3.13"
    )
    output = tmp_path / "asset"
    output.mkdir()
    # When CDK asks for a local bundle
    bundled = bundler.try_bundle(str(output), image=lambda_.Runtime.PYTHON_3_13.bundling_image)
    # Then Docker is not needed, the code is there without bytecode, and pip ran once
    assert bundled is True
    assert (output / "rollout" / "handlers" / "check.py").exists()
    assert not list(output.rglob("__pycache__"))
    assert len(ran) == 1
    assert str(source / "requirements.txt") in ran[0]


def _asset_key(architecture: lambda_.Architecture) -> str:
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=tempfile.mkdtemp())
    stack = cdk.Stack(app, "Given")
    TrafficShiftControlPlane(stack, "ControlPlane", lambda_architecture=architecture)
    template = app.synth().get_stack_by_name("Given").template
    keys = {
        r["Properties"]["Code"]["S3Key"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    (key,) = keys  # one asset for the five functions
    return str(key)


def test_an_asset_built_for_one_architecture_is_never_reused_for_the_other() -> None:
    # cdk.out caches bundles by asset hash: the hash must change with the wheel platform.
    assert _asset_key(lambda_.Architecture.ARM_64) != _asset_key(lambda_.Architecture.X86_64)


def _this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def test_the_asset_is_precompiled_with_unchecked_hash_bytecode_naming_the_task_root(
    tmp_path: Path,
) -> None:
    # Given a bundled asset (here for this machine's Python, standing in for the runtime's)
    (tmp_path / "rollout").mkdir()
    (tmp_path / "rollout" / "usecases.py").write_text("def f():\n    raise ValueError\n")
    # When it is precompiled
    assert compile_bytecode(tmp_path, _this_python()) is True
    # Then each module has a .pyc of that version, hash-based and never re-checked
    (pyc,) = (tmp_path / "rollout" / "__pycache__").glob("usecases.*.pyc")
    assert pyc.name == f"usecases.{sys.implementation.cache_tag}.pyc"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # PEP 552: hash-based (bit 0), check_source off (bit 1)
    # And its code names the file where Lambda unpacks it, not the build directory
    code = marshal.loads(pyc.read_bytes()[16:])  # noqa: S302 (the file this test wrote)
    assert code.co_filename == "/var/task/rollout/usecases.py"


def test_the_same_asset_compiles_to_the_same_bytes(tmp_path: Path) -> None:
    built = []
    for name in ("one", "two"):
        (tmp_path / name / "rollout").mkdir(parents=True)
        (tmp_path / name / "rollout" / "m.py").write_text("X = 1\n")
        compile_bytecode(tmp_path / name, _this_python())
        built.append(next((tmp_path / name).rglob("*.pyc")).read_bytes())
    assert built[0] == built[1]


def test_without_the_runtimes_python_nothing_is_compiled(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("X = 1\n")

    assert compile_bytecode(tmp_path, "2.1") is False
    assert not list(tmp_path.rglob("*.pyc"))
