"""aws-auth merge: nothing that was there is lost, the node role ends up mapped exactly once."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from winnodes.decisions.aws_auth import (
    KUBE_PROXY_WINDOWS_GROUP,
    NODE_USERNAME,
    WINDOWS_NODE_GROUPS,
    AwsAuthWarningKind,
    MalformedAwsAuthError,
    merge_node_role,
    node_role_authorized,
    parse_aws_auth,
)
from winnodes.models.identifiers import RoleArn

ROLE = RoleArn.parse("arn:aws:iam::111122223333:role/eks/WinNodeRole")
ROLE_TEXT = "arn:aws:iam::111122223333:role/WinNodeRole"
LINUX_ROLE = "arn:aws:iam::111122223333:role/LinuxNodeRole"

MAP_USERS = """\
# operators
- userarn: arn:aws:iam::111122223333:user/alice
  username: alice
  groups:
    - system:masters
"""


def roles_of(data: dict[str, str]) -> list[dict[str, Any]]:
    return list(parse_aws_auth(data).map_roles)


def kinds(merge: Any) -> set[AwsAuthWarningKind]:
    return {w.kind for w in merge.warnings}


# --- examples -------------------------------------------------------------------------------


def test_empty_configmap_gets_one_windows_entry() -> None:
    merge = merge_node_role(None, ROLE)
    assert merge.changed
    assert roles_of(merge.data) == [
        {"rolearn": ROLE_TEXT, "username": NODE_USERNAME, "groups": list(WINDOWS_NODE_GROUPS)}
    ]
    assert merge.warnings == ()


def test_entry_is_appended_after_others_and_other_keys_stay_byte_identical() -> None:
    map_roles = f"- rolearn: {LINUX_ROLE}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
    data = {
        "mapRoles": map_roles,
        "mapUsers": MAP_USERS,
        "mapAccounts": "- '111122223333'\n",
        "custom": "  anything: [at all\n",
    }
    merge = merge_node_role(data, ROLE)
    assert merge.changed
    assert {k: v for k, v in merge.data.items() if k != "mapRoles"} == {
        k: v for k, v in data.items() if k != "mapRoles"
    }
    roles = roles_of(merge.data)
    assert roles[0] == {"rolearn": LINUX_ROLE, "username": NODE_USERNAME}
    assert roles[1]["rolearn"] == ROLE_TEXT


def test_linux_entry_for_the_same_role_gains_the_windows_group_and_warns() -> None:
    data = {
        "mapRoles": yaml.safe_dump(
            [
                {
                    "rolearn": ROLE_TEXT,
                    "username": NODE_USERNAME,
                    "groups": ["system:bootstrappers", "system:nodes"],
                    "note": "kept",
                }
            ]
        )
    }
    merge = merge_node_role(data, ROLE)
    assert merge.changed
    assert roles_of(merge.data) == [
        {
            "rolearn": ROLE_TEXT,
            "username": NODE_USERNAME,
            "groups": ["system:bootstrappers", "system:nodes", KUBE_PROXY_WINDOWS_GROUP],
            "note": "kept",
        }
    ]
    assert kinds(merge) == {AwsAuthWarningKind.ROLE_SHARED_WITH_LINUX}


def test_complete_entry_means_no_change_and_no_write() -> None:
    data = merge_node_role({"mapUsers": MAP_USERS}, ROLE).data
    again = merge_node_role(data, ROLE)
    assert not again.changed
    assert again.data == data
    assert node_role_authorized(data, ROLE)
    assert not node_role_authorized({"mapUsers": MAP_USERS}, ROLE)


def test_role_names_match_without_regard_to_case_and_keep_their_spelling() -> None:
    data = {
        "mapRoles": yaml.safe_dump(
            [
                {
                    "rolearn": "arn:aws:iam::111122223333:role/winnoderole",
                    "username": NODE_USERNAME,
                    "groups": list(WINDOWS_NODE_GROUPS),
                }
            ]
        )
    }
    assert not merge_node_role(data, ROLE).changed


def test_an_entry_with_a_path_maps_nobody_and_is_left_as_it_is() -> None:
    # The authenticator compares path-less ARNs, so this entry grants nothing today. Rewriting
    # its rolearn would bring it to life with its own username and groups: cluster admin here.
    dead = {
        "rolearn": "arn:aws:iam::111122223333:role/ops/WinNodeRole",
        "username": "break-glass",
        "groups": ["system:masters"],
    }
    merge = merge_node_role({"mapRoles": yaml.safe_dump([dead])}, ROLE)
    assert roles_of(merge.data) == [
        dead,
        {"rolearn": ROLE_TEXT, "username": NODE_USERNAME, "groups": list(WINDOWS_NODE_GROUPS)},
    ]
    assert kinds(merge) == {AwsAuthWarningKind.ROLE_ARN_HAD_PATH}


def test_an_entry_mapping_the_role_to_another_identity_is_refused() -> None:
    # Adding the node groups would give "deployer" the rights of the node groups too.
    entry = {"rolearn": ROLE_TEXT, "username": "deployer", "groups": ["team:deploy"]}
    with pytest.raises(MalformedAwsAuthError) as raised:
        merge_node_role({"mapRoles": yaml.safe_dump([entry])}, ROLE)
    assert raised.value.key == "mapRoles[0]"
    assert "deployer" in raised.value.reason


def test_keys_are_read_without_regard_to_case_and_completed_as_spelled() -> None:
    # aws-iam-authenticator's own test data (aws-auth-crazy-case-keys.yaml) spells them so.
    map_roles = (
        "- roleARN: arn:aws:iam::111122223333:role/WinNodeRole\n"
        f"  UserName: {NODE_USERNAME}\n"
        "  Groups: [team:win-ops, system:nodes]\n"
    )
    merge = merge_node_role({"mapRoles": map_roles}, ROLE)
    (entry,) = roles_of(merge.data)
    assert entry == {
        "roleARN": ROLE_TEXT,
        "UserName": NODE_USERNAME,
        "Groups": [
            "team:win-ops",
            "system:nodes",
            "system:bootstrappers",
            KUBE_PROXY_WINDOWS_GROUP,
        ],
    }


def test_a_role_arn_in_capitals_maps_the_role_as_the_authenticator_lowercases_it() -> None:
    entry = {
        "rolearn": "ARN:AWS:IAM::111122223333:ROLE/WINNODEROLE",
        "username": NODE_USERNAME,
        "groups": list(WINDOWS_NODE_GROUPS),
    }
    assert not merge_node_role({"mapRoles": yaml.safe_dump([entry])}, ROLE).changed


@pytest.mark.parametrize("value", ['""', "``", "  \n", ' "" '])
def test_values_the_authenticator_skips_are_empty(value: str) -> None:
    data = {"mapRoles": value, "mapUsers": value, "mapAccounts": value}
    merge = merge_node_role(data, ROLE)
    assert merge.data["mapUsers"] == value
    assert merge.data["mapAccounts"] == value
    assert len(roles_of(merge.data)) == 1


def test_entries_without_an_arn_are_kept() -> None:
    # terraform's yamlencode([{}]) writes `- {}`; they map nobody, for the authenticator too.
    data = {"mapRoles": "- {}\n- username: x\n", "mapUsers": "- {}\n"}
    merge = merge_node_role(data, ROLE)
    assert roles_of(merge.data)[:2] == [{}, {"username": "x"}]
    assert merge.data["mapUsers"] == data["mapUsers"]


def test_a_rewritten_list_quotes_what_go_yaml_would_read_as_a_boolean() -> None:
    entry = {"rolearn": ROLE_TEXT, "username": NODE_USERNAME, "groups": ["y", "N", "system:nodes"]}
    merged = merge_node_role({"mapRoles": yaml.safe_dump([entry])}, ROLE).data["mapRoles"]
    assert "- 'y'" in merged
    assert "- 'N'" in merged
    assert roles_of({"mapRoles": merged})[0]["groups"][:2] == ["y", "N"]


def test_duplicates_already_there_are_completed_not_removed() -> None:
    entry = {"rolearn": ROLE_TEXT, "username": NODE_USERNAME, "groups": ["system:nodes"]}
    twin = {**entry, "groups": ["system:nodes"]}  # an equal entry, not an alias of it
    merge = merge_node_role({"mapRoles": yaml.safe_dump([entry, twin])}, ROLE)
    roles = roles_of(merge.data)
    assert len(roles) == 2
    assert all(set(WINDOWS_NODE_GROUPS) <= set(r["groups"]) for r in roles)
    assert AwsAuthWarningKind.DUPLICATE_ROLE_ENTRIES in kinds(merge)


def test_another_node_username_for_the_role_is_refused_and_left_as_it_is() -> None:
    entry = {
        "rolearn": ROLE_TEXT,
        "username": "system:node:{{SessionName}}",
        "groups": list(WINDOWS_NODE_GROUPS),
    }
    with pytest.raises(MalformedAwsAuthError, match="can register only as") as raised:
        merge_node_role({"mapRoles": yaml.safe_dump([entry])}, ROLE)
    assert raised.value.key == "mapRoles[0]"


def test_same_name_in_another_account_is_a_different_role() -> None:
    other = {"rolearn": "arn:aws:iam::444455556666:role/WinNodeRole", "username": "x"}
    merge = merge_node_role({"mapRoles": yaml.safe_dump([other])}, ROLE)
    assert roles_of(merge.data) == [
        other,
        {"rolearn": ROLE_TEXT, "username": NODE_USERNAME, "groups": list(WINDOWS_NODE_GROUPS)},
    ]


def test_entry_with_null_groups_gains_groups() -> None:
    map_roles = f"- rolearn: {ROLE_TEXT}\n  username: {NODE_USERNAME}\n  groups:\n"
    merge = merge_node_role({"mapRoles": map_roles}, ROLE)
    assert roles_of(merge.data)[0]["groups"] == list(WINDOWS_NODE_GROUPS)


def test_blank_map_roles_is_an_empty_list() -> None:
    merge = merge_node_role({"mapRoles": "  \n"}, ROLE)
    assert len(roles_of(merge.data)) == 1


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"mapRoles": "- rolearn: [unclosed"}, "mapRoles"),
        ({"mapRoles": "rolearn: x\n"}, "mapRoles"),
        ({"mapRoles": "- just a string\n"}, "mapRoles[0]"),
        ({"mapRoles": "- rolearn: 12\n"}, "mapRoles[0]"),
        ({"mapRoles": f"- rolearn: {ROLE_TEXT}\n  groups: [a]\n  Groups: [b]\n"}, "mapRoles[0]"),
        ({"mapRoles": f"- rolearn: {ROLE_TEXT}\n  RoleArn: {LINUX_ROLE}\n"}, "mapRoles[0]"),
        ({"mapRoles": f"- rolearn: {ROLE_TEXT}\n  groups: [system:nodes]\n"}, "mapRoles[0]"),
        ({"mapRoles": "''"}, "mapRoles"),
        ({"mapRoles": f"- rolearn: {ROLE_TEXT}\n  groups: system:nodes\n"}, "mapRoles[0]"),
        ({"mapRoles": f"- rolearn: {ROLE_TEXT}\n  groups: [1]\n"}, "mapRoles[0]"),
        ({"mapRoles": f"- rolearn: {ROLE_TEXT}\n  username: [a]\n"}, "mapRoles[0]"),
        ({"mapRoles": f"- rolearn: {ROLE_TEXT}\n  1: x\n"}, "mapRoles[0]"),
        ({"mapRoles": "- when: 2001-02-30\n"}, "mapRoles"),
        ({"mapUsers": "- {userarn: [a]}\n"}, "mapUsers[0]"),
        ({"mapUsers": "{a: b}\n"}, "mapUsers"),
        ({"mapAccounts": "- {a: b}\n"}, "mapAccounts[0]"),
        ({"mapAccounts": "- true\n"}, "mapAccounts[0]"),
        ({"mapRoles": 7}, "mapRoles"),
    ],
)
def test_malformed_documents_are_refused_naming_the_place(data: Any, key: str) -> None:
    with pytest.raises(MalformedAwsAuthError) as raised:
        merge_node_role(data, ROLE)
    assert raised.value.key == key


def test_an_added_entry_keeps_the_operators_comments_and_layout() -> None:
    map_roles = (
        "# managed by platform-team; node roles below\n"
        f"- rolearn: {LINUX_ROLE}   # Linux nodes\n"
        "  username: system:node:{{EC2PrivateDNSName}}\n"
        "  groups: [system:bootstrappers, system:nodes]\n"
        "# end of list"  # no final newline
    )
    merge = merge_node_role({"mapRoles": map_roles}, ROLE)
    assert merge.data["mapRoles"].startswith(map_roles + "\n- rolearn: " + ROLE_TEXT)
    assert [e["rolearn"] for e in roles_of(merge.data)] == [LINUX_ROLE, ROLE_TEXT]


@pytest.mark.parametrize(
    "map_roles",
    [
        f"[{{rolearn: {LINUX_ROLE}, username: x}}]\n",  # flow style
        f"  - rolearn: {LINUX_ROLE}\n    username: x\n",  # indented block
        f"---\n- rolearn: {LINUX_ROLE}\n  username: x\n...\n",  # explicit document
        # A literal block at the very end: appending after it would add a newline to its value.
        f"- rolearn: {LINUX_ROLE}\n  username: |\n    x",
    ],
)
def test_a_list_an_item_cannot_be_appended_to_is_rewritten_whole(map_roles: str) -> None:
    merge = merge_node_role({"mapRoles": map_roles}, ROLE)
    assert [e["rolearn"] for e in roles_of(merge.data)] == [LINUX_ROLE, ROLE_TEXT]
    assert roles_of(merge.data)[0]["username"] == "x"


def test_unquoted_account_ids_are_accepted() -> None:
    assert parse_aws_auth({"mapAccounts": "- 111122223333\n- '444455556666'\n"}).map_accounts == (
        111122223333,
        "444455556666",
    )


# --- properties -----------------------------------------------------------------------------
# A small model of how aws-iam-authenticator reads an entry (pkg/mapper/configmap): keys without
# regard to case, the rolearn compared lowercased with the caller's path-less ARN.


def field(entry: dict[str, Any], name: str) -> Any:
    return next((v for k, v in entry.items() if k.lower() == name), None)


def maps_role(entry: dict[str, Any]) -> bool:
    arn = field(entry, "rolearn")
    return isinstance(arn, str) and arn.lower() == ROLE_TEXT.lower()


def as_windows_node(entry: dict[str, Any]) -> bool:
    return bool(field(entry, "username") == NODE_USERNAME)


def is_complete(entry: dict[str, Any]) -> bool:
    """Authorizes the role for Windows nodes as written: nothing to add."""
    return maps_role(entry) and set(WINDOWS_NODE_GROUPS) <= set(field(entry, "groups") or [])


def live_entries(data: dict[str, str]) -> list[dict[str, Any]]:
    return [e for e in parse_aws_auth(data).map_roles if maps_role(e)]


def refused(data: dict[str, str]) -> bool:
    """The merge must refuse: the role is mapped to another identity than a Windows node's."""
    return any(not as_windows_node(e) for e in live_entries(data))


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
ARNS = (
    st.sampled_from(
        [
            ROLE_TEXT,
            "arn:aws:iam::111122223333:role/a/b/WinNodeRole",
            "arn:aws:iam::111122223333:role/WINNODEROLE",
            "ARN:AWS:IAM::111122223333:ROLE/WINNODEROLE",
            LINUX_ROLE,
            "arn:aws:iam::444455556666:role/WinNodeRole",
            "not-an-arn",
        ]
    )
    | TEXT
)
GROUPS = st.lists(st.sampled_from([*WINDOWS_NODE_GROUPS, "system:masters", "y"]) | TEXT, max_size=4)
USERNAMES = st.sampled_from(
    [NODE_USERNAME, NODE_USERNAME, NODE_USERNAME, "system:node:{{SessionName}}", "admin"]
)
SCALARS = st.none() | st.booleans() | st.integers() | TEXT
EXTRA = st.dictionaries(
    TEXT.filter(lambda k: k.lower() not in {"rolearn", "userarn", "username", "groups"}),
    SCALARS | st.lists(SCALARS, max_size=2),
    max_size=2,
)


def spelled(draw: st.DrawFn, name: str) -> str:
    return draw(st.sampled_from([name, name, name.upper(), name.capitalize()]))


@st.composite
def complete_entries(draw: st.DrawFn) -> dict[str, Any]:
    """An entry an operator already wrote for the role: path-less ARN in any case, a Windows
    node's username, all three Windows groups in any order among others, maybe keys of their own."""
    arn = draw(st.sampled_from([ROLE_TEXT, ROLE_TEXT.upper(), ROLE_TEXT.lower()]))
    groups = draw(st.permutations([*WINDOWS_NODE_GROUPS, *draw(st.sets(st.just("team:x")))]))
    entry: dict[str, Any] = {
        spelled(draw, "rolearn"): arn,
        spelled(draw, "username"): NODE_USERNAME,
        spelled(draw, "groups"): groups,
    }
    return entry | draw(EXTRA)


@st.composite
def role_entries(draw: st.DrawFn) -> dict[str, Any]:
    # One entry in three is already complete: without them every merge would change something.
    if draw(st.sampled_from([True, False, False])):
        return draw(complete_entries())
    entry: dict[str, Any] = {}
    if draw(st.sampled_from([True, True, True, False])):
        entry[spelled(draw, "rolearn")] = draw(ARNS)
    if draw(st.sampled_from([True, True, True, False])):
        entry[spelled(draw, "username")] = draw(USERNAMES | TEXT)
    if draw(st.booleans()):
        entry[spelled(draw, "groups")] = draw(GROUPS)
    return entry | draw(EXTRA)


COMMENTS = st.lists(st.from_regex(r"\A# [ -~]{0,20}\Z"), max_size=2).map("\n".join)


@st.composite
def map_roles_texts(draw: st.DrawFn, *, block: bool | None = None) -> str:
    """mapRoles as people write it: block or flow style, with comments before and after."""
    entries = draw(st.lists(role_entries(), min_size=1 if block else 0, max_size=5))
    flow = not block if block is not None else draw(st.booleans())
    text = yaml.safe_dump(entries, default_flow_style=flow)
    lead, trail = draw(COMMENTS), draw(COMMENTS)
    return (lead + "\n" if lead else "") + text + trail


SKIPPED = st.sampled_from(["", '""', "``", " \n", '"" '])


@st.composite
def configmaps(draw: st.DrawFn) -> dict[str, str]:
    data: dict[str, str] = {}
    if draw(st.sampled_from([True, True, False])):
        data["mapRoles"] = draw(map_roles_texts() | SKIPPED)
    if draw(st.booleans()):
        users = draw(
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"userarn": TEXT, "username": TEXT, "groups": GROUPS}
                ),
                max_size=3,
            )
        )
        users_text = yaml.safe_dump(users, default_flow_style=draw(st.booleans()))
        data["mapUsers"] = draw(st.just(users_text) | SKIPPED)
    if draw(st.booleans()):
        data["mapAccounts"] = yaml.safe_dump(
            draw(st.lists(st.from_regex(r"\A\d{12}\Z"), max_size=2))
        )
    for key in draw(
        st.lists(
            TEXT.filter(lambda k: k not in {*data, "mapRoles", "mapUsers", "mapAccounts"}),
            max_size=2,
        )
    ):
        data[key] = draw(TEXT)
    return data


PROPERTY = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@PROPERTY
@given(configmaps())
def test_the_role_mapped_to_another_identity_is_refused_and_nothing_else_is(
    data: dict[str, str],
) -> None:
    if refused(data):
        with pytest.raises(MalformedAwsAuthError):
            merge_node_role(data, ROLE)
    else:
        merge_node_role(data, ROLE)


@PROPERTY
@given(configmaps())
def test_every_prior_entry_and_key_survives(data: dict[str, str]) -> None:
    assume(not refused(data))
    before = parse_aws_auth(data)
    merge = merge_node_role(data, ROLE)
    after = parse_aws_auth(merge.data)

    # untouched keys are byte-identical; only mapRoles may be (re)written
    assert set(merge.data) == (set(data) | {"mapRoles"} if merge.changed else set(data))
    assert {k: v for k, v in merge.data.items() if k != "mapRoles"} == {
        k: v for k, v in data.items() if k != "mapRoles"
    }
    assert after.map_users == before.map_users
    assert after.map_accounts == before.map_accounts

    # Every entry is still there, in order, unchanged, but an entry that maps the role may
    # gain groups at the end of its own; at most one entry is added, at the end.
    assert len(after.map_roles) in (len(before.map_roles), len(before.map_roles) + 1)
    for old, new in zip(before.map_roles, after.map_roles, strict=False):
        if not maps_role(old):
            assert new == old  # path entries, other roles, odd entries: untouched
            continue
        groups_key = next((k for k in old if k.lower() == "groups"), "groups")
        assert {k: v for k, v in new.items() if k != groups_key} == {
            k: v for k, v in old.items() if k != groups_key
        }
        assert new[groups_key][: len(old.get(groups_key) or [])] == (old.get(groups_key) or [])
    assert all(is_complete(e) for e in live_entries(merge.data))


@PROPERTY
@given(configmaps())
def test_changed_exactly_when_an_entry_for_the_role_is_missing_or_incomplete(
    data: dict[str, str],
) -> None:
    assume(not refused(data))
    entries = live_entries(data)
    merge = merge_node_role(data, ROLE)
    complete = bool(entries) and all(is_complete(e) for e in entries)
    assert merge.changed is not complete
    assert node_role_authorized(data, ROLE) is complete
    if complete:
        assert merge.data == data  # nothing to write: not even a re-rendered mapRoles


@PROPERTY
@given(configmaps())
def test_no_duplicates_are_created(data: dict[str, str]) -> None:
    assume(not refused(data))
    before = len(live_entries(data))
    assert len(live_entries(merge_node_role(data, ROLE).data)) == max(1, before)


@PROPERTY
@given(configmaps())
def test_merge_is_idempotent_and_reports_no_change(data: dict[str, str]) -> None:
    assume(not refused(data))
    once = merge_node_role(data, ROLE)
    twice = merge_node_role(once.data, ROLE)
    assert not twice.changed
    assert twice.data == once.data
    assert node_role_authorized(once.data, ROLE)
    assert once.changed == (once.data != data)


@PROPERTY
@given(configmaps())
def test_linux_warning_exactly_when_an_existing_entry_lacked_the_windows_group(
    data: dict[str, str],
) -> None:
    assume(not refused(data))
    linux = any(
        KUBE_PROXY_WINDOWS_GROUP not in (field(e, "groups") or []) for e in live_entries(data)
    )
    assert (
        AwsAuthWarningKind.ROLE_SHARED_WITH_LINUX in kinds(merge_node_role(data, ROLE))
    ) == linux


# Text as people type it: well-formed items (the role's own, complete or not, among them), the
# odd broken one, or any text at all; so that text which parses, and text which already maps the
# role, is common rather than a lucky accident.
BROKEN_ITEMS = ["- {rolearn: x\n", "  1: x\n", "rolearn: x\n", "- [a]\n", "\t- x\n", "- true\n"]
ROLE_ITEMS = [
    f"- rolearn: {ROLE_TEXT}\n  username: {NODE_USERNAME}\n"
    "  groups: [system:bootstrappers, system:nodes, eks:kube-proxy-windows]\n",
    f"- RoleARN: arn:aws:iam::111122223333:role/WINNODEROLE\n  UserName: {NODE_USERNAME}\n"
    "  groups:\n    - eks:kube-proxy-windows\n    - system:nodes\n    - system:bootstrappers\n",
    f"- rolearn: {ROLE_TEXT}\n  username: {NODE_USERNAME}\n  groups:\n    - system:nodes\n",
    "- rolearn: arn:aws:iam::111122223333:role/a/WinNodeRole\n  groups: [system:masters]\n",
    f"- rolearn: {LINUX_ROLE}\n  username: x\n",
    "- {}\n",
    "# comment\n",
]
USER_ITEMS = ["- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n"]
ACCOUNT_ITEMS = ["- '111122223333'\n", "- 444455556666\n"]


@st.composite
def yaml_texts(draw: st.DrawFn, items: list[str]) -> str:
    kind = draw(st.sampled_from(["items"] * 6 + ["broken", "text"]))
    if kind == "text":
        return draw(st.text(max_size=40))
    chosen = draw(st.lists(st.sampled_from(items), max_size=4))
    if kind == "broken":
        chosen.insert(draw(st.integers(0, len(chosen))), draw(st.sampled_from(BROKEN_ITEMS)))
    return "".join(chosen)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "mapRoles": yaml_texts(ROLE_ITEMS),
            "mapUsers": yaml_texts(USER_ITEMS),
            "mapAccounts": yaml_texts(ACCOUNT_ITEMS),
            "other": st.text(max_size=40),
        },
    )
)
def test_any_text_merges_into_a_complete_entry_or_is_refused_naming_the_key(
    data: dict[str, str],
) -> None:
    try:
        merge = merge_node_role(data, ROLE)
    except MalformedAwsAuthError as error:
        assert error.key.split("[")[0] in data  # refused for a key that is there
        try:
            parse_aws_auth(data)
        except MalformedAwsAuthError:
            return  # unreadable
        assert refused(data)  # readable: refused only for the role mapped to another identity
        return
    entries = live_entries(merge.data)
    assert entries and all(is_complete(e) for e in entries)
    assert {k: v for k, v in merge.data.items() if k != "mapRoles"} == {
        k: v for k, v in data.items() if k != "mapRoles"
    }
    assert len(entries) == max(1, len(live_entries(data)))


@PROPERTY
@given(map_roles_texts(block=True))
def test_a_new_entry_leaves_a_block_list_as_written(map_roles: str) -> None:
    before = parse_aws_auth({"mapRoles": map_roles})
    if before.role_entries(ROLE):
        return  # an entry that changes is rewritten with the list; covered above
    merged = merge_node_role({"mapRoles": map_roles}, ROLE).data["mapRoles"]
    assert merged.startswith(map_roles)
    assert list(parse_aws_auth({"mapRoles": merged}).map_roles)[:-1] == list(before.map_roles)


def test_a_foreign_entry_that_would_not_survive_rewriting_is_never_changed() -> None:
    # NEL in a foreign value does not round-trip through safe_dump; our role's entry needs a
    # group added, so the whole list would be rewritten: refused (safety rule 1), not changed.
    map_roles = (
        '- rolearn: arn:aws:iam::111122223333:role/Other\n  username: "a\\Nb"\n'
        f"- rolearn: {ROLE_TEXT}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
        "  groups: [system:nodes]\n"
    )
    with pytest.raises(MalformedAwsAuthError):
        merge_node_role({"mapRoles": map_roles}, ROLE)
