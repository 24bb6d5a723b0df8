"""Which roles NODE_ROLE_ARNS allows as Windows nodes: IAM's ArnLike, part by part, against the
role's full ARN (path included), as eks:CreateAccessEntry's condition in template.yaml reads the
same patterns."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from winnodes.decisions.node_roles import (
    NodeRoleAllowList,
    arn_like,
    arn_like_every_case,
    node_role_pattern_problem,
)
from winnodes.models.identifiers import RoleArn

ACCOUNT = "111122223333"
PREFIX = f"arn:aws:iam::{ACCOUNT}:role/"

# What IAM allows in role names (and, with /, in paths): any of these may stand beside a wildcard.
name_chars = st.sampled_from("abcXYZ019+=,.@_-")
names = st.text(name_chars, min_size=1, max_size=20)
# Characters a regex would read as its own syntax; a pattern must take them literally.
regex_syntax = st.text(st.sampled_from(".^$+()[]{}|\\"), min_size=1, max_size=6)
# Anything at all, colons and wildcard characters included.
any_text = st.text(max_size=20)


def role(name: str, path: str = "/") -> RoleArn:
    return RoleArn("aws", ACCOUNT, name, path)


@given(any_text)
def test_a_star_matches_any_run_of_characters_in_the_resource(rest: str) -> None:
    assert arn_like(PREFIX + rest, PREFIX + "*")
    assert arn_like(PREFIX + "a" + rest + "z", PREFIX + "a*z")
    assert arn_like(f"arn:aws:iam::{ACCOUNT}:{rest}", f"arn:aws:iam::{ACCOUNT}:*")


@given(names, st.text(min_size=1, max_size=5))
def test_a_question_mark_matches_exactly_one_character(name: str, extra: str) -> None:
    assume(":" not in extra)
    for one in name:
        assert arn_like(PREFIX + name, PREFIX + name.replace(one, "?", 1))
    assert arn_like(PREFIX + name + extra[0], PREFIX + name + "?")
    assert not arn_like(PREFIX + name, PREFIX + name + "?")  # not zero
    if len(extra) > 1:
        assert not arn_like(PREFIX + name + extra, PREFIX + name + "?")  # nor more than one


@given(names, regex_syntax, names)
@example(before="a", syntax=".", after="c")
def test_a_pattern_is_no_regular_expression(before: str, syntax: str, after: str) -> None:
    literal = PREFIX + before + syntax + after
    assert arn_like(literal, literal)
    # Each syntax character stands for itself only: another character in its place is refused.
    for index in range(len(syntax)):
        changed = syntax[:index] + "b" + syntax[index + 1 :]
        assert not arn_like(PREFIX + before + changed + after, literal)


@given(names)
def test_the_resource_is_matched_case_sensitively_as_arn_like_does(name: str) -> None:
    assume(name != name.swapcase())
    assert not arn_like(PREFIX + name.swapcase(), PREFIX + name)
    assert arn_like(PREFIX + name, PREFIX + name)


@given(any_text)
def test_a_star_never_spans_the_colons_between_the_parts(text: str) -> None:
    # The account's * stands for the account alone: it cannot take `111122223333:role/x` in.
    assert not arn_like(f"arn:aws:iam::{ACCOUNT}:{text}:role/win", "arn:aws:iam::*:role/win")
    assert arn_like(f"arn:aws:iam::{ACCOUNT}:role/a:{text}", "arn:aws:iam::*:role/a:*")


@given(any_text, any_text)
def test_an_arn_without_six_parts_matches_nothing(arn: str, pattern: str) -> None:
    assume(arn.count(":") < 5 or pattern.count(":") < 5)
    assert not arn_like(arn, pattern)


def test_the_patterns_see_the_role_with_its_path() -> None:
    in_path = role("win", "/nodes/")
    assert NodeRoleAllowList((PREFIX + "*",)).allows(in_path)
    assert NodeRoleAllowList((PREFIX + "nodes/*",)).allows(in_path)
    assert not NodeRoleAllowList((PREFIX + "nodes/*",)).allows(role("win"))
    # The path-less form, as aws-auth names the role, is not what is matched.
    assert not NodeRoleAllowList((PREFIX + "win",)).allows(in_path)
    assert NodeRoleAllowList((PREFIX + "win",)).allows(role("win"))


@given(
    names,
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    st.from_regex(r"\d{12}", fullmatch=True),
)
def test_without_the_setting_the_roles_of_the_clusters_account_are_allowed(
    name: str, partition: str, account: str
) -> None:
    cluster = f"arn:{partition}:eks:some-region-1:{account}:cluster/prod"
    allowed = NodeRoleAllowList().for_cluster(cluster)
    assert allowed.patterns == (f"arn:{partition}:iam::{account}:role/*",)
    assert allowed.allows(RoleArn(partition, account, name, "/a/b/"))
    other_account = f"{(int(account) + 1) % 10**12:012d}"
    assert not allowed.allows(RoleArn(partition, other_account, name))
    other_partition = "aws-iso" if partition != "aws-iso" else "aws"
    assert not allowed.allows(RoleArn(other_partition, account, name))


@pytest.mark.parametrize("cluster", [None, "", "prod", "arn:aws:eks:us-east-1::cluster/prod"])
def test_without_the_setting_a_cluster_that_names_no_account_allows_no_role(
    cluster: str | None,
) -> None:
    allowed = NodeRoleAllowList().for_cluster(cluster)
    assert allowed.patterns == ()
    assert not allowed.allows(role("win"))
    # Never resolved for a cluster: nothing is allowed either.
    assert not NodeRoleAllowList().allows(role("win"))


def test_the_setting_applies_to_every_cluster_as_written() -> None:
    setting = NodeRoleAllowList((PREFIX + "win-*",))
    assert setting.for_cluster("arn:aws:eks:us-east-1:444455556666:cluster/other") is setting
    assert NodeRoleAllowList(()).for_cluster("arn:aws:eks:us-east-1:1:cluster/x").patterns == ()


def test_any_pattern_of_the_list_allows_and_other_accounts_are_refused() -> None:
    allowed = NodeRoleAllowList((PREFIX + "win-*", "arn:aws:iam::444455556666:role/nodes/*"))
    assert allowed.allows(role("win-2022"))
    assert allowed.allows(RoleArn("aws", "444455556666", "x", "/nodes/"))
    assert not allowed.allows(role("admins"))
    assert not allowed.allows(RoleArn("aws", "444455556666", "win-2022"))
    assert not allowed.allows(RoleArn("aws-cn", ACCOUNT, "win-2022"))
    assert not NodeRoleAllowList(()).allows(role("win"))


@pytest.mark.parametrize(
    "pattern",
    [
        PREFIX + "*",
        PREFIX + "nodes/win-?022",
        "arn:aws:iam::*:role/*",
        "arn:*:iam::1111*:role/win",
        "arn:aws-us-gov:iam::???122223333:role/a+b=c.d@e_f-g",
        "arn:*:iam::*:role/*",
    ],
)
def test_role_arn_patterns_are_accepted(pattern: str) -> None:
    assert node_role_pattern_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "empty pattern"),
        ("*", "not an IAM role ARN pattern"),
        ("arn:aws:iam::111122223333:role/", "not an IAM role ARN pattern"),
        ("arn:aws:iam::11112222333:role/win", "not an IAM role ARN pattern"),  # 11 digits
        ("arn:aws:iam::111122223333:user/win", "not an IAM role ARN pattern"),
        ("arn:aws:sts::111122223333:assumed-role/win/i-1", "not an IAM role ARN pattern"),
        ("arn:aws:iam:us-east-1:111122223333:role/win", "not an IAM role ARN pattern"),
        ("arn:AWS:iam::111122223333:role/win", "not an IAM role ARN pattern"),
        (" arn:aws:iam::111122223333:role/win", "not an IAM role ARN pattern"),
        ("arn:aws:iam::111122223333:role/win ", "not an IAM role ARN pattern"),
        ("arn:aws:iam::111122223333:role/a b", "not an IAM role ARN pattern"),
        # The comma separates patterns: a role name with one is written with ? in its place.
        ("arn:aws:iam::111122223333:role/a,b", "not an IAM role ARN pattern"),
        ("arn:aws:iam::111122223333:instance-profile/win", "names an instance profile"),
    ],
)
def test_other_values_are_refused_with_the_reason(pattern: str, problem: str) -> None:
    reason = node_role_pattern_problem(pattern)
    assert reason is not None
    assert problem in reason


@given(st.text(max_size=60))
def test_an_accepted_pattern_has_six_parts_and_the_role_resource(pattern: str) -> None:
    if node_role_pattern_problem(pattern) is None:
        parts = pattern.split(":", 5)
        assert parts[0] == "arn" and parts[2] == "iam" and parts[3] == ""
        assert re.fullmatch(r"role/.+", parts[5])
        assert "," not in pattern and not any(c.isspace() for c in pattern)


# --- every letter case of a role only a group tag spells (aws-auth mode) ----------------------

cased_chars = st.sampled_from("aAbB1/-")
glob_chars = st.sampled_from("aAbB1/-*?")


def spellings(text: str) -> set[str]:
    """Every spelling of `text` with its letters in either case, by brute force."""
    found = {""}
    for character in text:
        found = {s + c for s in found for c in {character.lower(), character.upper()}}
    return found


@given(
    st.text(cased_chars, min_size=1, max_size=8),
    st.lists(st.text(glob_chars, max_size=8), min_size=1, max_size=3),
)
@example(name="ab", globs=["a?", "A?"])  # each spelling matched, never by both patterns
@example(name="win", globs=["win"])
def test_every_spelling_is_allowed_exactly_when_each_one_is(name: str, globs: list[str]) -> None:
    patterns = [PREFIX + glob for glob in globs]
    expected = all(
        any(arn_like(PREFIX + spelled, pattern) for pattern in patterns)
        for spelled in spellings(name)
    )
    assert arn_like_every_case(PREFIX + name, patterns) is expected


def test_the_arn_outside_the_path_and_name_keeps_its_case() -> None:
    # Only the path and name are varied: `role/`, the account and the partition are as written.
    assert arn_like_every_case(PREFIX + "win", [PREFIX + "*"])
    assert not arn_like_every_case(PREFIX + "win", [f"arn:aws:iam::{ACCOUNT}:ROLE/*"])
    assert not arn_like_every_case(PREFIX + "win", ["arn:aws:iam::444455556666:role/*"])


def test_a_long_name_is_decided_without_trying_each_spelling() -> None:
    # 2^64 spellings: only the sets of pattern positions reached are followed.
    name = "a" * 64
    assert arn_like_every_case(PREFIX + name, [PREFIX + "*"])
    assert not arn_like_every_case(PREFIX + name, [PREFIX + "*a"])
    assert NodeRoleAllowList((PREFIX + "*",)).allows_every_spelling(role(name))
    assert not NodeRoleAllowList((PREFIX + "win*",)).allows_every_spelling(role("winX"))
