"""`winnodes lifecycle` and `winnodes reconcile`: the functions' work by hand, without Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import ROOT, run


def test_lifecycle_command_refuses_a_malformed_event_before_any_aws_set_up() -> None:
    # No region and no credentials: a malformed event must still be judged on its own.
    result = run("lifecycle", "--event", "events/lifecycle-launch-malformed.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "winnodes: error: --event: detail.EC2InstanceId: Field required\n"


def test_an_event_that_is_not_json_is_named_so_with_where(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"detail": ', encoding="utf-8")
    result = run("lifecycle", "--event", str(event))
    assert result.returncode == 2
    assert result.stderr == (
        f"winnodes: error: --event: {event} is not valid JSON: "
        "Expecting value (line 1, column 12)\n"
    )


@pytest.mark.parametrize("document", ["[]", '"launch"', "null", "3"])
def test_an_event_that_is_no_object_is_named_once(document: str) -> None:
    result = run("lifecycle", "--event", "-", stdin=document)
    assert result.returncode == 2
    assert result.stderr == "winnodes: error: --event: must be a JSON object\n"


def test_the_event_can_come_from_stdin() -> None:
    sample = (ROOT / "events" / "lifecycle-test-notification.json").read_text(encoding="utf-8")
    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = run("lifecycle", "--event", "-", env=env, stdin=sample)
    assert result.returncode == 0, result.stderr
    assert '"status": "skipped"' in result.stdout


def test_stdin_that_is_not_json_is_named_so() -> None:
    result = run("lifecycle", "-e", "-", stdin="")
    assert result.returncode == 2
    assert result.stderr == (
        "winnodes: error: --event: stdin is not valid JSON: Expecting value (line 1, column 1)\n"
    )


def test_lifecycle_command_skips_a_test_notification() -> None:
    result = run(
        "lifecycle",
        "-e",
        "events/lifecycle-test-notification.json",
        env={"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stderr
    assert '"status": "skipped"' in result.stdout


# Nothing listens on port 9: an AWS call fails at once, naming the endpoint it tried.
UNREACHABLE_AWS = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_MAX_ATTEMPTS": "1",
    # No region from a profile on this machine either.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
}
COMMANDS = {
    "lifecycle": ("lifecycle", "--event", "events/lifecycle-launch.json"),
    "reconcile": ("reconcile",),
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_the_region_option_is_used_for_that_run(command: tuple[str, ...]) -> None:
    result = run(*command, "--region", "us-east-1", env=UNREACHABLE_AWS)
    assert result.returncode == 1
    assert result.stdout == ""
    # Past the region: the first AWS call was tried.
    assert result.stderr.startswith("winnodes: error: ")
    assert "http://127.0.0.1:9" in result.stderr


def test_without_a_region_the_error_names_the_option_and_the_variable() -> None:
    result = run("reconcile", env=UNREACHABLE_AWS)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "winnodes: error: no AWS region: pass --region or set AWS_REGION\n"


def test_a_lifecycle_event_needs_no_region_but_its_own() -> None:
    result = run(*COMMANDS["lifecycle"], env=UNREACHABLE_AWS)
    assert result.returncode == 1
    assert "no AWS region" not in result.stderr
    assert "http://127.0.0.1:9" in result.stderr  # past the region: the first AWS call was tried


def test_a_region_other_than_the_events_is_refused_before_any_aws_call() -> None:
    result = run(*COMMANDS["lifecycle"], "--region", "eu-west-1", env=UNREACHABLE_AWS)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "winnodes: error: --region: 'eu-west-1', but the event is from 'us-east-1', "
        "where its group is\n"
    )


def test_an_event_region_that_is_no_region_name_is_refused(tmp_path: Path) -> None:
    event = json.loads((ROOT / "events" / "lifecycle-launch.json").read_text(encoding="utf-8"))
    (tmp_path / "event.json").write_text(json.dumps(event | {"region": "us_east_1"}))
    result = run("lifecycle", "--event", str(tmp_path / "event.json"), env=UNREACHABLE_AWS)
    assert result.returncode == 2
    assert result.stderr == (
        "winnodes: error: --event: region: 'us_east_1' is not an AWS region name\n"
    )


def test_aws_region_alone_names_the_region_for_render_userdata() -> None:
    # botocore itself reads only AWS_DEFAULT_REGION; the error told the operator to set AWS_REGION.
    result = run(
        "render-userdata",
        "--cluster-name",
        "prod",
        env=UNREACHABLE_AWS | {"AWS_REGION": "eu-west-1"},
    )
    assert result.returncode == 1
    assert "no AWS region" not in result.stderr
    assert "http://127.0.0.1:9" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("lifecycle", "-e", "events/lifecycle-test-notification.json"),
        ("reconcile",),
        ("reconcile", "--region", "us-east-1"),
    ],
    ids=["lifecycle", "reconcile", "reconcile --region"],
)
def test_a_bad_environment_value_is_named_as_a_variable(command: tuple[str, ...]) -> None:
    env = UNREACHABLE_AWS | {"AWS_DEFAULT_REGION": "us-east-1", "JOIN_DEADLINE_SECONDS": "abc"}
    result = run(*command, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "winnodes: error: environment variable JOIN_DEADLINE_SECONDS: "
        "'abc' is not a number of seconds\n"
    )


@pytest.mark.parametrize("command", ["lifecycle", "reconcile", "render-userdata"])
def test_the_help_says_where_logs_go_and_what_sets_their_level(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Logs are JSON lines on stderr" in text
    assert "POWERTOOLS_LOG_LEVEL (or LOG_LEVEL) sets their level" in text


def test_the_reconcile_help_says_a_pass_with_errors_exits_1() -> None:
    text = " ".join(run("reconcile", "--help").stdout.split())
    assert "exits with status 1" in text


@pytest.mark.parametrize("command", ["lifecycle", "reconcile"])
def test_the_help_says_what_the_command_changes(command: str) -> None:
    # Wide enough that argparse breaks no line, at a hyphen least of all.
    text = run(command, "--help", env={"COLUMNS": "2000"}).stdout
    for change in (
        "tags instances",
        "creates EKS access entries or writes kube-system/aws-auth",
        "patches kube-system/amazon-vpc-cni",
        "cordons Nodes and evicts their pods",
        "deletes Nodes",
        "ABANDON, which terminates the instance",
    ):
        assert change in text


def test_the_lifecycle_help_says_how_long_it_may_wait() -> None:
    text = " ".join(run("lifecycle", "--help").stdout.split())
    assert "up to JOIN_WAIT_BUDGET_SECONDS (default 600 s)" in text
    assert "up to DRAIN_WAIT_BUDGET_SECONDS (default 600 s)" in text


def test_the_reconcile_help_says_it_never_waits_for_a_node() -> None:
    assert "never waits for a node" in " ".join(run("reconcile", "--help").stdout.split())


def test_a_failed_invocation_record_is_named_with_where_its_event_is() -> None:
    # What Lambda puts in the failed-invocations queue: the event wrapped in its invocation record.
    event = json.loads((ROOT / "events" / "lifecycle-launch.json").read_text(encoding="utf-8"))
    record = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted"}}
    record |= {"requestPayload": event, "responsePayload": {"errorMessage": "timed out"}}
    result = run("lifecycle", "--event", "-", stdin=json.dumps(record))
    assert result.returncode == 2
    assert result.stderr == (
        "winnodes: error: --event: this is the record of a failed invocation "
        "(LifecycleFailedInvocationsQueue), not an event: the event is its requestPayload "
        "(jq .requestPayload)\n"
    )
