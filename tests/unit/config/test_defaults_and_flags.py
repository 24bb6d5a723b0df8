"""What an empty environment means (the documented defaults the CLI and local runs get; the
template sets its own), how booleans are spelled, and which region variable wins."""

from __future__ import annotations

from datetime import timedelta

import pytest

from winnodes.config import Settings


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.join_deadline == timedelta(minutes=20)
    assert settings.join_wait_budget == timedelta(minutes=10)
    assert settings.join_poll_interval == timedelta(seconds=2)
    assert settings.drain_deadline == timedelta(minutes=15)
    assert settings.drain_wait_budget == timedelta(minutes=10)
    assert (settings.drain_force, settings.drain_delete_emptydir_data) == (False, True)
    assert settings.smoke_test_enabled is False
    assert settings.extra_instance_tags == {}


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("TRUE", True),
        ("Yes", True),
        ("1", True),
        (" true ", True),
        ("FALSE", False),
        ("no", False),
        ("0", False),
    ],
)
def test_booleans_are_read_in_any_case(raw: str, value: bool) -> None:
    assert Settings.from_env({"DRAIN_FORCE": raw}).drain_force is value


def test_aws_region_wins_over_aws_default_region_as_in_the_other_sdks() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}
    assert Settings.from_env(env).region == "eu-west-1"
    assert Settings.from_env({"AWS_DEFAULT_REGION": "us-east-1"}).region == "us-east-1"
