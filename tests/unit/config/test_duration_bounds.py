"""Each duration setting has a range, not only a sign: a value too small to be a wait (1e-300 s
is a zero timedelta: a deadline passed at the first look; a poll of 1e-9 s spins on the API
server) is refused like one too large, naming the variable and the range."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.config import DURATION_BOUNDS, Settings
from winnodes.errors import ConfigurationError

FIELDS = {
    "JOIN_DEADLINE_SECONDS": "join_deadline",
    "DRAIN_DEADLINE_SECONDS": "drain_deadline",
    "JOIN_WAIT_BUDGET_SECONDS": "join_wait_budget",
    "DRAIN_WAIT_BUDGET_SECONDS": "drain_wait_budget",
    "JOIN_POLL_SECONDS": "join_poll_interval",
}


def test_every_duration_setting_has_a_range() -> None:
    assert set(DURATION_BOUNDS) == set(FIELDS)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOIN_DEADLINE_SECONDS", "1e-300"),
        ("JOIN_DEADLINE_SECONDS", "0.5"),
        ("DRAIN_DEADLINE_SECONDS", "1e-9"),
        ("JOIN_WAIT_BUDGET_SECONDS", "1e-9"),
        ("JOIN_POLL_SECONDS", "1e-9"),
        ("JOIN_POLL_SECONDS", "0.01"),
        ("JOIN_POLL_SECONDS", "100000"),
        ("JOIN_DEADLINE_SECONDS", "1e12"),
        ("JOIN_DEADLINE_SECONDS", "-inf"),
    ],
)
def test_a_duration_outside_its_range_is_refused(variable: str, value: str) -> None:
    least, most = DURATION_BOUNDS[variable]
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({variable: value})
    assert raised.value.field == variable
    assert raised.value.reason == f"must be {least:g} to {most:g} seconds, not {value!r}"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        # What the local cloud and the benchmarks run with: short, but waits.
        ("JOIN_DEADLINE_SECONDS", "4"),
        ("DRAIN_DEADLINE_SECONDS", "3"),
        ("JOIN_WAIT_BUDGET_SECONDS", "1"),
        ("JOIN_POLL_SECONDS", "0.2"),
    ],
)
def test_short_waits_of_the_local_cloud_are_accepted(variable: str, value: str) -> None:
    setting = getattr(Settings.from_env({variable: value}), FIELDS[variable])
    assert setting == timedelta(seconds=float(value))


@given(
    variable=st.sampled_from(sorted(FIELDS)),
    seconds=st.floats(allow_nan=False, allow_infinity=True),
)
def test_an_accepted_duration_is_within_its_range_and_never_zero(
    variable: str, seconds: float
) -> None:
    least, most = DURATION_BOUNDS[variable]
    try:
        settings = Settings.from_env({variable: repr(seconds)})
    except ConfigurationError as error:
        assert error.field == variable
        assert not least <= seconds <= most
    else:
        duration: timedelta = getattr(settings, FIELDS[variable])
        assert least <= seconds <= most
        assert math.isclose(duration.total_seconds(), seconds, abs_tol=1e-6)  # µs steps
        assert duration >= timedelta(seconds=least) - timedelta(microseconds=1) > timedelta(0)


def test_the_defaults_are_within_their_ranges() -> None:
    defaults = Settings()
    for variable, name in FIELDS.items():
        least, most = DURATION_BOUNDS[variable]
        assert least <= getattr(defaults, name).total_seconds() <= most, variable
