"""Handler cold start: import + client construction of the lifecycle handler, against a bare
`import boto3`, each in fresh interpreters of the same run. Prints the figures and writes JSON.

    .venv/bin/python bench/cold_start.py [--runs 15]

Target (join issue): handler cold start <= 1.5 x bare boto3 import."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "bench" / "results"

BARE = """
import time
t = time.perf_counter()
import boto3
print(time.perf_counter() - t)
"""

HANDLER = """
import sys, time
t = time.perf_counter()
sys.path.insert(0, "functions/lifecycle")
import app
from winnodes import wiring
wiring.lifecycle_events()
print(time.perf_counter() - t)
"""


def measure(code: str, runs: int) -> list[float]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "0"}
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    measure(HANDLER, 1)  # warm the bytecode cache once, as a deployed layer has it
    bare = measure(BARE, args.runs)
    handler = measure(HANDLER, args.runs)
    result = {
        "runs": args.runs,
        "bare_boto3_import_median_s": statistics.median(bare),
        "handler_cold_start_median_s": statistics.median(handler),
        "ratio": statistics.median(handler) / statistics.median(bare),
        "target_ratio": 1.5,
    }
    print(f"bare import boto3        median {result['bare_boto3_import_median_s'] * 1000:7.1f} ms")
    print(f"lifecycle handler start  median {result['handler_cold_start_median_s'] * 1000:7.1f} ms")
    print(f"ratio {result['ratio']:.2f} (target <= 1.5)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
