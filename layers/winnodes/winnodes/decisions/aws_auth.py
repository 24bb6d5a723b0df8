"""Authorize the Windows node role in the `kube-system/aws-auth` ConfigMap, safely.

Input and output are the ConfigMap's `data` (key → YAML text). The merge either returns a complete
new `data` in which every entry that was there before is still there, or raises
`MalformedAwsAuthError`; it never returns a partial result (DESIGN safety rule 1). A new entry is
appended to `mapRoles` as written (comments kept) whenever that reads back exactly.

The document is read as EKS's authenticator reads it (aws-iam-authenticator,
pkg/mapper/configmap): a key's value that is blank, `""` or two backticks is empty; entry keys
are matched without regard to case (Go's encoding/json); an entry maps the caller whose
path-less role ARN equals its `rolearn` without regard to case, so an entry whose `rolearn` has
a path maps nobody, and is left so.

Entry format: https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html
Windows groups: https://docs.aws.amazon.com/eks/latest/userguide/windows-support.html"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import ModuleType
from typing import Any, Final

from winnodes.errors import InvalidInputError, WinNodesError
from winnodes.models.identifiers import RoleArn

MAP_ROLES: Final = "mapRoles"
MAP_USERS: Final = "mapUsers"
MAP_ACCOUNTS: Final = "mapAccounts"
NODE_USERNAME: Final = "system:node:{{EC2PrivateDNSName}}"
KUBE_PROXY_WINDOWS_GROUP: Final = "eks:kube-proxy-windows"
WINDOWS_NODE_GROUPS: Final = ("system:bootstrappers", "system:nodes", KUBE_PROXY_WINDOWS_GROUP)
NODE_USERNAME_PREFIX: Final = "system:node:"  # what the Node authorizer takes for a node
# Values the authenticator skips as empty (configmap.go isSkippable), once blanks are trimmed.
_SKIPPABLE: Final = frozenset({"", "``", '""'})
# The entry fields the authenticator reads (RoleMapping, UserMapping).
_FIELDS: Final = frozenset({"rolearn", "userarn", "username", "groups"})

type Entry = dict[str, Any]


class MalformedAwsAuthError(WinNodesError):
    """aws-auth cannot be read or merged safely: writing it could drop someone's access, or give
    an identity rights it did not have. Refuse and alarm."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"aws-auth {key}: {reason}")
        self.key = key
        self.reason = reason


class AwsAuthWarningKind(StrEnum):
    # terraform-aws-eks#1456: a role mapped for Linux nodes, reused for Windows nodes, breaks
    # kube-proxy on Windows until the entry carries eks:kube-proxy-windows.
    ROLE_SHARED_WITH_LINUX = "role-shared-with-linux"
    DUPLICATE_ROLE_ENTRIES = "duplicate-role-entries"
    ROLE_ARN_HAD_PATH = "role-arn-had-path"


@dataclass(frozen=True, slots=True)
class AwsAuthWarning:
    kind: AwsAuthWarningKind
    message: str


@dataclass(frozen=True, slots=True)
class AwsAuthDocument:
    """Parsed `data`. Entries are plain dicts as YAML gave them (all keys kept)."""

    map_roles: tuple[Entry, ...]
    map_users: tuple[Entry, ...]
    map_accounts: tuple[str | int, ...]

    def role_entries(self, role: RoleArn) -> list[int]:
        """Indexes of the mapRoles entries that map `role`, as the authenticator matches them."""
        return [i for i, entry in enumerate(self.map_roles) if _maps_role(entry, role)]

    def dead_role_entries(self, role: RoleArn) -> list[int]:
        """Indexes of the entries meant for `role` that map nobody: their `rolearn` has a path."""
        return [i for i, entry in enumerate(self.map_roles) if _names_role_with_path(entry, role)]


@dataclass(frozen=True, slots=True)
class AwsAuthMerge:
    data: dict[str, str]
    changed: bool  # False: the caller must not write
    warnings: tuple[AwsAuthWarning, ...]


def parse_aws_auth(data: Mapping[str, str] | None) -> AwsAuthDocument:
    """Parse and validate every key we understand; unknown keys are only checked to be text."""
    data = {} if data is None else data
    for key, value in data.items():
        if not isinstance(value, str):
            raise MalformedAwsAuthError(str(key), f"value is {type(value).__name__}, not text")
    return AwsAuthDocument(
        map_roles=tuple(
            _entry(MAP_ROLES, i, item, "rolearn")
            for i, item in enumerate(_yaml_list(data, MAP_ROLES))
        ),
        map_users=tuple(
            _entry(MAP_USERS, i, item, "userarn")
            for i, item in enumerate(_yaml_list(data, MAP_USERS))
        ),
        map_accounts=tuple(
            _account(i, item) for i, item in enumerate(_yaml_list(data, MAP_ACCOUNTS))
        ),
    )


def node_role_authorized(data: Mapping[str, str] | None, role: RoleArn) -> bool:
    """True when merging would change nothing: the role is mapped with all Windows node groups."""
    return not merge_node_role(data, role).changed


def merge_node_role(data: Mapping[str, str] | None, role: RoleArn) -> AwsAuthMerge:
    """Ensure one mapRoles entry authorizes `role` as a Windows node.

    An existing entry for the role gains the missing groups (its other fields kept); otherwise one
    entry is appended. Only `mapRoles` is rewritten, and only when its content changes. An entry
    that maps the role to an identity that is not a node is refused: node groups added to it
    would give that identity rights it did not have. So is one that maps it to another node
    username than NODE_USERNAME: no Windows node could register under it."""
    original = {} if data is None else dict(data)
    document = parse_aws_auth(original)
    roles = [copy.deepcopy(entry) for entry in document.map_roles]
    matches = document.role_entries(role)
    warnings: list[AwsAuthWarning] = []

    for index in document.dead_role_entries(role):
        warnings.append(
            AwsAuthWarning(
                AwsAuthWarningKind.ROLE_ARN_HAD_PATH,
                f"mapRoles[{index}] rolearn {_field(roles[index], 'rolearn')} has a path, so it "
                "maps nobody (the authenticator compares path-less ARNs); left as is",
            )
        )
    if not matches:
        roles.append(
            {"rolearn": str(role), "username": NODE_USERNAME, "groups": list(WINDOWS_NODE_GROUPS)}
        )
    if len(matches) > 1:
        warnings.append(
            AwsAuthWarning(
                AwsAuthWarningKind.DUPLICATE_ROLE_ENTRIES,
                f"{len(matches)} mapRoles entries for {role}; each is completed, none removed",
            )
        )
    linux_warned = False
    for index in matches:
        entry = roles[index]
        username = _field(entry, "username")
        if not (isinstance(username, str) and username.startswith(NODE_USERNAME_PREFIX)):
            raise MalformedAwsAuthError(
                f"{MAP_ROLES}[{index}]",
                f"maps {role} to username {username!r}, not to a node ({NODE_USERNAME}); "
                "the node groups are not added to another identity: map the role as a node, "
                "or give the Windows nodes a role of their own",
            )
        if username != NODE_USERNAME:
            # A Windows node registers under its private DNS name, and the Node authorizer
            # lets system:node:<name> write only the Node <name>: under any other username
            # it never registers, and the join would wait for its deadline in vain.
            raise MalformedAwsAuthError(
                f"{MAP_ROLES}[{index}]",
                f"maps {role} to username {username!r}; a Windows node can register only as "
                f"{NODE_USERNAME}: change the username, or give the Windows nodes a role of "
                "their own",
            )
        groups_key = _spelling(entry, "groups")
        groups: list[Any] = list(entry.get(groups_key) or [])
        if KUBE_PROXY_WINDOWS_GROUP not in groups and not linux_warned:
            linux_warned = True
            warnings.append(
                AwsAuthWarning(
                    AwsAuthWarningKind.ROLE_SHARED_WITH_LINUX,
                    f"{role} was mapped without {KUBE_PROXY_WINDOWS_GROUP}, likely for Linux "
                    "nodes; use a separate role for Windows nodes (terraform-aws-eks#1456)",
                )
            )
        missing = [group for group in WINDOWS_NODE_GROUPS if group not in groups]
        if missing:
            entry[groups_key] = groups + missing

    if roles == list(document.map_roles):
        return AwsAuthMerge(original, changed=False, warnings=tuple(warnings))
    # Only an entry added: append it to the text as written, so the operator's comments and
    # layout stay. An entry that changed means re-rendering the whole list.
    rendered = _with_entry_appended(original.get(MAP_ROLES), roles) if not matches else None
    if rendered is None:
        rendered = _dump_entries(roles)
    return AwsAuthMerge(original | {MAP_ROLES: rendered}, changed=True, warnings=tuple(warnings))


def _maps_role(entry: Entry, role: RoleArn) -> bool:
    # The authenticator keys its role map by the lowercased rolearn and looks the caller up by
    # its lowercased path-less ARN.
    arn = _field(entry, "rolearn")
    return isinstance(arn, str) and arn.lower() == str(role).lower()


def _names_role_with_path(entry: Entry, role: RoleArn) -> bool:
    arn = _field(entry, "rolearn")
    if not isinstance(arn, str):
        return False
    try:
        named = RoleArn.parse(arn.lower())
    except InvalidInputError:
        return False  # not a role ARN at all: someone else's odd entry, left alone
    return named.path != "/" and named.same_role(role)


def _spelling(entry: Entry, name: str) -> str:
    """The key `entry` spells field `name` with (parse_aws_auth let through only one), or `name`."""
    return next((key for key in entry if key.lower() == name), name)


def _field(entry: Entry, name: str) -> Any:
    return entry.get(_spelling(entry, name))


def _yaml_list(data: Mapping[str, str], key: str) -> list[Any]:
    text = data.get(key)
    if text is None or text.strip() in _SKIPPABLE:
        return []
    yaml = _yaml()
    try:
        loaded = _load(text)
    except _AliasFound:
        raise MalformedAwsAuthError(key, "uses a YAML alias (*name), which is refused") from None
    # ValueError: PyYAML builds dates and numbers eagerly (`2001-02-30` raises it).
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise MalformedAwsAuthError(key, f"not valid YAML ({type(exc).__name__})") from None
    if loaded is None:
        return []
    if not isinstance(loaded, list):
        raise MalformedAwsAuthError(key, f"must be a YAML list, got {type(loaded).__name__}")
    return loaded


def _entry(key: str, index: int, item: Any, arn_key: str) -> Entry:
    where = f"{key}[{index}]"
    if not isinstance(item, dict):
        raise MalformedAwsAuthError(where, f"must be a mapping, got {type(item).__name__}")
    if not all(isinstance(k, str) for k in item):
        raise MalformedAwsAuthError(where, "has a key that is not text")
    spelled: dict[str, str] = {}
    for name in item:
        if (field_name := name.lower()) in _FIELDS:
            if field_name in spelled:
                # The authenticator would read one of them and silently drop the other.
                raise MalformedAwsAuthError(where, f"has both {spelled[field_name]} and {name}")
            spelled[field_name] = name
    # An entry without an ARN maps nobody, for the authenticator too (`- {}` is common): kept.
    arn = _field(item, arn_key)
    if arn is not None and not isinstance(arn, str):
        raise MalformedAwsAuthError(where, f"{arn_key} must be text")
    username = _field(item, "username")
    if username is not None and not isinstance(username, str):
        raise MalformedAwsAuthError(where, "username must be text")
    groups = _field(item, "groups")
    if groups is not None and not (
        isinstance(groups, list) and all(isinstance(g, str) for g in groups)
    ):
        raise MalformedAwsAuthError(where, "groups must be a list of text")
    return item


def _account(index: int, item: Any) -> str | int:
    # An unquoted account id is a YAML integer; both spellings are in use.
    if isinstance(item, bool) or not isinstance(item, str | int):
        raise MalformedAwsAuthError(f"{MAP_ACCOUNTS}[{index}]", "must be an account id")
    return item


def _with_entry_appended(text: str | None, entries: Sequence[Entry]) -> str | None:
    """`text` with the last of `entries` appended as a block-style item; None unless that reads
    back as exactly `entries` (a flow-style list, an indented one or a document marker do not)."""
    if not text or not text.strip():
        return None
    appended = text + ("" if text.endswith("\n") else "\n") + _dump_entries(entries[-1:])
    yaml = _yaml()
    try:
        loaded = _load(appended)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    return appended if loaded == list(entries) else None


def _dump_entries(entries: Sequence[Entry]) -> str:
    yaml = _yaml()
    rendered: str = yaml.dump(
        list(entries),
        Dumper=_go_dumper(),
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
    )
    # Never write what we could not read back identically.
    if _load(rendered) != list(entries):
        raise MalformedAwsAuthError(MAP_ROLES, "cannot be rewritten without changing an entry")
    return rendered


def _load(text: str) -> Any:
    """YAML without aliases. An alias is a reference, and a few hundred bytes of nested ones
    expand to billions of items that every comparison of the merge would walk; go-yaml v2
    refuses such a document ("excessive aliasing") and aws-auth has no use for them.

    libyaml (PyYAML's C parser) reads where it is built in: go-yaml v2 is a port of it, and it
    reads a large aws-auth about seven times faster than PyYAML's own parser, which the
    reconciler would otherwise pay for every cluster on every pass."""
    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_aliases(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _AliasFound(Exception):
    pass


def _refuse_aliases(root: Any) -> None:
    """An alias composes to the node its anchor named, so a node met twice is one. Each node is
    visited once, so a document of nested aliases costs no more than its text."""
    yaml = _yaml()
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            raise _AliasFound
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                pending.extend((key, value))


@cache
def _loader() -> type:
    yaml = _yaml()
    loader: type = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    return loader


@cache
def _go_dumper() -> type:
    """A SafeDumper that quotes every string the authenticator's reader (go-yaml v2, YAML 1.1)
    would take for something else, where PyYAML writes it bare: the booleans y, Y, n and N, and
    numbers as Go spells them (`1e5`, `0o17`, `0X1F`, `08`: go-yaml tries strconv.ParseInt with
    base 0, then a float, on any scalar that starts like a number). Quoting more than needed is
    harmless: a quoted scalar is a string to every reader. Never writes aliases."""
    yaml = _yaml()

    class GoSafeDumper(yaml.SafeDumper):  # type: ignore[name-defined,misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    GoSafeDumper.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN")
    )
    # Every string that starts as a number may: go-yaml drops `_` anywhere first (`-_0` is 0).
    GoSafeDumper.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(r"^[-+.0-9]"), list("-+.0123456789")
    )
    return GoSafeDumper


def _yaml() -> ModuleType:
    # Imported on first use: clusters on access entries never read aws-auth, and importing
    # PyYAML costs ~15 ms of every cold start.
    import yaml  # noqa: PLC0415

    return yaml
