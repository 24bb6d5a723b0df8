"""`winnodes lifecycle` and `winnodes reconcile`: the functions' work by hand, without Docker."""

from __future__ import annotations

from tests.helpers.cli import run


def test_lifecycle_command_refuses_a_malformed_event_before_any_aws_set_up() -> None:
    # No region and no credentials: a malformed event must still be judged on its own.
    result = run("lifecycle", "--event", "events/lifecycle-launch-malformed.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "winnodes: error: --event: detail.EC2InstanceId: Field required\n"


def test_lifecycle_command_skips_a_test_notification() -> None:
    result = run(
        "lifecycle",
        "-e",
        "events/lifecycle-test-notification.json",
        env={"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stderr
    assert '"status": "skipped"' in result.stdout
