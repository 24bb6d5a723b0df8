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
from dataclasses import dataclass
from functools import cache
from typing import Final

from winnodes.models.identifiers import RoleArn

NODE_ROLES_SETTING: Final = "NODE_ROLE_ARNS"
# Without the setting (the CLI, the local cloud), any role, as before it existed; the template
# always sets it, by default to every role of the stack's account.
ANY_ROLE: Final = ("arn:*:iam::*:role/*",)

# arn:<partition>:iam::<account>:role/<path and name>, wildcards allowed in the three variable
# parts. The rest is printable ASCII (IAM paths may hold any) except the comma, which separates
# patterns (a role name with a comma is matched with ? in its place). template.yaml's
# NodeRoleArns pattern repeats this one; tests/unit/test_template_node_roles.py holds them equal.
NODE_ROLE_PATTERN: Final = re.compile(
    r"arn:[a-z0-9*?-]+:iam::(?:[0-9]{12}|[0-9]*[*?][0-9*?]*):role/[\x21-\x2b\x2d-\x7e]+"
)
_ARN_PARTS: Final = 6


@dataclass(frozen=True, slots=True)
class NodeRoleAllowList:
    patterns: tuple[str, ...] = ANY_ROLE

    def allows(self, role: RoleArn) -> bool:
        """Whether `role` may be authorized as a Windows node: some pattern matches its full
        ARN, path included, as the access entry names it."""
        return any(arn_like(role.principal_arn, pattern) for pattern in self.patterns)


def arn_like(arn: str, pattern: str) -> bool:
    """IAM's ArnLike: each of the six colon-separated parts matched on its own (a wildcard
    never spans a colon between them; the last part, the resource, keeps any colons of its own),
    case-sensitively, `*` any run of characters, `?` any one."""
    arn_parts = arn.split(":", _ARN_PARTS - 1)
    pattern_parts = pattern.split(":", _ARN_PARTS - 1)
    if len(arn_parts) != _ARN_PARTS or len(pattern_parts) != _ARN_PARTS:
        return False
    return all(
        _wildcards(part_pattern).fullmatch(part) is not None
        for part_pattern, part in zip(pattern_parts, arn_parts, strict=True)
    )


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
