"""template.yaml: whatever values CloudFormation takes for the parameters, each function's
environment variables fit Lambda's 4 KB. A larger set is refused by CreateFunction or
UpdateFunctionConfiguration after CloudFormation has taken the values, and the stack rolls back;
the parameters' constraints are there to refuse such a value before the deploy starts.

How Lambda counts: "4 KB, for all environment variables associated with the function, in
aggregate" (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, where a KB
is 1024 bytes). Its refusal quotes what it measured, the variables written as one JSON object
("... exceeded the 4KB limit. String measured: {"PG_PASSWORD":"hunter2"}"), so the keys, the
quotes, colons and commas, and the escapes a value needs all count. Measured here as the UTF-8
bytes of that object written without blanks, each value at its worst: every String parameter at
its MaxLength, each character of it taking the most bytes any character its AllowedPattern lets
through takes there. A character beyond ASCII counts as its UTF-8 (up to 4 bytes for what
MaxLength counts as one character, as Python's len does): Lambda's writer is not documented, and
one that wrote such characters as \\uXXXX escapes would take up to 6. A Number parameter counts
as long as its bounds are written: CloudFormation passes it on as given, and a value padded with
zeros is bounded by nothing the template can say."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from re import _parser  # type: ignore[attr-defined]  # the only parser of Python's patterns
from typing import Any

import pytest

from tests.helpers.template import function_variables, load_template

TEMPLATE = load_template()
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
FUNCTIONS = sorted(
    name
    for name, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
)
LAMBDA_ENVIRONMENT_LIMIT = 4096
# The longest value of each pseudo parameter a Fn::Sub of the environment names.
PSEUDO_PARAMETERS = {"AWS::Partition": "aws-us-gov", "AWS::AccountId": "123456789012"}
LAST_CODE_POINT = 0x10FFFF


def measured(text: str) -> int:
    """Bytes `text` takes inside a JSON string of the measured object."""
    return len(json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass"))


# --- The characters a pattern lets through ----------------------------------------------------

type CodePoints = list[tuple[int, int]]  # inclusive ranges
REPEATS = (_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT)


def _complement(ranges: CodePoints) -> CodePoints:
    gaps, start = [], 0
    for low, high in sorted(ranges):
        if low > start:
            gaps.append((start, low - 1))
        start = max(start, high + 1)
    return [*gaps, (start, LAST_CODE_POINT)] if start <= LAST_CODE_POINT else gaps


def _class(items: Iterable[tuple[Any, Any]]) -> CodePoints:
    ranges: CodePoints = []
    negated = False
    for op, argument in items:
        if op is _parser.NEGATE:
            negated = True
        elif op is _parser.LITERAL:
            ranges.append((argument, argument))
        elif op is _parser.RANGE:
            ranges.append(argument)
        else:
            raise ValueError(f"cannot read {op} in a character class")
    return _complement(ranges) if negated else ranges


def _consumed(items: Iterable[tuple[Any, Any]]) -> CodePoints:
    ranges: CodePoints = []
    for op, argument in items:
        if op in (_parser.AT, _parser.ASSERT, _parser.ASSERT_NOT):
            continue  # anchors and lookarounds consume nothing
        if op is _parser.LITERAL:
            ranges.append((argument, argument))
        elif op is _parser.NOT_LITERAL:
            ranges += _complement([(argument, argument)])
        elif op is _parser.ANY:
            ranges.append((0, LAST_CODE_POINT))
        elif op is _parser.IN:
            ranges += _class(argument)
        elif op in (_parser.SUBPATTERN, *REPEATS):
            ranges += _consumed(argument[-1])
        elif op is _parser.ATOMIC_GROUP:
            ranges += _consumed(argument)
        elif op is _parser.BRANCH:
            for branch in argument[1]:
                ranges += _consumed(branch)
        else:
            raise ValueError(f"cannot read {op} in a pattern")
    return ranges


def widest_character(pattern: str) -> int:
    """The most bytes (`measured`) one character of a value matching `pattern` can take."""
    widths = [0]
    for low, high in _consumed(_parser.parse(pattern)):
        widths += (measured(chr(c)) for c in range(low, min(high, 0x7F) + 1))
        if high > 0x7F:  # beyond ASCII, UTF-8 grows with the code point
            widths.append(len(chr(high).encode("utf-8", "surrogatepass")))
    return max(widths)


# --- The largest environment ------------------------------------------------------------------


def parameter_bytes(name: str) -> int:
    """The most bytes a value CloudFormation takes for the parameter takes in the object."""
    parameter = PARAMETERS[name]
    if "AllowedValues" in parameter:
        return max(measured(str(value)) for value in parameter["AllowedValues"])
    if parameter["Type"] == "Number":
        return max(len(str(parameter[bound])) for bound in ("MinValue", "MaxValue"))
    assert "MaxLength" in parameter, f"{name} reaches the environment without a MaxLength"
    # Without a pattern, any character.
    pattern = parameter.get("AllowedPattern", "(?s:.)")
    return int(parameter["MaxLength"]) * widest_character(pattern)


def value_bytes(value: Any) -> int:
    """The most bytes an environment value of the template takes in the object."""
    if isinstance(value, str):
        return measured(value)
    ((function, arguments),) = value.items()
    match function:
        case "Fn::Ref":
            return parameter_bytes(arguments)
        case "Fn::If":
            _, then, otherwise = arguments
            return max(value_bytes(then), value_bytes(otherwise))
        case "Fn::Sub":
            parts = re.split(r"\$\{([^}]+)\}", arguments)
            literals, names = parts[::2], parts[1::2]
            return sum(map(measured, literals)) + sum(
                measured(PSEUDO_PARAMETERS[n]) if n in PSEUDO_PARAMETERS else parameter_bytes(n)
                for n in names
            )
    raise ValueError(f"cannot bound {function} in an environment value")


def largest_environment(variables: Mapping[str, Any]) -> int:
    """Bytes of the measured object, {"KEY":"value",...}, every value at its largest."""
    pairs = (len(json.dumps(key)) + 1 + 2 + value_bytes(v) for key, v in variables.items())
    return 2 + sum(pairs) + max(len(variables) - 1, 0)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_largest_environment_a_deployment_can_set_fits_lambdas_4_kb(function: str) -> None:
    assert largest_environment(function_variables(TEMPLATE, function)) <= LAMBDA_ENVIRONMENT_LIMIT


def test_every_function_of_the_template_is_counted() -> None:
    assert FUNCTIONS == ["LifecycleFunction", "ReconcileFunction"]


def test_plain_variables_are_counted_as_lambda_measures_them() -> None:
    variables = {"PG_PASSWORD": 'hun"ter\\2', "REGION": "eu-west-1", "GREETING": "grüß 😀"}
    written = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    assert largest_environment(variables) == len(written.encode("utf-8"))


@pytest.mark.parametrize(
    ("pattern", "widest"),
    [
        ("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", 1),
        ("^(?!kube-)[a-z]+$", 1),  # a lookahead consumes nothing
        (r"^[\x21-\x7e]+$", 2),  # " and \ are escaped
        ("^[a-z\t]*$", 2),
        ("^[a-z\x01]*$", 6),  # \u0001
        ("^[a-zé]*$", 2),
        ("^[a-z€]*$", 3),
        (r'^[^"\\\x00-\x1f]*$', 4),  # up to U+10FFFF
        ("(?s:.)", 6),  # any character: a control character's \u escape
    ],
)
def test_the_widest_character_is_read_from_the_pattern(pattern: str, widest: int) -> None:
    assert widest_character(pattern) == widest
