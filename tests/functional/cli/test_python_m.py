"""`python -m winnodes` is the `winnodes` command."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.cli import ROOT, run


def test_python_dash_m_winnodes_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "winnodes", "rbac", "--smoke-test-namespace", "bad name"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )
    expected = run("rbac", "--smoke-test-namespace", "bad name")
    assert (result.returncode, result.stderr) == (expected.returncode, expected.stderr)
    assert result.returncode == 2
