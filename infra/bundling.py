"""Build the Lambda asset without Docker.

CDK calls `try_bundle` before it would fall back to Docker bundling. We copy the
`rollout` package and `pip install` the pinned requirements as wheels for the Lambda
platform, so the asset is the same on a laptop, in CI and on a machine without Docker.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

_PIP_PLATFORMS = {
    "arm64": "manylinux2014_aarch64",
    "x86_64": "manylinux2014_x86_64",
}


def pip_install_args(
    requirements: str, target: str, *, architecture: lambda_.Architecture, python_version: str
) -> list[str]:
    """`pip install` arguments that fetch the Lambda platform's wheels, never sdists."""
    try:
        platform = _PIP_PLATFORMS[architecture.name]
    except KeyError as exc:
        raise ValueError(f"no wheel platform for architecture {architecture.name}") from exc
    return [
        "install",
        "-r",
        requirements,
        "--target",
        target,
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        # .pyc files compiled by the build machine's Python are useless on the Lambda
        # runtime's Python; `compile_bytecode` compiles with the runtime's version instead.
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Bundle ``<source_dir>/<package>`` plus ``<source_dir>/requirements.txt`` for Lambda.

    :param source_dir: the asset directory (``functions/``).
    :param package: the package directory copied to the asset root. Default: ``rollout``.
    :param architecture: the Lambda architecture; picks the wheel platform.
    :param python_version: the runtime's Python version, e.g. ``"3.13"``.
    """

    def __init__(
        self,
        source_dir: Path,
        *,
        package: str = "rollout",
        architecture: lambda_.Architecture,
        python_version: str,
    ) -> None:
        self._source_dir = source_dir
        self._package = package
        self._architecture = architecture
        self._python_version = python_version

    def pip_command(self, output_dir: str) -> list[str]:
        """The pip invocation that installs the pinned requirements into ``output_dir``."""
        return [
            sys.executable,
            "-m",
            "pip",
            *pip_install_args(
                str(self._source_dir / "requirements.txt"),
                output_dir,
                architecture=self._architecture,
                python_version=self._python_version,
            ),
        ]

    def try_bundle(self, output_dir: str, *, image: DockerImage, **options: Any) -> bool:
        """Copy the package and install the requirements; ``True`` means CDK skips Docker.

        The signature is `ILocalBundling`'s as the Python binding spells it (jsii passes
        the `BundlingOptions` struct as keywords); the image and the options are only for
        the Docker fallback.
        """
        del image, options
        shutil.copytree(
            self._source_dir / self._package,
            Path(output_dir) / self._package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )
        # The command is built from fixed arguments and paths inside this repository.
        subprocess.run(self.pip_command(output_dir), check=True)  # noqa: S603
        if not compile_bytecode(Path(output_dir), self._python_version):
            print(
                f"trafficshift: no Python {self._python_version} here to precompile the asset; "
                "the functions will compile their modules at every cold start",
                file=sys.stderr,
            )
        return True


# Where Lambda unpacks the asset: the compiled code's file names point there.
LAMBDA_TASK_ROOT = "/var/task"


def compile_bytecode(directory: Path, python_version: str) -> bool:
    """Precompile every module of the asset with the runtime's Python, if one is here.

    Lambda's /var/task is read-only, so a module without a matching .pyc is compiled from
    source at every cold start (about 0.4 s of each handler's init here). The .pyc files
    are "unchecked-hash" (PEP 552): valid whatever the zip's timestamps, never re-checked
    against the source, and the same bytes on every build. Returns False (and writes
    nothing) when no interpreter of `python_version` is found.
    """
    interpreter = _interpreter(python_version)
    if interpreter is None:
        return False
    command = [
        interpreter,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        # Tracebacks name /var/task/rollout/usecases.py, not the build directory.
        "-s",
        str(directory),
        "-p",
        LAMBDA_TASK_ROOT,
        str(directory),
    ]
    # Fixed arguments; the interpreter is the runtime's Python found on PATH.
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return True


def _interpreter(python_version: str) -> str | None:
    """This Python if it is that version, else one on PATH or installed by pyenv."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [
        shutil.which(f"python{python_version}"),
        *sorted(
            str(path)
            for path in pyenv_root.glob(f"versions/{python_version}.*/bin/python{python_version}")
        ),
    ]
    for candidate in candidates:
        if candidate and _reports_version(candidate, python_version):
            return candidate
    return None


def _reports_version(interpreter: str, python_version: str) -> bool:
    # A pyenv shim exists even when that version is not the active one: ask it.
    try:
        answer = subprocess.run(  # noqa: S603 (an interpreter path and a fixed program)
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return answer.stdout.strip() == python_version


def python_code_asset(
    source_dir: Path,
    *,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    package: str = "rollout",
) -> lambda_.Code:
    """The Lambda code asset for ``source_dir``, bundled locally (Docker only as a fallback).

    The asset hash covers the source directory and the bundling options. The Docker
    fallback's command carries the wheel platform and Python version, so an asset built
    for one architecture is never reused from ``cdk.out`` for the other.
    """
    python_version = runtime.name.removeprefix("python")
    docker_pip = pip_install_args(
        "/asset-input/requirements.txt",
        "/asset-output",
        architecture=architecture,
        python_version=python_version,
    )
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=["**/__pycache__", "**/*.pyc"],
        bundling=BundlingOptions(
            # Never pulled when local bundling succeeds; it documents the fallback.
            image=runtime.bundling_image,
            platform=architecture.docker_platform,
            local=LocalPythonBundler(
                source_dir,
                package=package,
                architecture=architecture,
                python_version=python_version,
            ),
            command=[
                "bash",
                "-c",
                f"cp -r /asset-input/{shlex.quote(package)} /asset-output/ && "
                f"pip {shlex.join(docker_pip)} && "
                "python -m compileall -q -j 0 --invalidation-mode unchecked-hash "
                f"-s /asset-output -p {LAMBDA_TASK_ROOT} /asset-output",
            ],
        ),
    )
