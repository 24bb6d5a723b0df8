"""Kubernetes times: what we write reads back, and anything else reads as unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.adapters.kube.timestamps import format_time, parse_time


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(9000, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))]),
    )
)
def test_a_written_time_reads_back_to_the_second(moment: datetime) -> None:
    text = format_time(moment)
    assert text.endswith("Z")
    assert parse_time(text) == moment.replace(microsecond=0)


def test_the_api_servers_spelling_is_read_in_utc() -> None:
    assert parse_time("2026-03-02T09:00:00Z") == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "yesterday", 1700000000, "2026-03-02T09:00:00"])
def test_absent_foreign_or_zoneless_values_are_unknown(value: Any) -> None:
    assert parse_time(value) is None


@given(st.text(max_size=40))
def test_any_text_is_read_without_raising(value: str) -> None:
    parsed = parse_time(value)
    assert parsed is None or parsed.tzinfo is not None
