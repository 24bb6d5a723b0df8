"""Identifiers from AWS and Kubernetes, validated once where they enter the system.

`ClusterName` and `InstanceId` are `str` subclasses, so they pass straight into boto3 keyword
arguments and f-strings; constructing one validates it. `RoleArn` and `ProviderId` are parsed into
parts because callers need the parts (account, availability zone)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from winnodes.errors import InvalidInputError


class _CheckedStr(str):
    """A string that is valid by construction. Subclasses set `_pattern`, `_max_len`, `_field`."""

    __slots__ = ()
    _pattern: ClassVar[re.Pattern[str]]
    _max_len: ClassVar[int]
    _field: ClassVar[str]
    _rule: ClassVar[str]

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str):
            raise InvalidInputError(cls._field, f"must be a string, got {type(value).__name__}")
        if len(value) > cls._max_len:
            raise InvalidInputError(cls._field, f"at most {cls._max_len} characters")
        if cls._pattern.fullmatch(value) is None:
            raise InvalidInputError(cls._field, f"{value!r} does not match {cls._rule}")
        return super().__new__(cls, value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Pydantic turns ValueError into a ValidationError that names the field; our own
        # InvalidInputError would escape it unconverted.
        def build(value: str) -> _CheckedStr:
            try:
                return cls(value)
            except InvalidInputError as exc:
                raise ValueError(exc.reason) from exc

        return core_schema.no_info_after_validator_function(
            build,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


class ClusterName(_CheckedStr):
    """EKS cluster name. Rule from the EKS API (CreateCluster `name`):
    https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html"""

    __slots__ = ()
    _pattern = re.compile(r"[0-9A-Za-z][A-Za-z0-9\-_]*")
    _max_len = 100
    _field = "cluster-name"
    _rule = "^[0-9A-Za-z][A-Za-z0-9\\-_]*$"


class InstanceId(_CheckedStr):
    """EC2 instance id: `i-` and 8 (older) or 17 hex digits."""

    __slots__ = ()
    _pattern = re.compile(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})")
    _max_len = 19
    _field = "instance-id"
    _rule = "i-<8 or 17 lowercase hex digits>"


# A path is `/`, or `/` and printable ASCII ending in `/`; a name is [A-Za-z0-9+=,.@_-], up to 64
# (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
_ROLE_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):"
    r"(?:iam::(?P<account>\d{12}):role/(?P<path_and_name>(?:[\x21-\x7e]*/)?[\w+=,.@-]+)"
    r"|sts::(?P<sts_account>\d{12}):assumed-role/(?P<assumed>[\w+=,.@-]+)/[\w+=,.@-]+)",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class RoleArn:
    """An IAM role ARN. `str()` gives the form aws-auth takes: no path, because the authenticator
    compares `rolearn` with the caller's assumed-role ARN, which carries none
    (https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html). An access entry names
    the principal by its full ARN, path included (`principal_arn`): the path-less ARN of a role
    with a path names no existing principal, and EKS refuses it
    (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html)."""

    partition: str
    account: str
    name: str
    path: str = field(default="/", compare=False)  # `/` or `/a/b/`; unknown from assumed roles

    @classmethod
    def parse(cls, value: str) -> RoleArn:
        """Accept `arn:aws:iam::<acct>:role[/path]/<name>` or an STS assumed-role ARN
        `arn:aws:sts::<acct>:assumed-role/<name>/<session>` (what GetCallerIdentity returns)."""
        match = _ROLE_ARN.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise InvalidInputError("role-arn", f"{value!r} is not an IAM role ARN")
        if match["assumed"] is not None:
            return cls(match["partition"], match["sts_account"], match["assumed"])
        path, _, name = match["path_and_name"].rpartition("/")
        if not name or len(name) > 64:
            raise InvalidInputError("role-arn", f"{value!r} has no valid role name")
        return cls(match["partition"], match["account"], name, f"/{path}/" if path else "/")

    def __str__(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.name}"

    @property
    def path_less(self) -> RoleArn:
        """The role as aws-auth names it: by name, whatever its path."""
        return RoleArn(self.partition, self.account, self.name)

    @property
    def principal_arn(self) -> str:
        """The role's own ARN, path included, as an access entry names its principal."""
        return f"arn:{self.partition}:iam::{self.account}:role{self.path}{self.name}"

    def same_role(self, other: RoleArn) -> bool:
        """IAM role names are unique case-insensitively within an account, and the authenticator
        matches `rolearn` without regard to case; partition and account must match exactly."""
        return (
            self.partition == other.partition
            and self.account == other.account
            and self.name.lower() == other.name.lower()
        )


_PROVIDER_ID = re.compile(r"aws:///(?P<zone>[a-z0-9-]*)/(?P<instance>i-[0-9a-f]+)")


@dataclass(frozen=True, slots=True)
class ProviderId:
    """Kubernetes `Node.spec.providerID` of an EC2 node: `aws:///<availability-zone>/<instance-id>`.

    Nodes are found by instance id through this, not by DNS name (NTH does the same)."""

    availability_zone: str
    instance_id: InstanceId

    @classmethod
    def parse(cls, value: str) -> ProviderId:
        # cloud-provider-aws also accepts an empty zone segment (`aws:////i-...`).
        match = _PROVIDER_ID.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise InvalidInputError("provider-id", f"{value!r} is not aws:///<zone>/<instance-id>")
        return cls(match["zone"], InstanceId(match["instance"]))

    def __str__(self) -> str:
        return f"aws:///{self.availability_zone}/{self.instance_id}"


# The names botocore accepts (botocore.utils.validate_region_name); it refuses any other before
# making a client.
_REGION_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")


def is_region_name(value: str) -> bool:
    return _REGION_NAME.fullmatch(value) is not None
