"""How an IAM caller becomes a Kubernetes user (localcloud/kube/mapping.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from localcloud.kube.mapping import (
    AccessEntry,
    AccessEntryType,
    AuthenticationMode,
    AwsAuthEntry,
    CallerIdentity,
    KubernetesUser,
    MappingError,
    canonical_principal_arn,
    parse_aws_auth,
    parse_aws_auth_leniently,
    parse_caller_arn,
    resolve_user,
)

ACCOUNT = "123456789012"
NODE = parse_caller_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/WinNodeRole/i-0abc1234def567890")
DNS = {"i-0abc1234def567890": "ip-10-0-1-23.ec2.internal"}
NODE_MAPPING = {
    "rolearn": f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole",
    "username": "system:node:{{EC2PrivateDNSName}}",
    "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"],
}


def _resolve(
    caller: CallerIdentity,
    *,
    map_roles: Sequence[dict[str, Any]] = (),
    map_users: Sequence[dict[str, Any]] = (),
    entries: Sequence[AccessEntry] = (),
    mode: AuthenticationMode = AuthenticationMode.API_AND_CONFIG_MAP,
    accounts: Sequence[int | str] = (),
) -> KubernetesUser | None:
    data = {
        "mapRoles": yaml.safe_dump(list(map_roles)),
        "mapUsers": yaml.safe_dump(list(map_users)),
        "mapAccounts": yaml.safe_dump(list(accounts)),
    }
    return resolve_user(
        caller,
        mode=mode,
        access_entries=entries,
        aws_auth=parse_aws_auth(data),
        private_dns_name=DNS.get,
    )


def test_an_assumed_role_is_compared_as_its_role() -> None:
    assert NODE.role_arn == f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole"
    assert NODE.session_name == "i-0abc1234def567890"
    assert NODE.account_id == ACCOUNT


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn",
        "arn:aws:sts::12345:assumed-role/r/s",
        "arn:aws:sts::123456789012:assumed-role/r",
        "arn:aws:s3:::bucket",
        "not:an:arn:at:all:really",
        "arn:aws:iam::123456789012:group/g",
    ],
)
def test_callers_that_are_not_iam_principals_are_refused(arn: str) -> None:
    with pytest.raises(MappingError):
        parse_caller_arn(arn)


def test_the_windows_node_mapping_renders_the_private_dns_name() -> None:
    user = _resolve(NODE, map_roles=[NODE_MAPPING])

    assert user is not None
    assert user.username == "system:node:ip-10-0-1-23.ec2.internal"
    assert user.groups == ("system:bootstrappers", "system:nodes", "eks:kube-proxy-windows")
    assert user.extra["arn"] == (NODE.arn,)


def test_a_rolearn_with_a_path_never_matches_but_case_does_not_matter() -> None:
    # The caller's assumed-role ARN carries no path, so aws-iam-authenticator compares
    # .../role/WinNodeRole with the entry as written (lower-cased on both sides).
    with_path = NODE_MAPPING | {"rolearn": f"arn:aws:iam::{ACCOUNT}:role/nodes/windows/WinNodeRole"}
    other_case = NODE_MAPPING | {"rolearn": f"arn:aws:iam::{ACCOUNT}:role/winnoderole"}

    assert _resolve(NODE, map_roles=[with_path]) is None
    assert _resolve(NODE, map_roles=[other_case]) is not None


@pytest.mark.parametrize(
    "keys", [("roleARN", "userName", "Groups"), ("rOlEaRn", "UsErNaMe", "gRoUpS")]
)
def test_entry_keys_are_read_in_any_letter_case(keys: tuple[str, str, str]) -> None:
    # aws-iam-authenticator reads mapRoles through Go's encoding/json, which matches field
    # names case-insensitively (pkg/mapper/configmap yaml_test.go, "crazy case keys").
    spelled = dict(zip(keys, NODE_MAPPING.values(), strict=True))
    user = _resolve(NODE, map_roles=[spelled])
    assert user is not None
    assert user.username == "system:node:ip-10-0-1-23.ec2.internal"
    assert user.groups == ("system:bootstrappers", "system:nodes", "eks:kube-proxy-windows")
    # Of several spellings of a key, the lower-case one wins: it sorts last in the JSON.
    both = spelled | {"username": "system:node:{{EC2PrivateDNSName}}", "userName": "someone"}
    exact = _resolve(NODE, map_roles=[both])
    assert exact is not None
    assert exact.username == user.username


def test_a_pathless_rolearn_authenticates_a_role_that_has_a_path() -> None:
    # STS names a session of role /nodes/windows/WinNodeRole .../assumed-role/WinNodeRole/<s>:
    # the entry written with the path is skipped, the one without it maps the node.
    with_path = {
        "rolearn": f"arn:aws:iam::{ACCOUNT}:role/nodes/windows/WinNodeRole",
        "username": "with-path",
        "groups": ["system:masters"],
    }

    user = _resolve(NODE, map_roles=[with_path, NODE_MAPPING], mode=AuthenticationMode.CONFIG_MAP)

    assert user is not None
    assert user.username == "system:node:ip-10-0-1-23.ec2.internal"
    assert "system:masters" not in user.groups


def test_another_role_is_not_authenticated() -> None:
    mapping = NODE_MAPPING | {"rolearn": f"arn:aws:iam::{ACCOUNT}:role/LinuxNodeRole"}
    assert _resolve(NODE, map_roles=[mapping]) is None


def test_an_unknown_instance_cannot_render_the_node_name() -> None:
    stranger = parse_caller_arn(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/WinNodeRole/i-0fffffffffffffff0"
    )
    not_an_instance = parse_caller_arn(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/WinNodeRole/alice@example.com"
    )

    assert _resolve(stranger, map_roles=[NODE_MAPPING]) is None
    assert _resolve(not_an_instance, map_roles=[NODE_MAPPING]) is None


def test_session_and_account_templates() -> None:
    caller = parse_caller_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/alice@example.com")
    mapping = {
        "rolearn": f"arn:aws:iam::{ACCOUNT}:role/Ops",
        "username": "ops:{{SessionName}}:{{AccountID}}",
        "groups": ["{{SessionNameRaw}}"],
    }

    user = _resolve(caller, map_roles=[mapping])

    assert user is not None
    assert user.username == f"ops:alice-example.com:{ACCOUNT}"
    assert user.groups == ("alice@example.com",)


def test_users_and_accounts() -> None:
    alice = parse_caller_arn(f"arn:aws:iam::{ACCOUNT}:user/alice")
    mapped = _resolve(
        alice, map_users=[{"userarn": alice.arn, "username": "alice", "groups": ["system:masters"]}]
    )
    by_account = _resolve(alice, accounts=[int(ACCOUNT)])

    assert mapped is not None and mapped.groups == ("system:masters",)
    assert by_account is not None and by_account.username == alice.arn
    # A role mapping never matches a user of the same name.
    assert (
        _resolve(
            alice, map_roles=[NODE_MAPPING | {"rolearn": f"arn:aws:iam::{ACCOUNT}:role/alice"}]
        )
        is None
    )


def test_an_ec2_windows_access_entry_makes_a_windows_node() -> None:
    entry = AccessEntry(
        principal_arn=f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole", type=AccessEntryType.EC2_WINDOWS
    )

    user = _resolve(NODE, entries=[entry])

    assert user is not None
    assert user.username == "system:node:ip-10-0-1-23.ec2.internal"
    assert set(user.groups) == {"system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"}


def test_access_entries_win_over_aws_auth_and_modes_select_the_sources() -> None:
    entry = AccessEntry(
        principal_arn=f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole",
        type=AccessEntryType.STANDARD,
        kubernetes_groups=("viewers",),
    )
    both = _resolve(NODE, map_roles=[NODE_MAPPING], entries=[entry])
    config_map = _resolve(
        NODE, map_roles=[NODE_MAPPING], entries=[entry], mode=AuthenticationMode.CONFIG_MAP
    )
    api_only = _resolve(NODE, map_roles=[NODE_MAPPING], mode=AuthenticationMode.API)

    assert both is not None and both.groups == ("viewers",)
    assert both.username == f"arn:aws:sts::{ACCOUNT}:assumed-role/WinNodeRole/i-0abc1234def567890"
    assert config_map is not None and config_map.groups == tuple(NODE_MAPPING["groups"])
    assert api_only is None


@pytest.mark.parametrize(
    "data",
    [
        {"mapRoles": "- rolearn: [unclosed"},
        {"mapRoles": "rolearn: not-a-list"},
        {"mapRoles": "- username: x"},
        {"mapRoles": "- rolearn: arn:aws:iam::123456789012:role/r"},
        {"mapRoles": "- rolearn: not-an-arn\n  username: x"},
        {"mapRoles": "- rolearn: arn:aws:iam::123456789012:role/r\n  username: x\n  groups: g"},
        {"mapUsers": "- 1"},
        {"mapAccounts": "- {a: b}"},
    ],
)
def test_malformed_aws_auth_is_refused(data: dict[str, str]) -> None:
    with pytest.raises(MappingError):
        parse_aws_auth(data)


# aws-auth entries as people write them, each with at most one field spoiled, and the entry it
# must read as (None: the document is refused).
_ARNS = st.sampled_from(
    [
        f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole",
        f"arn:aws:iam::{ACCOUNT}:role/a/b/WinNodeRole",  # kept as written
        f"arn:aws:iam::{ACCOUNT}:user/alice",
    ]
)
_BAD_ARNS = st.sampled_from(["not-an-arn", f"arn:aws:iam::{ACCOUNT}", "", 12])
_USERNAMES = st.sampled_from(["system:node:{{EC2PrivateDNSName}}", "alice"])
_BAD_USERNAMES = st.sampled_from(["", ["a"], None])
_GROUPS = st.sampled_from([["system:bootstrappers", "system:nodes"], [], None])  # None: `groups:`
_BAD_GROUPS = st.sampled_from(["system:nodes", [1]])


@st.composite
def _aws_auth_items(
    draw: st.DrawFn, arn_key: str, kind: str
) -> tuple[dict[str, Any], AwsAuthEntry | None]:
    spoiled = draw(st.sampled_from([None] * 6 + ["arn", "arn", "username", "groups", "missing"]))
    item: dict[str, Any] = draw(
        st.dictionaries(st.sampled_from(["note", "x"]), st.text(max_size=5))
    )
    item[arn_key] = draw(_BAD_ARNS if spoiled == "arn" else _ARNS)
    item["username"] = draw(_BAD_USERNAMES if spoiled == "username" else _USERNAMES)
    if spoiled == "groups" or draw(st.booleans()):
        item["groups"] = draw(_BAD_GROUPS if spoiled == "groups" else _GROUPS)
    if spoiled == "missing":
        del item[draw(st.sampled_from([arn_key, "username"]))]
    if spoiled is not None:
        return item, None
    groups = tuple(item.get("groups") or ())
    return item, AwsAuthEntry(item[arn_key], item["username"], groups, kind)


_ACCOUNT_IDS = st.sampled_from([(ACCOUNT, True), (int(ACCOUNT), True)] * 2 + [(True, False)])


@st.composite
def _aws_auth_documents(
    draw: st.DrawFn,
) -> tuple[dict[str, str], list[AwsAuthEntry] | None]:
    data: dict[str, str] = {}
    expected: list[AwsAuthEntry] = []
    refused = False
    for key, arn_key, kind in (("mapRoles", "rolearn", "role"), ("mapUsers", "userarn", "user")):
        if draw(st.booleans()):
            items = draw(st.lists(_aws_auth_items(arn_key, kind), max_size=3))
            data[key] = yaml.safe_dump([item for item, _ in items])
            refused = refused or any(entry is None for _, entry in items)
            expected += [entry for _, entry in items if entry is not None]
    if draw(st.booleans()):
        accounts = draw(st.lists(_ACCOUNT_IDS, max_size=2))
        data["mapAccounts"] = yaml.safe_dump([account for account, _ in accounts])
        refused = refused or not all(ok for _, ok in accounts)
        expected += [
            AwsAuthEntry(arn=str(account), username="", groups=(), kind="account")
            for account, _ in accounts
        ]
    if draw(st.booleans()):
        data["other"] = draw(st.text(max_size=20))  # not ours: never read
    return data, None if refused else expected


@given(_aws_auth_documents())
@example(({"mapRoles": "- rolearn: not-an-arn\n  username: x\n"}, None))
@example(({"mapUsers": f"- userarn: arn:aws:iam::{ACCOUNT}:user/a\n  username: ''\n"}, None))
@example(({"mapAccounts": "- true\n"}, None))
@example(
    (
        {"mapRoles": f"- rolearn: arn:aws:iam::{ACCOUNT}:role/r\n  username: u\n  groups:\n"},
        [AwsAuthEntry(f"arn:aws:iam::{ACCOUNT}:role/r", "u", (), "role")],
    )
)
def test_aws_auth_reads_as_every_entry_in_order_or_is_refused(
    case: tuple[dict[str, str], list[AwsAuthEntry] | None],
) -> None:
    data, expected = case
    if expected is None:
        with pytest.raises(MappingError):
            parse_aws_auth(data)
    else:
        assert parse_aws_auth(data) == expected


@given(
    _aws_auth_documents().map(lambda case: case[0])
    | st.dictionaries(
        st.sampled_from(["mapRoles", "mapUsers", "mapAccounts", "other"]), st.text(max_size=200)
    )
)
def test_aws_auth_is_refused_exactly_when_the_authenticator_would_drop_something(
    data: dict[str, str],
) -> None:
    kept, errors = parse_aws_auth_leniently(data)
    try:
        entries = parse_aws_auth(data)
    except MappingError:
        assert errors
    else:
        assert (entries, errors) == (kept, [])


_mapping_entries = st.fixed_dictionaries(
    {
        "rolearn": st.builds(
            lambda path, name: f"arn:aws:iam::{ACCOUNT}:role/{path}{name}",
            st.sampled_from(["", "a/", "a/b/"]),
            st.from_regex(r"\A[A-Za-z0-9+=,.@_-]{1,64}\Z"),
        ),
        "username": st.from_regex(r"\A[a-z:]{1,20}\Z"),
        "groups": st.lists(st.from_regex(r"\A[a-z:-]{1,20}\Z"), max_size=3),
    }
)


@given(st.lists(_mapping_entries, max_size=5))
def test_well_formed_aws_auth_round_trips_through_yaml(entries: list[dict[str, Any]]) -> None:
    parsed = parse_aws_auth({"mapRoles": yaml.safe_dump(entries)})

    assert [(e.arn, e.username, list(e.groups)) for e in parsed] == [
        (e["rolearn"], e["username"], e["groups"]) for e in entries
    ]


@given(st.from_regex(r"\Aarn:aws:iam::[0-9]{12}:(role|user)/([A-Za-z0-9_]+/){0,3}[A-Za-z0-9_]+\Z"))
def test_canonical_arns_are_stable_and_pathless(arn: str) -> None:
    canonical = canonical_principal_arn(arn)

    assert canonical_principal_arn(canonical) == canonical
    assert canonical.count("/") == 1
    assert canonical == canonical.lower()


def test_aws_auth_entries_that_do_not_parse_are_skipped_and_the_rest_still_map() -> None:
    from localcloud.kube.mapping import parse_aws_auth_leniently

    data = {
        "mapRoles": (
            "- rolearn: arn:aws:iam::111122223333:role/good\n  username: good\n"
            "- username: orphan\n  groups: [x]\n"
        ),
        "mapUsers": "- userarn: [unclosed\n",
        "mapAccounts": "- '444455556666'\n",
    }
    entries, errors = parse_aws_auth_leniently(data)
    assert [(e.kind, e.arn) for e in entries] == [
        ("role", "arn:aws:iam::111122223333:role/good"),
        ("account", "444455556666"),
    ]
    assert len(errors) == 2
    with pytest.raises(MappingError):
        parse_aws_auth(data)
