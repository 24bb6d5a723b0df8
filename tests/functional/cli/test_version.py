"""`winnodes --version` names the version the project declares."""

from __future__ import annotations

import tomllib

from tests.helpers.cli import ROOT, run


def test_version_is_the_projects() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = run("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"winnodes {declared}\n", "")
