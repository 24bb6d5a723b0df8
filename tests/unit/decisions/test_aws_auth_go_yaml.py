"""aws-auth as EKS reads it: the authenticator parses mapRoles with go-yaml v2, not PyYAML.

A rewritten list must mean to go-yaml what it meant before. The model below follows go-yaml v2's
resolver for plain (unquoted) scalars (gopkg.in/yaml.v2 resolve.go `resolve`): a first character
that may start a number sends the scalar through strconv.ParseInt/ParseUint with base 0 (so 0x,
0o, 0b and a leading 0 all count, `_` removed first) and then `yamlStyleFloat`; a few words are
booleans or nulls. Timestamps stay strings when decoded into interface{}, as sigs.k8s.io/yaml's
ToJSON does. PyYAML reads `1e5`, `0o17`, `0X1F` or `08` as strings and would write them bare."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions import aws_auth
from winnodes.decisions.aws_auth import (
    NODE_USERNAME,
    MalformedAwsAuthError,
    merge_node_role,
    parse_aws_auth,
)
from winnodes.models.identifiers import RoleArn

ROLE = RoleArn.parse("arn:aws:iam::111122223333:role/WinNodeRole")
FOREIGN_ROLE = "arn:aws:iam::111122223333:role/Other"

# go-yaml v2's resolve_map: booleans, nulls and the named floats.
_GO_WORDS = frozenset(
    {
        *("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"),
        *("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"),
        *("~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF"),
        *("+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"),
    }
)
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_DIGITS = {"0x": "0123456789abcdefABCDEF", "0o": "01234567", "0b": "01"}
_INT64, _UINT64 = 2**63, 2**64


def _go_parse_int(text: str) -> bool:
    """Whether strconv.ParseInt(text, 0, 64) or ParseUint(text, 0, 64) accepts `text`."""
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    prefix = digits[:2].lower()
    if prefix in _GO_DIGITS:
        body, base = digits[2:], {"0x": 16, "0o": 8, "0b": 2}[prefix]
        if not body or any(c not in _GO_DIGITS[prefix] for c in body):
            return False
    elif digits[:1] == "0" and len(digits) > 1:
        body, base = digits[1:], 8
        if any(c not in "01234567" for c in body):
            return False
    else:
        body, base = digits, 10
        if not body or not body.isascii() or not body.isdigit():
            return False
    value = int(body, base)
    if sign == "-":
        return value <= _INT64
    return value < _UINT64  # ParseUint takes what ParseInt cannot (no minus sign)


def go_yaml_reads_as_text(plain: str) -> bool:
    """Whether go-yaml v2 decodes the plain scalar `plain` into interface{} as a string."""
    if plain == "" or plain in _GO_WORDS:
        return False
    first = plain[0]
    if first == ".":
        # strconv.ParseFloat on the scalar as written
        return not re.fullmatch(r"\.[0-9]+([eE][-+]?[0-9]+)?", plain)
    if first not in "+-0123456789":
        return True
    bare = plain.replace("_", "")
    if _go_parse_int(bare):
        return False
    if _GO_FLOAT.fullmatch(bare) and _finite(bare):
        return False
    for prefix in ("0b", "-0b"):
        if (
            bare.startswith(prefix)
            and bare[len(prefix) :]
            and set(bare[len(prefix) :]) <= {"0", "1"}
        ):
            return False
    return True


def _finite(text: str) -> bool:
    # ParseFloat fails (ErrRange) beyond float64, and go-yaml then keeps the string.
    return abs(float(text)) != float("inf")


def plain_text_scalars(document: str) -> list[str]:
    """The scalars written without quotes that PyYAML reads as strings."""
    found: list[str] = []

    def walk(node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode):
            if node.style is None and node.tag == "tag:yaml.org,2002:str":
                found.append(node.value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(key)
                walk(value)

    root = yaml.compose(document)
    assert root is not None
    walk(root)
    return found


def rewritten(foreign: dict[str, Any]) -> str:
    """mapRoles after a merge that must rewrite the whole list: our role's entry lacks a group."""
    ours = {"rolearn": str(ROLE), "username": NODE_USERNAME, "groups": ["system:nodes"]}
    merge = merge_node_role({"mapRoles": yaml.safe_dump([foreign, ours])}, ROLE)
    assert merge.changed
    return merge.data["mapRoles"]


# --- the model against go-yaml v2's documented answers ---------------------------------------


@pytest.mark.parametrize(
    "plain",
    ["1e5", "+1e5", "0o17", "0O17", "0x1F", "0X1F", "0b1", "0B1", "-0b1", "08", "017", "1_000",
     "1.", ".5", "-.5", "1.5e3", "yes", "Off", "y", "~", ".NaN", "-.inf", "12", "-_0", "0_x1F"],
)  # fmt: skip
def test_the_model_reads_go_yaml_numbers_and_words_as_not_text(plain: str) -> None:
    assert not go_yaml_reads_as_text(plain)


@pytest.mark.parametrize(
    "plain",
    ["system:nodes", "admin", "0x", "0xG", "1e", "e5", "-", "+", "-inf", "1e999", "0o8",
     "2001-02-03", "1.2.3", "v1", "._5", "0b2"],
)  # fmt: skip
def test_the_model_reads_other_plain_scalars_as_text(plain: str) -> None:
    assert go_yaml_reads_as_text(plain)


# --- the merge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["1e5", "+1e5", "0o17", "0X1F", "0B1", "08", "1_0", ".5", "-_0", "+_1e5", "0_x1F"]
)
def test_a_rewritten_list_quotes_what_go_yaml_would_read_as_a_number(value: str) -> None:
    document = rewritten({"rolearn": FOREIGN_ROLE, "username": value, "groups": [value]})
    assert value not in plain_text_scalars(document)
    assert parse_aws_auth({"mapRoles": document}).map_roles[0] == {
        "rolearn": FOREIGN_ROLE,
        "username": value,
        "groups": [value],
    }


# Numbers as go-yaml writes them, most of which PyYAML does not take for numbers.
NUMBERS = st.from_regex(
    r"\A[-+]?(0[xXoObB][0-9a-fA-F_]{1,4}|[0-9_]{1,4}(\.[0-9]{0,2})?([eE][-+]?[0-9]{1,3})?)\Z"
)
NUMBERISH = st.text(alphabet="0123456789+-._eEoOxXbBaf", min_size=1, max_size=8)
VALUES = NUMBERS | NUMBERISH | st.sampled_from(sorted(_GO_WORDS)) | st.text(max_size=8)


@given(username=VALUES, groups=st.lists(VALUES, max_size=3), extra=VALUES)
def test_every_text_a_rewrite_leaves_unquoted_is_text_to_go_yaml_too(
    username: str, groups: list[str], extra: str
) -> None:
    foreign = {"rolearn": FOREIGN_ROLE, "username": username, "groups": groups, "note": extra}
    try:
        document = rewritten(foreign)
    except MalformedAwsAuthError:
        return  # refused, nothing written: safe
    assert [s for s in plain_text_scalars(document) if not go_yaml_reads_as_text(s)] == []
    assert parse_aws_auth({"mapRoles": document}).map_roles[0] == foreign


# --- aliases ---------------------------------------------------------------------------------


def nested_aliases(depth: int) -> str:
    """A few hundred bytes that expand to 10**depth items: go-yaml v2 refuses such a document
    ("excessive aliasing"), and PyYAML expands it into what every comparison walks."""
    lines = ["- rolearn: arn:aws:iam::111122223333:role/Other", "  extra:", "    a0: &a0 [x]"]
    lines += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["libyaml", "pyyaml"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The merge reads with libyaml where PyYAML has it built in, else with PyYAML's own parser:
    both must refuse aliases."""
    loader = {"libyaml": yaml.CSafeLoader, "pyyaml": yaml.SafeLoader}[request.param]
    monkeypatch.setattr(aws_auth, "_loader", lambda: loader)
    return str(request.param)


@pytest.mark.usefixtures("yaml_parser")
@pytest.mark.parametrize(
    "map_roles",
    [
        nested_aliases(6),
        "&self [*self]\n",  # a list that contains itself
        f"- &node {{rolearn: {FOREIGN_ROLE}, username: x}}\n- *node\n",
        f"- rolearn: {ROLE}\n  username: {NODE_USERNAME}\n  groups: &g [system:nodes]\n"
        f"- rolearn: {FOREIGN_ROLE}\n  groups: *g\n",
    ],
)
def test_a_document_with_aliases_is_refused_and_not_written(map_roles: str) -> None:
    with pytest.raises(MalformedAwsAuthError, match="alias") as raised:
        merge_node_role({"mapRoles": map_roles}, ROLE)
    assert raised.value.key == "mapRoles"


@pytest.mark.usefixtures("yaml_parser")
def test_an_anchor_nobody_refers_to_is_read_as_written() -> None:
    map_roles = f"- &node {{rolearn: {FOREIGN_ROLE}, username: x}}\n"
    merge = merge_node_role({"mapRoles": map_roles}, ROLE)
    assert merge.data["mapRoles"].startswith(map_roles)
    assert parse_aws_auth(merge.data).map_roles[0] == {"rolearn": FOREIGN_ROLE, "username": "x"}


# --- the two parsers ---------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_entries = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "rolearn": _text,
            "username": _text,
            "groups": st.lists(_text, max_size=3),
            "extra": st.one_of(
                _text, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)
            ),
        },
    ),
    max_size=4,
)


@given(entries=_entries, flow=st.booleans(), width=st.sampled_from([8, 80]))
def test_libyaml_reads_what_pyyaml_reads(entries: list[Any], flow: bool, width: int) -> None:
    """The merge reads with libyaml when PyYAML has it; the documents an operator or a tool
    writes must mean to it what they mean to PyYAML's own parser, in block and flow style."""
    text = yaml.safe_dump(entries, default_flow_style=flow, width=width, allow_unicode=True)
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.load(text, Loader=yaml.SafeLoader)
    assert parse_aws_auth({"mapRoles": text}).map_roles == tuple(entries)
