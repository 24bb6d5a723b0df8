"""EventBridge event patterns: the subset our rules use, matched like EventBridge does. Pure.

Semantics from https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html:

- a pattern is a JSON object; every field in it must match (AND); nested objects match nested
  fields of the event (e.g. ``detail``);
- a leaf is an array of matchers, any of which may match (OR); when the event's value is an
  array, the field matches if any element matches;
- matchers: a literal (string, number, ``null``; exact and case sensitive), ``{"prefix": s}``,
  ``{"suffix": s}``, ``{"anything-but": v | [v...] | {"prefix": s}}``, ``{"exists": bool}``,
  ``{"equals-ignore-case": s}``, ``{"numeric": [op, n, ...]}``.
- ``{"exists": false}`` is the only matcher that matches an absent field; ``anything-but``
  requires the field to be present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()


class PatternError(ValueError):
    """The event pattern is not valid (EventBridge: InvalidEventPatternException)."""


def validate_pattern(pattern: Mapping[str, Any]) -> None:
    """Raise ``PatternError`` for patterns EventBridge would refuse (shape only)."""
    if not isinstance(pattern, Mapping) or not pattern:
        raise PatternError("Event pattern must be a non-empty JSON object")
    for key, value in pattern.items():
        if isinstance(value, Mapping):
            validate_pattern(value)
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"Empty arrays are not allowed: {key}")
            for matcher in value:
                if isinstance(matcher, Mapping):
                    _validate_operator(matcher)
        else:
            raise PatternError(f"Match value must be String, number, true, false, or null: {key}")


def _validate_operator(matcher: Mapping[str, Any]) -> None:
    if len(matcher) != 1:
        raise PatternError(f"Unrecognized match type {dict(matcher)}")
    (operator,) = matcher
    if operator not in (
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "equals-ignore-case",
        "numeric",
    ):
        raise PatternError(f"Unrecognized match type {operator}")


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """True when ``event`` matches ``pattern``."""
    for key, expected in pattern.items():
        actual = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not isinstance(actual, Mapping) or not matches(expected, actual):
                return False
        elif not _leaf_matches(expected, actual):
            return False
    return True


def _leaf_matches(matchers: Sequence[Any], actual: Any) -> bool:
    if actual is _MISSING:
        return any(isinstance(m, Mapping) and m.get("exists") is False for m in matchers)
    values = actual if isinstance(actual, list) else [actual]
    return any(_one(m, v) for m in matchers for v in values) or (
        # {"exists": true} also matches an empty array's field: it is present.
        not values and any(isinstance(m, Mapping) and m.get("exists") is True for m in matchers)
    )


def _one(matcher: Any, value: Any) -> bool:  # noqa: PLR0911 - one branch per operator
    if not isinstance(matcher, Mapping):
        return _literal_equal(matcher, value)
    (operator, operand), *_ = matcher.items()
    if operator == "exists":
        # Present (we only get here when present): exists:true matches a leaf value.
        return bool(operand) and not isinstance(value, Mapping)
    if operator == "prefix":
        return isinstance(value, str) and _prefix(operand, value)
    if operator == "suffix":
        return isinstance(value, str) and isinstance(operand, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(operand).casefold()
    if operator == "anything-but":
        if isinstance(operand, Mapping):
            if "prefix" in operand:
                return isinstance(value, str) and not _prefix(operand["prefix"], value)
            if "suffix" in operand:
                return isinstance(value, str) and not value.endswith(operand["suffix"])
            raise PatternError(f"Unsupported anything-but operand {dict(operand)}")
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_literal_equal(e, value) for e in excluded)
    if operator == "numeric":
        return _numeric(operand, value)
    raise PatternError(f"Unrecognized match type {operator}")


def _prefix(operand: Any, value: str) -> bool:
    if isinstance(operand, Mapping) and "equals-ignore-case" in operand:
        return value.casefold().startswith(str(operand["equals-ignore-case"]).casefold())
    return isinstance(operand, str) and value.startswith(operand)


def _literal_equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _numeric(operand: Sequence[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    if len(operand) % 2:
        raise PatternError("numeric needs operator/value pairs")
    for i in range(0, len(operand), 2):
        op, bound = operand[i], operand[i + 1]
        if op not in checks:
            raise PatternError(f"Unrecognized numeric range operator: {op}")
        if not checks[op](value, bound):
            return False
    return True
