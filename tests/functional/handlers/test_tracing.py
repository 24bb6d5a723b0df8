"""In Lambda the handlers' Tracer is on and patches botocore before any client is made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]

PROBE = """
import sys
sys.path[:0] = ["functions/{name}", "layers/winnodes"]
import app
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
from winnodes.observability import tracer
print(tracer.disabled, sorted(_PATCHED_MODULES))
"""


@pytest.mark.parametrize("name", ["lifecycle", "reconcile"])
def test_the_handler_module_traces_botocore_in_lambda(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env |= {"LAMBDA_TASK_ROOT": f"functions/{name}", "AWS_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(name=name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False ['botocore', 'httplib']\n"
