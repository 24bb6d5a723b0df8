"""A log level that is no level is a bad setting like any other: one line, exit status 2."""

from __future__ import annotations

import pytest

from tests.helpers.cli import run

COMMANDS = {
    "lifecycle": ("lifecycle", "--event", "events/lifecycle-launch.json"),
    "reconcile": ("reconcile", "--region", "us-east-1"),
    "render-userdata": ("render-userdata", "--cluster-name", "prod"),
    "rbac": ("rbac",),
}


@pytest.mark.parametrize("variable", ["POWERTOOLS_LOG_LEVEL", "LOG_LEVEL"])
@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_unknown_log_level_is_named_as_a_variable(
    command: tuple[str, ...], variable: str
) -> None:
    result = run(*command, env={variable: "LOUD"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"winnodes: error: environment variable {variable}: "
        "'LOUD' is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)\n"
    )


def test_the_help_is_still_shown() -> None:
    result = run("--help", env={"POWERTOOLS_LOG_LEVEL": "LOUD"})
    assert result.returncode == 0
    assert result.stderr == ""


def test_a_known_level_in_any_case_is_taken() -> None:
    result = run("rbac", env={"LOG_LEVEL": "warning"})
    assert result.returncode == 0, result.stderr
