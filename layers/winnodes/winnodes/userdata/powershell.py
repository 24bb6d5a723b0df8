"""PowerShell quoting. Quoting is a security boundary: an accepted value must never end the
string it is placed in.

PowerShell's verbatim (single-quoted) string ends at any *single-quote character*, which the
language specification defines as U+0027 and the typographic quotes U+2018, U+2019, U+201A and
U+201B; inside the string two consecutive single-quote characters stand for one (PowerShell
Language Specification 3.0, section 2.3.5.2, "verbatim-string-literal"). Doubling every such
character therefore keeps the whole value inside the string.
"""

from __future__ import annotations

SINGLE_QUOTE_CHARACTERS = frozenset("'\u2018\u2019\u201a\u201b")


def quote(value: str) -> str:
    """`value` as a PowerShell verbatim string literal."""
    escaped = "".join(ch * 2 if ch in SINGLE_QUOTE_CHARACTERS else ch for ch in value)
    return f"'{escaped}'"


def quote_list(values: list[str] | tuple[str, ...]) -> str:
    """A PowerShell array argument: 'a','b' (binds to a [string[]] parameter)."""
    return ",".join(quote(value) for value in values)
