"""Benchmark: each Lambda handler module's cold import time, against a budget (150 ms).

Each measurement is a fresh Python process that imports one handler module, timed with
`time.perf_counter()` around the import, as Lambda's init phase would. To be honest
about what Lambda imports, the process sees only what the asset holds:

* `functions/` (the `rollout` package) and the pinned `functions/requirements.txt`
  installed with pip into `.bench/asset-<hash>/` for this machine's Python (no venv, no
  site-packages: `python -S`);
* the functions' environment (POWERTOOLS_*, AWS_REGION) plus LAMBDA_TASK_ROOT, so that
  Powertools' Tracer and the X-Ray SDK take their Lambda code paths (tracing on).

The figure is with bytecode cached (the second and later runs of each module); the
median of `--runs` runs is compared with the budget. `--breakdown` adds where the time
goes, by top-level package (from `python -X importtime`). `--no-bytecode` adds, for
information, the import as Lambda runs the asset today: it is bundled without .pyc files
(`pip install --no-compile`) and /var/task is read-only, so Python compiles every module
of the asset at every cold start (the runtime's own standard library is precompiled).

    python bench/import_time.py [--runs 7] [--budget-ms 150] [--breakdown] [--no-bytecode]

Exits 1 when a module's median is over the budget.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO / "functions"
HANDLERS = FUNCTIONS / "rollout" / "handlers"
REQUIREMENTS = FUNCTIONS / "requirements.txt"

# As infra/control_plane.py configures the functions, plus what the Lambda runtime sets.
LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "trafficshift",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_METRICS_NAMESPACE": "TrafficShift",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "trafficshift-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
}

_TIMER = (
    "import importlib, time\n"
    "started = time.perf_counter()\n"
    "importlib.import_module({module!r})\n"
    "print((time.perf_counter() - started) * 1000)\n"
)


# What any handler imports before a line of trafficshift: Powertools' Logger, Metrics and
# Tracer (patching botocore, as _runtime does), a botocore session and pydantic with one
# model built. Printed as the floor under the handlers' figures.
_FLOOR = """
import botocore.session
from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel

Logger(); Metrics(); Tracer(patch_modules=("botocore",))


class Built(BaseModel):
    name: str
"""


def handler_modules() -> list[str]:
    return sorted(
        f"rollout.handlers.{path.stem}"
        for path in HANDLERS.glob("*.py")
        if not path.stem.startswith("_")
    )


def asset_dir() -> Path:
    """The pinned requirements, pip-installed once per requirements file and Python."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    target = REPO / ".bench" / f"asset-{key}"
    if not (target / ".complete").exists():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - pip from this interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--only-binary=:all:",
                "--upgrade",
                "--target",
                str(target),
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        (target / ".complete").write_text("ok\n")
    return target


def _environment(asset: Path, functions: Path = FUNCTIONS) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - a home for pip-less children
        "PYTHONPATH": os.pathsep.join([str(functions), str(asset)]),
        "LAMBDA_TASK_ROOT": str(functions),
        **LAMBDA_ENVIRONMENT,
    }


def source_only(asset: Path, into: Path) -> dict[str, str]:
    """The environment of a process that sees the asset as Lambda does: no .pyc at all.

    The pip-installed packages are copied once without their bytecode; `rollout` is
    copied into `into` on each run (it changes); PYTHONDONTWRITEBYTECODE keeps it so.
    """
    bare = asset.with_name(asset.name + "-source")
    if not (bare / ".complete").exists():
        shutil.rmtree(bare, ignore_errors=True)
        shutil.copytree(asset, bare, ignore=shutil.ignore_patterns("__pycache__"))
        (bare / ".complete").write_text("ok\n")
    shutil.copytree(
        FUNCTIONS / "rollout", into / "rollout", ignore=shutil.ignore_patterns("__pycache__")
    )
    return {**_environment(bare, into), "PYTHONDONTWRITEBYTECODE": "1"}


def import_ms(module: str, env: dict[str, str]) -> float:
    result = subprocess.run(  # noqa: S603 - this interpreter, our own module names
        [sys.executable, "-S", "-c", _TIMER.format(module=module)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def breakdown(module: str, env: dict[str, str]) -> dict[str, float]:
    """Milliseconds of import time by top-level package (each module's own time)."""
    result = subprocess.run(  # noqa: S603 - this interpreter, our own module names
        [sys.executable, "-S", "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    by_package: dict[str, float] = collections.defaultdict(float)
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, self_us, _cumulative, name = (
            part.strip() for part in line.replace(":", "|", 1).split("|")
        )
        if not self_us.isdigit():
            continue
        by_package[name.split(".")[0]] += int(self_us) / 1000
    return dict(sorted(by_package.items(), key=lambda item: -item[1])[:8])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--budget-ms", type=float, default=150.0)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="also time each import with no .pyc files, as the asset runs on Lambda today",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    asset = asset_dir()
    env = _environment(asset)
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="trafficshift-bench-") as scratch:
        bare = source_only(asset, Path(scratch)) if args.no_bytecode else None
        (Path(scratch) / "_import_floor.py").write_text(_FLOOR)
        floor_env = {**env, "PYTHONPATH": os.pathsep.join([scratch, env["PYTHONPATH"]])}
        import_ms("_import_floor", floor_env)
        floor = statistics.median(import_ms("_import_floor", floor_env) for _ in range(args.runs))
        for module in handler_modules():
            import_ms(module, env)  # the first import writes the bytecode cache
            runs = [import_ms(module, env) for _ in range(args.runs)]
            figures[module] = {
                "medianMs": round(statistics.median(runs), 1),
                "minMs": round(min(runs), 1),
                "maxMs": round(max(runs), 1),
            }
            if bare is not None:
                compiled = [import_ms(module, bare) for _ in range(args.runs)]
                figures[module]["noBytecodeMedianMs"] = round(statistics.median(compiled), 1)
    over = [m for m, f in figures.items() if f["medianMs"] > args.budget_ms]
    if args.json:
        print(
            json.dumps(
                {
                    "budgetMs": args.budget_ms,
                    "runs": args.runs,
                    "floorMs": round(floor, 1),
                    "modules": figures,
                }
            )
        )
    else:
        print(f"cold import, median of {args.runs} fresh processes (budget {args.budget_ms:g} ms)")
        for module, f in figures.items():
            verdict = "OVER" if module in over else "ok"
            without = (
                f"  no .pyc: {f['noBytecodeMedianMs']:.1f} ms" if "noBytecodeMedianMs" in f else ""
            )
            print(
                f"  {module:40} {f['medianMs']:7.1f} ms  "
                f"(min {f['minMs']:.1f}, max {f['maxMs']:.1f})  {verdict}{without}"
            )
        print(
            f"  {'floor: Powertools + botocore + pydantic':40} {floor:7.1f} ms  "
            "(no trafficshift code: what every handler imports first)"
        )
    if args.breakdown:
        module = next(iter(figures))
        print(f"where {module}'s import time goes (ms by top-level package, -X importtime):")
        for package, ms in breakdown(module, env).items():
            print(f"  {package:28} {ms:7.1f}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
