"""NodeRoleAuthorization: a Windows node role authorized in its cluster, by an EC2_WINDOWS access
entry (authentication mode API or API_AND_CONFIG_MAP) or by its entry merged into
kube-system/aws-auth (CONFIG_MAP). In-memory stand-ins for the ports, the real FleetView."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from winnodes.decisions.join import NodeAuthorization
from winnodes.errors import KubernetesConflictError
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName, RoleArn
from winnodes.ports import (
    AwsAuthConfigMap,
    ClusterConnection,
    Instance,
    InstancePlatform,
    NodeState,
)
from winnodes.services.authorization import NodeRoleAuthorization
from winnodes.services.fleet import Fleet, FleetView

INSTANCE = "i-0123456789abcdef0"
PROFILE = "arn:aws:iam::111122223333:instance-profile/win"
ROLE = "arn:aws:iam::111122223333:role/win"
PATH_ROLE = "arn:aws:iam::111122223333:role/nodes/win"
FOREIGN_ROLES = (
    "arn:aws:iam::111122223333:role/admins",
    "arn:aws:iam::111122223333:role/ci",
    "arn:aws:iam::111122223333:role/ops",
    "arn:aws:iam::111122223333:role/audit",
    "arn:aws:iam::111122223333:role/dev",
    "arn:aws:iam::111122223333:role/qa",
)


def map_roles(roles: list[str]) -> str:
    return "".join(
        f"- rolearn: {arn}\n  username: {arn.rsplit('/', 1)[1]}\n  groups:\n    - system:masters\n"
        for arn in roles
    )


@dataclass
class FakeKube:
    """kube-system/aws-auth as the API server keeps it. Another writer adds one entry of its own
    before each of our writes that conflicts, as a concurrent update would."""

    conflicts: int = 0
    roles: list[str] = field(default_factory=lambda: [FOREIGN_ROLES[0]])
    version: int = 1
    reads: list[str] = field(default_factory=list)  # the resourceVersion each read saw
    writes: list[str | None] = field(default_factory=list)  # the resourceVersion each write sent
    journal: list[str] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = {"mapRoles": map_roles(self.roles)}

    def read_aws_auth(self) -> AwsAuthConfigMap | None:
        self.journal.append("read")
        self.reads.append(str(self.version))
        return AwsAuthConfigMap(dict(self.data), str(self.version))

    def write_aws_auth(self, data: Mapping[str, str], *, resource_version: str | None) -> None:
        self.journal.append("write")
        self.writes.append(resource_version)
        if len(self.writes) <= self.conflicts:
            # Someone else wrote meanwhile: the document changed, our version is stale.
            self.roles.append(FOREIGN_ROLES[len(self.roles) % len(FOREIGN_ROLES)])
            self.data = {"mapRoles": map_roles(self.roles)}
            self.version += 1
            raise KubernetesConflictError("PUT aws-auth: 409 the object has been modified")
        assert resource_version == str(self.version)
        self.data = dict(data)
        self.version += 1

    def windows_ipam_enabled(self) -> bool:
        return True

    def ensure_windows_ipam(self) -> bool:
        return False

    def nodes_by_instance(self) -> dict[str, NodeState]:
        return {}

    def node_named(self, name: str) -> NodeState | None:
        return None

    def hold_for_warm_pool(self, name: str) -> NodeState | None:
        raise NotImplementedError("authorizing a role touches no Node")

    def return_from_warm_pool(self, name: str) -> NodeState | None:
        raise NotImplementedError("authorizing a role touches no Node")


@dataclass
class FakeAccessEntries:
    entries: dict[tuple[str, str], str] = field(default_factory=dict)  # (cluster, principal)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def entry_type(self, cluster: str, principal_arn: str) -> str | None:
        self.asked.append((cluster, principal_arn))
        return self.entries.get((cluster, principal_arn))

    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        if (cluster, role_arn) in self.entries:
            return False
        self.entries[cluster, role_arn] = "EC2_WINDOWS"
        return True


@dataclass
class FakeCompute:
    roles: dict[str, str] = field(default_factory=lambda: {PROFILE: ROLE})

    def describe_instances(self, instance_ids: object) -> dict[str, Instance]:
        return {}

    def tag_instances(self, instance_ids: object, tags: object) -> list[str]:
        return []

    def role_of_instance_profile(self, instance_profile_arn: str) -> str | None:
        return self.roles.get(instance_profile_arn)


@dataclass
class FakeClusters:
    mode: str = "API"

    def describe_cluster(self, name: str) -> ClusterConnection:
        return ClusterConnection(name, "https://k8s", "Q0E=", None, authentication_mode=self.mode)


def a_view(compute: FakeCompute, kube: FakeKube, mode: str = "API") -> FleetView:
    return Fleet(
        autoscaling=None,  # type: ignore[arg-type]
        compute=compute,
        clusters=FakeClusters(mode),
        kube_for=lambda connection: kube,
    ).view()


def an_instance() -> Instance:
    return Instance(
        INSTANCE,
        "running",
        InstancePlatform.WINDOWS,
        "eu-west-1a",
        "ip-10-0-1-23.ec2.internal",
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        instance_profile_arn=PROFILE,
    )


def authorize_in_config_map_cluster(kube: FakeKube) -> NodeAuthorization:
    compute = FakeCompute()
    view = a_view(compute, kube, mode="CONFIG_MAP")
    connection = view.connection("prod")
    authorization = NodeRoleAuthorization(compute=compute, access_entries=FakeAccessEntries())
    group = ManagedGroup("win-a", ClusterName("prod"))
    return authorization.authorize(
        connection, kube, group, an_instance(), view=view, log={"cluster": "prod"}
    )


def test_aws_auth_conflicts_are_retried_on_a_fresh_read() -> None:
    kube = FakeKube(conflicts=2)

    assert authorize_in_config_map_cluster(kube) is NodeAuthorization.AUTHORIZED

    assert kube.journal == ["read", "write"] * 3
    # Each write is made at the resourceVersion its own read saw, not the first one.
    assert kube.writes == kube.reads == ["1", "2", "3"]
    written = kube.data["mapRoles"]
    assert f"rolearn: {ROLE}" in written
    for foreign in kube.roles:  # the other writers' entries are all kept
        assert f"rolearn: {foreign}" in written
    assert "eks:kube-proxy-windows" in written


def test_aws_auth_that_keeps_changing_is_given_up_after_five_writes() -> None:
    kube = FakeKube(conflicts=5)

    assert authorize_in_config_map_cluster(kube) is NodeAuthorization.MISSING

    assert kube.journal == ["read", "write"] * 5
    assert kube.writes == kube.reads == ["1", "2", "3", "4", "5"]
    assert f"rolearn: {ROLE}" not in kube.data["mapRoles"]


def test_a_role_aws_auth_already_authorizes_is_not_written_again() -> None:
    kube = FakeKube()
    assert authorize_in_config_map_cluster(kube) is NodeAuthorization.AUTHORIZED
    assert authorize_in_config_map_cluster(kube) is NodeAuthorization.AUTHORIZED
    assert kube.journal == ["read", "write", "read"]


def test_a_role_is_looked_up_per_cluster() -> None:
    compute = FakeCompute()
    view = a_view(compute, FakeKube())
    entries = FakeAccessEntries({("alpha", ROLE): "EC2_WINDOWS"})
    authorization = NodeRoleAuthorization(compute=compute, access_entries=entries)
    instance = an_instance()
    statuses = {}
    for cluster in ("alpha", "beta"):
        group = ManagedGroup("win-a", ClusterName(cluster))
        connection = view.connection(cluster)
        statuses[cluster] = authorization.status(
            connection, view.kube(cluster), group, instance, view
        )

    assert statuses == {"alpha": NodeAuthorization.AUTHORIZED, "beta": NodeAuthorization.MISSING}
    assert entries.asked == [("alpha", ROLE), ("beta", ROLE)]


def test_an_access_entry_names_a_role_with_a_path_by_its_full_arn() -> None:
    compute = FakeCompute({PROFILE: PATH_ROLE})
    view = a_view(compute, FakeKube())
    # EKS keeps the principal as created: the role's own ARN, path included.
    entries = FakeAccessEntries({("prod", PATH_ROLE): "EC2_WINDOWS"})
    authorization = NodeRoleAuthorization(compute=compute, access_entries=entries)
    group = ManagedGroup("win-a", ClusterName("prod"))
    connection = view.connection("prod")

    status = authorization.status(connection, view.kube("prod"), group, an_instance(), view)

    assert status is NodeAuthorization.AUTHORIZED
    assert entries.asked == [("prod", RoleArn.parse(PATH_ROLE).principal_arn)]
    assert entries.asked == [("prod", PATH_ROLE)]
