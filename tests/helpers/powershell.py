"""A reader for the PowerShell our renderer emits, written from the language specification
(PowerShell Language Specification 3.0, section 2.3.5.2): tests use it to read back what a
Windows node would actually receive, independently of the code under test."""

from __future__ import annotations

import re

SINGLE_QUOTE_CHARACTERS = frozenset("'\u2018\u2019\u201a\u201b")
_CALL = re.compile(r"^\s*& \$EKSBootstrapScriptFile (?P<args>.*) 3>&1 4>&1 5>&1 6>&1$", re.M)
_PARAMETER = re.compile(r"-([A-Za-z][A-Za-z0-9]*) ")


def read_verbatim_string(text: str, start: int) -> tuple[str, int]:
    """The value of the verbatim string literal opening at `start`, and the index after it."""
    if start >= len(text) or text[start] not in SINGLE_QUOTE_CHARACTERS:
        raise ValueError(f"no string literal at {start}")
    value = []
    i = start + 1
    while True:
        if i >= len(text):
            raise ValueError("unterminated string literal")
        ch = text[i]
        if ch in SINGLE_QUOTE_CHARACTERS:
            if i + 1 < len(text) and text[i + 1] in SINGLE_QUOTE_CHARACTERS:
                value.append(text[i + 1])  # two quote characters stand for one
                i += 2
                continue
            return "".join(value), i + 1
        value.append(ch)
        i += 1


def bootstrap_call_arguments(script: str) -> dict[str, list[str]]:
    """Parameter name -> values of the Start-EKSBootstrap.ps1 call in a rendered script.

    Raises ValueError unless the call is exactly `-Name 'literal'[,'literal'...]` pairs, which is
    what an injected quote would break."""
    calls = _CALL.findall(script)
    if len(calls) != 1:
        raise ValueError(f"expected one bootstrap call, found {len(calls)}")
    text: str = calls[0]
    arguments: dict[str, list[str]] = {}
    i = 0
    while i < len(text):
        match = _PARAMETER.match(text, i)
        if match is None:
            raise ValueError(f"expected a parameter at {i}: {text[i : i + 20]!r}")
        name = match.group(1)
        i = match.end()
        values = []
        while True:
            value, i = read_verbatim_string(text, i)
            values.append(value)
            if i < len(text) and text[i] == ",":
                i += 1
                continue
            break
        if name in arguments:
            raise ValueError(f"parameter {name} given twice")
        arguments[name] = values
        if i < len(text):
            if text[i] != " ":
                raise ValueError(f"expected a space after {name}'s value at {i}")
            i += 1
    return arguments
