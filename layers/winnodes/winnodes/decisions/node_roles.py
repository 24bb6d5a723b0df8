"""Which IAM roles the functions may authorize as Windows nodes: the operator's NODE_ROLE_ARNS.

A group names its node role by a tag (or by its launch template's instance profile), and
tagging an Auto Scaling group is a far weaker permission than making a role a Kubernetes node
of a cluster. So a role is authorized (access entry or aws-auth) only when one of these
patterns matches it; the same list scopes the functions' eks:CreateAccessEntry in template.yaml.

The patterns are read as IAM's ArnLike reads them against `eks:principalArn`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN):
they match the role's full ARN, path included, each of the ARN's six colon-separated parts on
its own and case-sensitively; `*` stands for any run of characters within a part, `?` for any one.
So `arn:aws:iam::111122223333:role/*` takes every role of that account, whatever its path, and
`.../role/win` only a role named win without a path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

from winnodes.models.identifiers import RoleArn

NODE_ROLES_SETTING: Final = "NODE_ROLE_ARNS"

# arn:<partition>:iam::<account>:role/<path and name>, wildcards allowed in the three variable
# parts. The rest is printable ASCII (IAM paths may hold any) except the comma, which separates
# patterns (a role name with a comma is matched with ? in its place), and `"` and `\`, which no
# role name holds (a path with one is matched with ?): each would take two bytes of the
# functions' environment, which Lambda caps at 4 KB in all. template.yaml's NodeRoleArns pattern
# repeats this one; tests/unit/test_template_node_roles.py holds them equal.
NODE_ROLE_PATTERN: Final = re.compile(
    r"arn:[a-z0-9*?-]+:iam::(?:[0-9]{12}|[0-9]*[*?][0-9*?]*):role/[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]+"
)
_ARN_PARTS: Final = 6


@dataclass(frozen=True, slots=True)
class NodeRoleAllowList:
    # None: the setting is unset (a run by hand, the local cloud): every role of the cluster's
    # own account, which is the template's default for the stack's account (for_cluster), so a
    # run by hand authorizes no role of another account that a group's tag names.
    patterns: tuple[str, ...] | None = None

    def for_cluster(self, cluster_arn: str | None) -> NodeRoleAllowList:
        """The list that applies to a cluster with this ARN: the setting's, else every role of
        the cluster's partition and account (none, if its ARN does not say)."""
        if self.patterns is not None:
            return self
        parts = _arn_parts(cluster_arn or "")
        if parts is None or not parts[1] or not parts[4]:
            return NodeRoleAllowList(())
        return NodeRoleAllowList((f"arn:{parts[1]}:iam::{parts[4]}:role/*",))

    def allows(self, role: RoleArn) -> bool:
        """Whether `role` may be authorized as a Windows node: some pattern matches its full
        ARN, path included, as the access entry names it. Unresolved (no for_cluster): none."""
        return any(arn_like(role.principal_arn, pattern) for pattern in self.patterns or ())

    def allows_every_spelling(self, role: RoleArn) -> bool:
        """Whether `role` is allowed however the letters of its path and name are cased. IAM
        role names are unique regardless of case
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names)
        and aws-auth maps `rolearn` without regard to case (decisions.aws_auth), so there a name
        only a group tag spells may stand for IAM's role of another case."""
        return arn_like_every_case(role.principal_arn, self.patterns or ())


def arn_like(arn: str, pattern: str) -> bool:
    """IAM's ArnLike: each of the six colon-separated parts matched on its own (a wildcard
    never spans a colon between them; the last part, the resource, keeps any colons of its own),
    case-sensitively, `*` any run of characters, `?` any one."""
    arn_parts, pattern_parts = _arn_parts(arn), _arn_parts(pattern)
    return arn_parts is not None and pattern_parts is not None and _like(arn_parts, pattern_parts)


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", _ARN_PARTS - 1)
    return parts if len(parts) == _ARN_PARTS else None


def _like(parts: Sequence[str], pattern_parts: Sequence[str]) -> bool:
    return all(
        _wildcards(part_pattern).fullmatch(part) is not None
        for part_pattern, part in zip(pattern_parts, parts, strict=True)
    )


def arn_like_every_case(arn: str, patterns: Sequence[str]) -> bool:
    """Whether every spelling of `arn` with the ASCII letters of its path and name (the resource
    after `role/`) in either case is matched by some pattern (`arn_like`), not always the same
    one."""
    parts = _arn_parts(arn)
    if parts is None:
        return False
    # The patterns whose partition, service, region and account match: their resource globs.
    resources = [
        pattern_parts[-1]
        for pattern_parts in map(_arn_parts, patterns)
        if pattern_parts is not None and _like(parts[:-1], pattern_parts[:-1])
    ]
    kind, slash, path_and_name = parts[-1].partition("/")
    return _every_case_matched(kind + slash, path_and_name, tuple(resources))


# A position in one of the globs: (which glob, how much of it is matched).
type _Position = tuple[int, int]


def _every_case_matched(fixed: str, text: str, globs: tuple[str, ...]) -> bool:
    """Whether the globs match `fixed` followed by any spelling of `text`. Their positions are
    followed for all spellings at once: those that reach the same set of positions go on as
    one, so the work grows with the text, not with its 2^letters spellings."""
    runs = {_closure(globs, {(i, 0) for i in range(len(globs))})}
    for index, character in enumerate(fixed + text):
        cases = (
            {character.lower(), character.upper()}
            if index >= len(fixed) and character.isascii() and character.isalpha()
            else {character}
        )
        runs = {_step(globs, run, case) for run in runs for case in cases}
        if frozenset() in runs:
            return False  # a spelling no glob can match, whatever follows
    return all(any(at == len(globs[i]) for i, at in run) for run in runs)


def _step(
    globs: tuple[str, ...], run: frozenset[_Position], character: str
) -> frozenset[_Position]:
    following: set[_Position] = set()
    for i, at in run:
        glob = globs[i]
        if at == len(glob):
            continue
        if glob[at] == "*":
            following.add((i, at))  # the star takes the character and may take more
        elif glob[at] in ("?", character):
            following.add((i, at + 1))
    return _closure(globs, following)


def _closure(globs: tuple[str, ...], positions: set[_Position]) -> frozenset[_Position]:
    """The positions, and those a star at them may skip to by matching nothing."""
    closed = set(positions)
    for i, start in positions:
        at = start
        while at < len(globs[i]) and globs[i][at] == "*":
            at += 1
            closed.add((i, at))
    return frozenset(closed)


@cache
def _wildcards(pattern: str) -> re.Pattern[str]:
    # Only * and ? are special: every other character, a regex metacharacter too, is itself.
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.DOTALL,
    )


def node_role_pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be one of NODE_ROLE_ARNS, or None when it can."""
    if not pattern:
        return "an empty pattern (two commas in a row, or one at an end)"
    if NODE_ROLE_PATTERN.fullmatch(pattern) is not None:
        return None
    if ":instance-profile/" in pattern:
        return f"{pattern!r} names an instance profile: list the ARN of its role"
    return (
        f"{pattern!r} is not an IAM role ARN pattern, arn:<partition>:iam::<account>:role/<path "
        "and name> with * and ? as wildcards, without blanks or commas"
    )
