"""Run the installed `winnodes` console script as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WINNODES = Path(sys.executable).parent / "winnodes"
ROOT = Path(__file__).parents[2]


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    # No AWS settings leak in from the machine: the DescribeCluster path is tested on its own.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [str(WINNODES), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={**clean, **(env or {})},
        timeout=60,
        cwd=ROOT,
    )
