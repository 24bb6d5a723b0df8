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


@st.composite
def rfc3339_near_misses(draw: st.DrawFn) -> tuple[str, datetime | None]:
    """RFC 3339 times as an API server or a person writes them, some spoiled on purpose, with
    the instant each must read as (None: not a time with a zone)."""
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9000, 1, 1)))
    fraction = draw(st.sampled_from(["", "ms", "us"]))
    if fraction == "":
        moment = moment.replace(microsecond=0)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    elif fraction == "ms":
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    else:
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    zone = draw(st.sampled_from(["Z", "offset", "none"]))
    if zone == "Z":
        text, expected = text + "Z", moment.replace(tzinfo=UTC)
    elif zone == "offset":
        sign, hours, rest = "-" if minutes < 0 else "+", abs(minutes) // 60, abs(minutes) % 60
        text += f"{sign}{hours:02d}:{rest:02d}"
        expected = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    else:
        expected = None  # zoneless: cannot be compared with an aware time
    match draw(st.sampled_from(["keep", "keep", "month", "day", "hour", "junk", "truncate"])):
        case "month":
            text, expected = text[:5] + "13" + text[7:], None
        case "day":
            text, expected = text[:8] + "32" + text[10:], None
        case "hour":
            text, expected = text[:11] + "25" + text[13:], None
        case "junk":
            text, expected = text + draw(st.sampled_from(["x", " UTC", "ZZ", "+25:00"])), None
        case "truncate":
            text, expected = text[: draw(st.integers(0, 15))], None
    return text, expected


@given(rfc3339_near_misses())
def test_a_time_reads_as_its_instant_and_anything_else_as_unknown(
    case: tuple[str, datetime | None],
) -> None:
    text, expected = case
    parsed = parse_time(text)
    assert parsed == expected
    if expected is not None:
        assert parsed is not None and parsed.utcoffset() == expected.utcoffset()
