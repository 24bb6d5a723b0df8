"""How EKS turns an IAM caller into a Kubernetes user. Pure: no I/O.

Two sources, as in EKS: access entries (consulted first, unless the cluster is in
``CONFIG_MAP`` mode) and the ``kube-system/aws-auth`` ConfigMap (``mapRoles``, ``mapUsers``,
``mapAccounts``; ignored in ``API`` mode). For aws-auth, only the caller's ARN is canonicalized,
the way aws-iam-authenticator does: an assumed-role ARN becomes ``arn:<p>:iam::<acct>:role/<name>``
(an STS ARN carries no role path), and it is compared case-insensitively with each ``rolearn`` and
then each ``userarn`` as written, so an entry whose ARN has a path never matches a role
(https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html: "ARNs in aws-auth ConfigMap
entries can't include a path"; pkg/arn/arn.go ``Canonicalize``, pkg/config/mapper.go ``Matches``,
pkg/mapper/configmap/mapper.go ``Map`` in kubernetes-sigs/aws-iam-authenticator).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

NODE_GROUPS = ("system:bootstrappers", "system:nodes")
WINDOWS_NODE_GROUPS = (*NODE_GROUPS, "eks:kube-proxy-windows")
NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_TEMPLATE = re.compile(r"\{\{([A-Za-z0-9]+)\}\}")


class MappingError(ValueError):
    """The aws-auth document or an ARN cannot be understood."""


class AuthenticationMode(StrEnum):
    CONFIG_MAP = "CONFIG_MAP"
    API_AND_CONFIG_MAP = "API_AND_CONFIG_MAP"
    API = "API"


class AccessEntryType(StrEnum):
    STANDARD = "STANDARD"
    EC2_LINUX = "EC2_LINUX"
    EC2_WINDOWS = "EC2_WINDOWS"
    FARGATE_LINUX = "FARGATE_LINUX"


@dataclass(frozen=True)
class AccessEntry:
    """An EKS access entry: principal ARN (role or user), type, and for STANDARD its user."""

    principal_arn: str
    type: AccessEntryType = AccessEntryType.STANDARD
    username: str | None = None
    kubernetes_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallerIdentity:
    """An STS caller. For an assumed role, ``role_arn`` and ``session_name`` are set."""

    arn: str
    account_id: str
    role_arn: str | None = None
    session_name: str | None = None

    @property
    def canonical_arn(self) -> str:
        return self.role_arn or self.arn


@dataclass(frozen=True)
class KubernetesUser:
    username: str
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AwsAuthEntry:
    arn: str  # rolearn / userarn, or the account id for mapAccounts
    username: str
    groups: tuple[str, ...]
    kind: str  # "role" | "user" | "account"


def parse_caller_arn(arn: str) -> CallerIdentity:
    """Parse an STS caller ARN; ``arn:aws:sts::<acct>:assumed-role/<role>/<session>`` or IAM."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[4]:
        raise MappingError(f"not an ARN: {arn!r}")
    _, partition, service, _region, account, resource = parts
    if not account.isdigit() or len(account) != 12:
        raise MappingError(f"ARN account is not 12 digits: {arn!r}")
    if service == "sts" and resource.startswith("assumed-role/"):
        pieces = resource.split("/")
        if len(pieces) != 3 or not pieces[1] or not pieces[2]:
            raise MappingError(f"malformed assumed-role ARN: {arn!r}")
        role_arn = f"arn:{partition}:iam::{account}:role/{pieces[1]}"
        return CallerIdentity(
            arn=arn, account_id=account, role_arn=role_arn, session_name=pieces[2]
        )
    if service == "iam" and resource.startswith(("user/", "role/")):
        return CallerIdentity(arn=arn, account_id=account)
    raise MappingError(f"ARN is neither an IAM user/role nor an assumed role: {arn!r}")


def canonical_principal_arn(arn: str) -> str:
    """Lower-cased IAM ARN without path: ``arn:aws:iam::1:role/a/b/name`` → ``.../role/name``.
    The key access entries are matched on; aws-auth entries are not canonicalized."""
    parts = arn.strip().split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise MappingError(f"not an ARN: {arn!r}")
    resource = parts[5]
    kind, _, rest = resource.partition("/")
    if kind in ("role", "user") and rest:
        resource = f"{kind}/{rest.rsplit('/', 1)[-1]}"
    return ":".join([*parts[:5], resource]).lower()


def parse_aws_auth(data: Mapping[str, str]) -> list[AwsAuthEntry]:
    """Entries of an aws-auth ConfigMap's ``data``; raises ``MappingError`` when malformed."""
    entries, errors = parse_aws_auth_leniently(data)
    if errors:
        raise MappingError(errors[0])
    return entries


def parse_aws_auth_leniently(data: Mapping[str, str]) -> tuple[list[AwsAuthEntry], list[str]]:
    """What aws-iam-authenticator keeps of an aws-auth with errors: every entry that parses
    ("There was an error parsing the config maps. Only saving data that was good",
    pkg/mapper/configmap/configmap.go); a key that is not YAML contributes nothing."""
    entries: list[AwsAuthEntry] = []
    errors: list[str] = []
    for key, arn_key, kind in (("mapRoles", "rolearn", "role"), ("mapUsers", "userarn", "user")):
        try:
            items = _yaml_list(data, key)
        except MappingError as exc:
            errors.append(str(exc))
            continue
        for item in items:
            try:
                entries.append(_aws_auth_entry(item, key=key, arn_key=arn_key, kind=kind))
            except MappingError as exc:
                errors.append(str(exc))
    try:
        accounts = _yaml_list(data, "mapAccounts", items=(str, int))
    except MappingError as exc:
        errors.append(str(exc))
        accounts = []
    for account in accounts:
        if isinstance(account, bool):
            errors.append("mapAccounts holds a boolean")
            continue
        entries.append(AwsAuthEntry(arn=str(account), username="", groups=(), kind="account"))
    return entries, errors


def _aws_auth_entry(
    item: Mapping[str, object], *, key: str, arn_key: str, kind: str
) -> AwsAuthEntry:
    item = _fields(item)
    arn = item.get(arn_key)
    if not isinstance(arn, str) or not arn:
        raise MappingError(f"{key} entry without {arn_key}")
    canonical_principal_arn(arn)  # refuses what is not an ARN
    username = item.get("username")
    if not isinstance(username, str) or not username:
        raise MappingError(f"{key} entry {arn} without username")
    return AwsAuthEntry(arn=arn, username=username, groups=_groups(item, key), kind=kind)


def resolve_user(
    caller: CallerIdentity,
    *,
    mode: AuthenticationMode,
    access_entries: Iterable[AccessEntry],
    aws_auth: Sequence[AwsAuthEntry],
    private_dns_name: Callable[[str], str | None],
) -> KubernetesUser | None:
    """The Kubernetes user EKS would authenticate ``caller`` as, or None (unknown: 401)."""
    canonical = canonical_principal_arn(caller.canonical_arn)
    if mode is not AuthenticationMode.CONFIG_MAP:
        for entry in access_entries:
            if canonical_principal_arn(entry.principal_arn) == canonical:
                username, groups = _access_entry_user(entry, caller)
                return _render(caller, username, groups, private_dns_name)
    if mode is AuthenticationMode.API:
        return None
    # aws-iam-authenticator: roles first, then users, whatever the caller is; both sides
    # lower-cased, no path dropped from the entry (kubernetes-sigs/aws-iam-authenticator#268).
    subject = caller.canonical_arn.lower()
    for kind in ("role", "user"):
        for item in aws_auth:
            if item.kind == kind and item.arn.lower() == subject:
                return _render(caller, item.username, item.groups, private_dns_name)
    for item in aws_auth:
        if item.kind == "account" and item.arn == caller.account_id:
            return KubernetesUser(username=caller.canonical_arn, groups=())
    return None


def _access_entry_user(entry: AccessEntry, caller: CallerIdentity) -> tuple[str, tuple[str, ...]]:
    match entry.type:
        case AccessEntryType.EC2_WINDOWS:
            return NODE_USERNAME, WINDOWS_NODE_GROUPS
        case AccessEntryType.EC2_LINUX:
            return NODE_USERNAME, NODE_GROUPS
        case AccessEntryType.FARGATE_LINUX:
            return "system:node:{{SessionName}}", (
                "system:bootstrappers",
                "system:nodes",
                "system:node-proxier",
            )
        case _:
            default = (
                f"arn:aws:sts::{caller.account_id}:assumed-role/"
                f"{caller.role_arn.rsplit('/', 1)[-1]}/{{{{SessionName}}}}"
                if caller.role_arn
                else caller.arn
            )
            return entry.username or default, entry.kubernetes_groups


def _render(
    caller: CallerIdentity,
    username: str,
    groups: Sequence[str],
    private_dns_name: Callable[[str], str | None],
) -> KubernetesUser | None:
    session = caller.session_name or ""

    def value(name: str) -> str | None:
        match name:
            case "AccountID":
                return caller.account_id
            case "SessionName":
                return session.replace("@", "-")
            case "SessionNameRaw":
                return session
            case "EC2PrivateDNSName":
                # EKS resolves it with ec2:DescribeInstances on the session name (= instance id).
                if not _INSTANCE_ID.match(session):
                    return None
                return private_dns_name(session)
            case _:
                return None

    missing = False

    def substitute(text: str) -> str:
        nonlocal missing

        def one(match: re.Match[str]) -> str:
            nonlocal missing
            found = value(match.group(1))
            if found is None:
                missing = True
                return ""
            return found

        return _TEMPLATE.sub(one, text)

    rendered_name = substitute(username)
    rendered_groups = tuple(substitute(g) for g in groups)
    if missing or not rendered_name:
        return None
    extra = {"arn": (caller.arn,), "canonicalArn": (caller.canonical_arn,)}
    if caller.session_name:
        extra["sessionName"] = (caller.session_name,)
    return KubernetesUser(username=rendered_name, groups=rendered_groups, extra=extra)


def _yaml_list(
    data: Mapping[str, str], key: str, items: type | tuple[type, ...] = dict
) -> list[Any]:
    text = data.get(key)
    if text is None or not text.strip():
        return []
    try:
        loaded = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise MappingError(f"{key} is not YAML") from exc
    if loaded is None:
        return []
    if not isinstance(loaded, list) or not all(isinstance(i, items) for i in loaded):
        raise MappingError(f"{key} is not a list of the expected entries")
    return loaded


def _fields(item: Mapping[str, object]) -> dict[str, object]:
    """An entry's keys as the authenticator reads them, in any letter case (aws-iam-authenticator
    pkg/mapper/configmap yaml_test.go, "crazy case keys"): sigs.k8s.io/yaml turns the YAML into
    JSON, its keys sorted, and Go's encoding/json matches field names case-insensitively, the
    last key for a field winning, so of several spellings the greatest in byte order does (the
    lower-case one, if present)."""
    return {
        str(name).lower(): value for name, value in sorted(item.items(), key=lambda kv: str(kv[0]))
    }


def _groups(item: Mapping[str, object], key: str) -> tuple[str, ...]:
    groups = item.get("groups", [])
    if groups is None:
        return ()
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise MappingError(f"{key} entry has groups that are not a list of strings")
    return tuple(groups)
