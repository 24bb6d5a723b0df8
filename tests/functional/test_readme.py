"""The README's console examples run and print exactly what the README shows."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
_CONSOLE_BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def console_examples(markdown: str) -> list[tuple[str, str]]:
    """(command, expected output) for each ```console block that runs `winnodes`."""
    examples = []
    for block in _CONSOLE_BLOCK.findall(markdown):
        lines = block.splitlines(keepends=True)
        if not lines or not lines[0].startswith("$ ") or "winnodes " not in lines[0]:
            continue
        command_lines = [lines[0][2:]]
        rest = lines[1:]
        while command_lines[-1].rstrip("\n").endswith("\\"):
            command_lines.append(rest.pop(0))
        examples.append(("".join(command_lines), "".join(rest)))
    return examples


EXAMPLES = console_examples((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=lambda x: x[:60])
def test_readme_example_prints_what_the_readme_shows(command: str, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        capture_output=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert result.stdout == expected


def test_the_readme_names_the_hooks_the_sample_events_come_from() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"--lifecycle-hook-name (\S+)", readme))
    samples = {
        json.loads(path.read_text(encoding="utf-8"))["detail"].get("LifecycleHookName")
        for path in (ROOT / "events").glob("lifecycle-*.json")
    }
    assert documented == samples - {None}
