"""The release is written once, in winnodes.__version__: the installed distribution, the CLI and
the functions' logs (the layer carries no package metadata) all say it."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

from tests.helpers.cli import ROOT, run
from winnodes import __version__


def test_version_is_the_packages_and_the_distributions() -> None:
    result = run("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"winnodes {__version__}\n", "")
    assert importlib.metadata.version("eks-windows-nodes") == __version__


def test_every_log_line_of_the_functions_names_the_version() -> None:
    # A fresh interpreter: the logger is built at import, as in a function's container.
    code = "from winnodes.observability import logger; logger.info('hello')"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    line = json.loads(out.stdout.strip().splitlines()[-1])
    assert (line["message"], line["version"]) == ("hello", __version__)
