"""A log level that is no level does not stop the handler module's import (the runtime would
report only `ValueError: Unknown level`); each invocation fails naming the variable, as for any
other bad setting, before any AWS call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]

PROBE = """
from localcloud.deployment import lambda_context, load_handler
from tests.helpers.events import load_event
from winnodes.errors import ConfigurationError

handler = load_handler("{name}")
try:
    handler(load_event("{event}"), lambda_context("{name}"))
except ConfigurationError as error:
    print(error)
"""


@pytest.mark.parametrize(
    ("name", "event"),
    [("lifecycle", "lifecycle-launch"), ("reconcile", "schedule-reconcile")],
)
def test_the_invocation_fails_naming_the_variable(name: str, event: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env |= {
        "POWERTOOLS_LOG_LEVEL": "LOUD",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: no call must be made
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(name=name, event=event)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        "environment variable POWERTOOLS_LOG_LEVEL: "
        "'LOUD' is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)\n"
    )
