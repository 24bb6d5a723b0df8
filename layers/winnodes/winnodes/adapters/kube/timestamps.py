"""Times as the Kubernetes API writes them: RFC 3339 in UTC ("2026-03-02T09:00:00Z"), in object
metadata and in the annotations we set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """None for a value that is absent, not text, not a time or without a zone: someone else's
    value, read as unknown rather than failing the caller or comparing a naive time."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
