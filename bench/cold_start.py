"""Handler cold start: import + client construction of each handler, against a bare
`import boto3`, in fresh interpreters of the same run. Prints the figures and writes JSON.

    .venv/bin/python bench/cold_start.py [--runs 31] [--source]

What runs is what Lambda runs: the `sam build` output (the layer's python/ with its bytecode
and trimmed botocore data, and the function's code), built first when missing, on a python3.13
started without site-packages, so nothing from the dev venv leaks in. Each interpreter gets the
environment Lambda gives a function (task root, function name, credentials and region in
variables), because libraries behave differently outside it: the X-Ray SDK, for one, builds its
own sampling client when it does not see Lambda. `--source` measures the source tree in the dev
venv instead.

Target (join issue): handler cold start <= 1.5 x bare boto3 import."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "bench" / "results"
BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "WinNodesLayer" / "python"

BARE = """
import time
t = time.perf_counter()
import boto3
print(time.perf_counter() - t)
"""

# For context: what any function pays that builds the same five clients the plain way.
BARE_WITH_CLIENTS = """
import time
t = time.perf_counter()
import boto3
session = boto3.session.Session()
for service in ("sts", "autoscaling", "eks", "iam", "ec2"):
    session.client(service)
print(time.perf_counter() - t)
"""

# For context: the libraries the handlers must load (botocore, Powertools Logger, Metrics, a
# Tracer that patches botocore, the Parser's EventBridge model) and nothing of ours.
REQUIRED_LIBRARIES = """
import time
t = time.perf_counter()
import botocore.session
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
Logger(service="bench"), Metrics(namespace="bench"), Tracer(patch_modules=("botocore",))
print(time.perf_counter() - t)
"""

# The handler module, then the services it builds on its first event (all clients included).
HANDLER = """
import time
t = time.perf_counter()
import app
from winnodes import wiring
wiring.{build}()
print(time.perf_counter() - t)
"""


@dataclass(frozen=True)
class Program:
    name: str
    code: str
    task_root: str | None = None  # the function directory, when it is a handler


PROGRAMS = (
    Program("bare import boto3", BARE),
    Program("boto3 + 5 clients", BARE_WITH_CLIENTS),
    Program("required libraries", REQUIRED_LIBRARIES),
    Program("lifecycle handler", HANDLER.format(build="lifecycle_events"), "lifecycle"),
    Program("reconcile handler", HANDLER.format(build="reconcile_service"), "reconcile"),
)
BASELINE = "bare import boto3"
TARGET = "lifecycle handler"
TARGET_RATIO = 1.5

# What the Lambda runtime sets (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
# the credentials are placeholders: nothing here calls AWS.
LAMBDA_ENVIRONMENT = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "AWS_LAMBDA_FUNCTION_NAME": "eks-windows-nodes-lifecycle",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
    "AWS_SECRET_ACCESS_KEY": "example-secret-access-key",
    "AWS_SESSION_TOKEN": "example-session-token",
    "_HANDLER": "app.lambda_handler",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class Runtime:
    """How a program is started: which interpreter, with which import path."""

    python: str
    flags: tuple[str, ...]
    layer: Path
    functions: dict[str, Path]  # task root by short name

    def command(self, program: Program) -> tuple[list[str], dict[str, str]]:
        paths = [str(self.layer)]
        if program.task_root:
            paths.insert(0, str(self.functions[program.task_root]))
        env = LAMBDA_ENVIRONMENT | {"PYTHONPATH": os.pathsep.join(paths)}
        return [self.python, *self.flags, "-c", program.code], env


def built_runtime() -> Runtime:
    if not LAYER.is_dir():
        print("building the layer and functions (make sam-build)", flush=True)
        subprocess.run(["make", "--no-print-directory", "sam-build"], cwd=ROOT, check=True)
    python = subprocess.run(
        [str(ROOT / "scripts" / "find-python313")], capture_output=True, text=True, check=True
    ).stdout.strip()
    functions = {
        "lifecycle": BUILD / "LifecycleFunction",
        "reconcile": BUILD / "ReconcileFunction",
    }
    # -S: no site-packages, as in Lambda, where the layer and the task root are the path.
    return Runtime(python, ("-S",), LAYER, functions)


def source_runtime() -> Runtime:
    from winnodes.adapters import botocore_data  # only in this mode

    if not botocore_data.PACKAGED.is_dir():
        print("building the trimmed botocore data the layer carries", flush=True)
        botocore_data.build(botocore_data.PACKAGED)
    functions = {name: ROOT / "functions" / name for name in ("lifecycle", "reconcile")}
    return Runtime(sys.executable, (), ROOT / "layers" / "winnodes", functions)


def run_once(runtime: Runtime, program: Program) -> float:
    command, env = runtime.command(program)
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{program.name} failed:\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],  # the first paragraph: the usage line follows
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=31, help="fresh interpreters per program")
    parser.add_argument(
        "--source", action="store_true", help="measure the source tree in the dev venv"
    )
    args = parser.parse_args()
    runtime = source_runtime() if args.source else built_runtime()
    for program in PROGRAMS:
        run_once(runtime, program)  # a first start, as the bytecode of a source tree needs
    samples: dict[str, list[float]] = {program.name: [] for program in PROGRAMS}
    # Interleaved, so a busy moment of the machine weighs on every program alike.
    for run in range(args.runs):
        print(f"  run {run + 1}/{args.runs}", end="\r", flush=True, file=sys.stderr)
        for program in PROGRAMS:
            samples[program.name].append(run_once(runtime, program))
    print(file=sys.stderr)
    baseline = statistics.median(samples[BASELINE])
    programs = {}
    for name, values in samples.items():
        median = statistics.median(values)
        programs[name] = {"median_s": median, "min_s": min(values), "x_baseline": median / baseline}
        print(
            f"{name:<20} median {median * 1000:7.1f} ms   min {min(values) * 1000:7.1f} ms"
            f"   x{median / baseline:.2f}"
        )
    ratio = statistics.median(samples[TARGET]) / baseline
    print(f"{TARGET} / {BASELINE}: {ratio:.2f} (target <= {TARGET_RATIO})")
    result = {
        "measured": "source tree" if args.source else "sam build output",
        "runs": args.runs,
        "baseline": BASELINE,
        "programs": programs,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
