"""Build the Lambda asset without Docker.

CDK calls `try_bundle` before it would fall back to Docker bundling. We copy the
`rollout` package and `pip install` the pinned requirements as wheels for the Lambda
platform, so the asset is the same on a laptop, in CI and on a machine without Docker.
"""

from __future__ import annotations

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
        # .pyc files compiled by the build machine's Python are useless on the
        # Lambda runtime's Python and only make the asset bigger.
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
        return True


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
                f"pip {shlex.join(docker_pip)}",
            ],
        ),
    )
