"""`python -m localcloud up/status/down`: a daemon that leaves nothing behind."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.kube.processes import pid_alive

pytestmark = pytest.mark.integration


def _localcloud(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _exports(stdout: str) -> dict[str, str]:
    env = {}
    for line in stdout.splitlines():
        assert line.startswith("export "), line
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


def test_up_status_down_round_trip_leaves_no_processes(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    pids: list[int] = []
    try:
        up = _localcloud("up", "--kube-only", state_dir=state_dir)
        assert up.returncode == 0, up.stderr
        env = _exports(up.stdout)
        state = json.loads((state_dir / "state.json").read_text())
        pids += [state["pid"], *state["children"]]
        assert len(pids) == 4 and all(pid_alive(p) for p in pids)

        kubectl = subprocess.run(
            ["kubectl", "get", "namespace", "kube-system", "-o", "name"],
            env={**os.environ, "KUBECONFIG": env["KUBECONFIG"]},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert kubectl.stdout.strip() == "namespace/kube-system", kubectl.stderr

        status = _localcloud("status", state_dir=state_dir)
        assert status.returncode == 0
        assert env["KUBECONFIG"] in status.stdout

        again = _localcloud("up", "--kube-only", state_dir=state_dir)
        assert again.returncode == 0 and _exports(again.stdout) == env
    finally:
        down = _localcloud("down", state_dir=state_dir)
    assert down.returncode == 0, down.stderr
    assert not [p for p in pids if pid_alive(p)]
    assert _localcloud("status", state_dir=state_dir).returncode == 3


def test_every_command_has_help() -> None:
    for command in ("up", "status", "down"):
        result = subprocess.run(
            [sys.executable, "-m", "localcloud", command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0
        assert "--state-dir" in result.stdout
