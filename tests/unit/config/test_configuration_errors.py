"""A bad environment value is a ConfigurationError that names the variable as one."""

from __future__ import annotations

import pytest

from winnodes.config import Settings
from winnodes.errors import ConfigurationError, InvalidInputError


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("JOIN_DEADLINE_SECONDS", "abc", "'abc' is not a number of seconds"),
        ("JOIN_WAIT_BUDGET_SECONDS", "0", "must be 1 to 172800 seconds, not '0'"),
        ("JOIN_POLL_SECONDS", "-2", "must be 0.1 to 10 seconds, not '-2'"),
        ("DRAIN_DEADLINE_SECONDS", "nan", "'nan' is not a number of seconds"),
        ("DRAIN_WAIT_BUDGET_SECONDS", "inf", "must be 1 to 172800 seconds, not 'inf'"),
        ("DRAIN_DEADLINE_SECONDS", "1e20", "must be 1 to 172800 seconds, not '1e20'"),
        ("DRAIN_FORCE", "maybe", "'maybe' is not true or false"),
        ("EXTRA_INSTANCE_TAGS", "[]", "must be a JSON object of tag key to value"),
        (
            "EXTRA_INSTANCE_TAGS",
            '{"aws:x": "y"}',
            "tag key 'aws:x': keys starting with aws: are reserved",
        ),
        (
            "EXTRA_INSTANCE_TAGS",
            '{"AWS:x": "y"}',
            "tag key 'AWS:x': keys starting with aws: are reserved",
        ),
        ("EXTRA_INSTANCE_TAGS", '{"": "y"}', "tag key '' must be 1 to 128 characters"),
        (
            "EXTRA_INSTANCE_TAGS",
            '{"kubernetes.io/cluster/a": "shared"}',
            "tag key 'kubernetes.io/cluster/a': "
            "kubernetes.io/cluster/* tags are set by the functions",
        ),
        ("SMOKE_TEST_IMAGE", "a b", "'a b' is not an image reference"),
        ("AWS_REGION", "us east 1", "'us east 1' is not an AWS region name"),
        ("AWS_DEFAULT_REGION", "us-east-1/", "'us-east-1/' is not an AWS region name"),
        (
            "POWERTOOLS_LOG_LEVEL",
            "LOUD",
            "'LOUD' is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)",
        ),
        ("LOG_LEVEL", "loud", "'loud' is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)"),
    ],
)
def test_a_bad_value_is_a_configuration_error_naming_the_variable(
    name: str, value: str, reason: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({name: value})
    assert raised.value.field == name
    assert raised.value.reason == reason
    assert str(raised.value) == f"environment variable {name}: {reason}"


def test_a_configuration_error_is_still_invalid_input() -> None:
    # Callers that refuse any bad input (the CLI's exit status 2) keep doing so.
    with pytest.raises(InvalidInputError):
        Settings.from_env({"JOIN_DEADLINE_SECONDS": "abc"})


def test_a_deadline_up_to_a_hooks_own_limit_is_accepted() -> None:
    deadline = Settings.from_env({"JOIN_DEADLINE_SECONDS": "1.728e5"}).join_deadline
    assert deadline.total_seconds() == 172800


@pytest.mark.parametrize(
    ("env", "level"),
    [
        ({}, None),
        ({"POWERTOOLS_LOG_LEVEL": "debug"}, "DEBUG"),
        ({"LOG_LEVEL": "WARN"}, "WARN"),
        ({"POWERTOOLS_LOG_LEVEL": "ERROR", "LOG_LEVEL": "LOUD"}, "ERROR"),
        ({"POWERTOOLS_LOG_LEVEL": "", "LOG_LEVEL": "critical"}, "CRITICAL"),
    ],
)
def test_the_log_level_is_read_as_powertools_reads_it(
    env: dict[str, str], level: str | None
) -> None:
    assert Settings.from_env(env).log_level == level
