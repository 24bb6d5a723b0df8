"""Wrong AWS configuration (profile, region, endpoint) is one line on stderr, never a traceback;
commands that read no AWS are not stopped by it."""

from __future__ import annotations

import pytest

from tests.helpers.cli import run

# Nothing listens on port 9: an AWS call fails at once.
UNREACHABLE_AWS = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
}
UNKNOWN_PROFILE = UNREACHABLE_AWS | {"AWS_PROFILE": "no-such-profile"}
AWS_COMMANDS = {
    "lifecycle": ("lifecycle", "--event", "events/lifecycle-launch.json"),
    "reconcile": ("reconcile",),
    "render-userdata": ("render-userdata", "--cluster-name", "prod"),
}


@pytest.mark.parametrize("command", [("--help",), ("rbac",), ("reconcile", "--help")])
def test_an_unknown_profile_does_not_stop_what_reads_no_aws(command: tuple[str, ...]) -> None:
    result = run(*command, env=UNKNOWN_PROFILE)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("region", [(), ("--region", "us-east-1")], ids=["profile", "option"])
@pytest.mark.parametrize("command", AWS_COMMANDS.values(), ids=AWS_COMMANDS.keys())
def test_an_unknown_profile_is_one_line(command: tuple[str, ...], region: tuple[str, ...]) -> None:
    result = run(*command, *region, env=UNKNOWN_PROFILE)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "winnodes: error: The config profile (no-such-profile) could not be found: "
        "check AWS_PROFILE and the AWS config file\n"
    )
