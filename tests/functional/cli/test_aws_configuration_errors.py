"""Wrong AWS configuration (profile, region, endpoint) is one line on stderr, never a traceback;
commands that read no AWS are not stopped by it."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import ROOT, WINNODES, run

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


@pytest.mark.parametrize("command", AWS_COMMANDS.values(), ids=AWS_COMMANDS.keys())
def test_a_region_option_that_is_no_region_is_bad_input(command: tuple[str, ...]) -> None:
    result = run(*command, "--region", "us east 1", env=UNREACHABLE_AWS)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "winnodes: error: --region: 'us east 1' is not an AWS region name\n"


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
@pytest.mark.parametrize("command", AWS_COMMANDS.values(), ids=AWS_COMMANDS.keys())
def test_a_region_variable_that_is_no_region_is_named(
    command: tuple[str, ...], variable: str
) -> None:
    result = run(*command, env=UNREACHABLE_AWS | {variable: "us east 1"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"winnodes: error: environment variable {variable}: 'us east 1' is not an AWS region name\n"
    )


# A lifecycle event is handled in its own region: the profile's is never read for it.
PROFILE_REGION_COMMANDS = {k: v for k, v in AWS_COMMANDS.items() if k != "lifecycle"}


@pytest.mark.parametrize(
    "command", PROFILE_REGION_COMMANDS.values(), ids=PROFILE_REGION_COMMANDS.keys()
)
def test_a_profile_region_that_is_no_region_is_one_line(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us east 1\n", encoding="utf-8")
    result = run(*command, env=UNREACHABLE_AWS | {"AWS_CONFIG_FILE": str(config)})
    assert result.returncode == 1
    assert result.stderr.startswith("winnodes: error: the region of the AWS config file: ")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", AWS_COMMANDS.values(), ids=AWS_COMMANDS.keys())
def test_an_endpoint_that_is_no_url_is_one_line(command: tuple[str, ...]) -> None:
    env = UNREACHABLE_AWS | {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "notaurl"}
    result = run(*command, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "winnodes: error: Invalid endpoint: notaurl: "
        "check AWS_ENDPOINT_URL and the endpoint_url of the AWS config file\n"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://aws.internal:99999", "Invalid endpoint: http://aws.internal:99999 (Port out"),
        ("http://aws.internal:abc", "Invalid endpoint: http://aws.internal:abc (Port could not"),
        ("http://[::1", "endpoint: Invalid IPv6 URL"),
        ("http://[zz]:80", "endpoint: 'zz' does not appear to be an IPv4 or IPv6 address"),
    ],
)
@pytest.mark.parametrize("command", AWS_COMMANDS.values(), ids=AWS_COMMANDS.keys())
def test_an_endpoint_with_a_bad_port_or_address_is_one_line(
    command: tuple[str, ...], url: str, problem: str
) -> None:
    # botocore finds some of these only when it signs the first request.
    env = UNREACHABLE_AWS | {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url}
    result = run(*command, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"winnodes: error: {problem}")
    assert result.stderr.endswith(
        ": check AWS_ENDPOINT_URL and the endpoint_url of the AWS config file\n"
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AWS_DEFAULTS_MODE", "fastest"), ("AWS_STS_REGIONAL_ENDPOINTS", "global")],
)
@pytest.mark.parametrize("command", AWS_COMMANDS.values(), ids=AWS_COMMANDS.keys())
def test_a_setting_botocore_refuses_is_one_line_naming_it(
    command: tuple[str, ...], variable: str, value: str
) -> None:
    result = run(*command, env=UNREACHABLE_AWS | {"AWS_REGION": "us-east-1", variable: value})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("winnodes: error: AWS configuration: ")
    assert value in result.stderr and result.stderr.count("\n") == 1


class _WebPages(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web_server() -> Iterator[str]:
    """An HTTP server that is no AWS API: it answers every request with an HTML page."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("command", AWS_COMMANDS.values(), ids=AWS_COMMANDS.keys())
def test_an_endpoint_that_is_no_aws_api_is_one_line(
    command: tuple[str, ...], web_server: str
) -> None:
    env = UNREACHABLE_AWS | {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": web_server}
    result = run(*command, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("winnodes: error: ")
    assert result.stderr.count("\n") == 1, result.stderr


def test_the_answer_of_a_server_that_is_no_aws_api_is_named_so(web_server: str) -> None:
    env = UNREACHABLE_AWS | {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": web_server}
    result = run("reconcile", env=env)
    assert result.stderr.startswith(
        "winnodes: error: DescribeAutoScalingGroups failed: "
        "the endpoint's answer is not an AWS API response: "
    )


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (AWS_COMMANDS["reconcile"], "interrupted; the reconciler finishes what was started"),
        (AWS_COMMANDS["lifecycle"], "interrupted; the reconciler finishes what was started"),
        (AWS_COMMANDS["render-userdata"], "interrupted"),
    ],
    ids=["reconcile", "lifecycle", "render-userdata"],
)
def test_ctrl_c_during_a_command_is_one_line_and_status_130(
    command: tuple[str, ...], message: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= UNREACHABLE_AWS | {
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
        process = subprocess.Popen(
            [str(WINNODES), *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        silent.settimeout(60)
        connection, _ = silent.accept()  # the command is waiting for AWS now
        with connection:
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stdout == ""
    assert stderr == f"winnodes: {message}\n"
