"""NODE_ROLE_ARNS: the comma-separated role ARN patterns the functions may authorize as Windows
nodes. Unset or empty: the roles of each cluster's own account (the template always sets it); a
malformed pattern is refused at start-up, naming the variable."""

from __future__ import annotations

import pytest

from winnodes.config import Settings
from winnodes.decisions.node_roles import NodeRoleAllowList
from winnodes.errors import ConfigurationError
from winnodes.models.identifiers import RoleArn

NODES = "arn:aws:iam::111122223333:role/nodes/*"
WIN = "arn:aws:iam::111122223333:role/win-20??"


@pytest.mark.parametrize("env", [{}, {"NODE_ROLE_ARNS": ""}, {"NODE_ROLE_ARNS": "  "}])
def test_without_the_setting_each_clusters_own_account_is_allowed(env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    assert settings.node_roles == NodeRoleAllowList(None)
    assert settings == Settings()


def test_the_patterns_are_read_in_order() -> None:
    settings = Settings.from_env({"NODE_ROLE_ARNS": f"{NODES},{WIN}"})
    assert settings.node_roles.patterns == (NODES, WIN)
    assert settings.node_roles.allows(RoleArn.parse("arn:aws:iam::111122223333:role/win-2022"))
    assert not settings.node_roles.allows(RoleArn.parse("arn:aws:iam::111122223333:role/admin"))


def test_the_templates_default_reads_as_every_role_of_the_account() -> None:
    settings = Settings.from_env({"NODE_ROLE_ARNS": "arn:aws:iam::111122223333:role/*"})
    assert settings.node_roles.allows(RoleArn.parse("arn:aws:iam::111122223333:role/a/b/win"))
    assert not settings.node_roles.allows(RoleArn.parse("arn:aws:iam::444455556666:role/win"))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (f"{NODES},", "an empty pattern (two commas in a row, or one at an end)"),
        (f"{NODES},,{WIN}", "an empty pattern (two commas in a row, or one at an end)"),
        (f"{NODES}, {WIN}", f"' {WIN}' is not an IAM role ARN pattern"),
        ("*", "'*' is not an IAM role ARN pattern"),
        ("arn:aws:iam::111122223333:user/ops", "is not an IAM role ARN pattern"),
        (
            "arn:aws:iam::111122223333:instance-profile/win",
            "'arn:aws:iam::111122223333:instance-profile/win' names an instance profile: "
            "list the ARN of its role",
        ),
    ],
)
def test_a_malformed_pattern_is_refused_naming_the_variable(value: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"NODE_ROLE_ARNS": value})
    assert raised.value.field == "NODE_ROLE_ARNS"
    assert reason in raised.value.reason
    assert str(raised.value).startswith("environment variable NODE_ROLE_ARNS: ")
