"""Authorize the Windows node role in the `kube-system/aws-auth` ConfigMap, safely.

Input and output are the ConfigMap's `data` (key → YAML text). The merge either returns a complete
new `data` in which every entry that was there before is still there, or raises
`MalformedAwsAuthError`; it never returns a partial result (DESIGN safety rule 1). A new entry is
appended to `mapRoles` as written (comments kept) whenever that reads back exactly.

Entry format: https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html
Windows groups: https://docs.aws.amazon.com/eks/latest/userguide/windows-support.html"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
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

type Entry = dict[str, Any]


class MalformedAwsAuthError(WinNodesError):
    """aws-auth cannot be read safely; writing it could drop someone's access. Refuse and alarm."""

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
    UNEXPECTED_USERNAME = "unexpected-username"


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
        """Indexes of the mapRoles entries for `role` (path and name case ignored)."""
        return [i for i, entry in enumerate(self.map_roles) if _is_role(entry, role)]


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
    entry is appended. Only `mapRoles` is rewritten, and only when its content changes."""
    original = {} if data is None else dict(data)
    document = parse_aws_auth(original)
    roles = [copy.deepcopy(entry) for entry in document.map_roles]
    matches = document.role_entries(role)
    warnings: list[AwsAuthWarning] = []

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
        groups: list[Any] = list(entry.get("groups") or [])
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
            entry["groups"] = groups + missing
        canonical = str(RoleArn.parse(entry["rolearn"]))  # keeps the entry's own name case
        if canonical != entry["rolearn"]:
            warnings.append(
                AwsAuthWarning(
                    AwsAuthWarningKind.ROLE_ARN_HAD_PATH,
                    f"rolearn {entry['rolearn']} never matches (paths are not allowed); "
                    f"rewritten as {canonical}",
                )
            )
            entry["rolearn"] = canonical
        if entry.get("username") != NODE_USERNAME:
            warnings.append(
                AwsAuthWarning(
                    AwsAuthWarningKind.UNEXPECTED_USERNAME,
                    f"username for {role} is {entry.get('username')!r}, "
                    f"Windows nodes expect {NODE_USERNAME!r}; left as is",
                )
            )

    if roles == list(document.map_roles):
        return AwsAuthMerge(original, changed=False, warnings=tuple(warnings))
    # Only an entry added: append it to the text as written, so the operator's comments and
    # layout stay. An entry that changed means re-rendering the whole list.
    rendered = _with_entry_appended(original.get(MAP_ROLES), roles) if not matches else None
    if rendered is None:
        rendered = _dump_entries(roles)
    return AwsAuthMerge(original | {MAP_ROLES: rendered}, changed=True, warnings=tuple(warnings))


def _is_role(entry: Entry, role: RoleArn) -> bool:
    try:
        return RoleArn.parse(entry["rolearn"]).same_role(role)
    except InvalidInputError:
        return False  # not a role ARN at all: someone else's odd entry, left alone


def _yaml_list(data: Mapping[str, str], key: str) -> list[Any]:
    text = data.get(key)
    if text is None or not text.strip():
        return []
    yaml = _yaml()
    try:
        loaded = yaml.safe_load(text)
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
    arn = item.get(arn_key)
    if not isinstance(arn, str) or not arn.strip():
        raise MalformedAwsAuthError(where, f"needs {arn_key} as text")
    if "username" in item and not isinstance(item["username"], str):
        raise MalformedAwsAuthError(where, "username must be text")
    groups = item.get("groups")
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
        loaded = yaml.safe_load(appended)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    return appended if loaded == list(entries) else None


def _dump_entries(entries: Sequence[Entry]) -> str:
    yaml = _yaml()
    rendered: str = yaml.safe_dump(
        list(entries), default_flow_style=False, sort_keys=False, allow_unicode=True
    )
    # Never write what we could not read back identically.
    if yaml.safe_load(rendered) != list(entries):
        raise MalformedAwsAuthError(MAP_ROLES, "cannot be rewritten without changing an entry")
    return rendered


def _yaml() -> ModuleType:
    # Imported on first use: clusters on access entries never read aws-auth, and importing
    # PyYAML costs ~15 ms of every cold start.
    import yaml  # noqa: PLC0415

    return yaml
