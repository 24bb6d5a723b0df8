"""NodeRoleAuthorization: a Windows node role authorized in its cluster, by an EC2_WINDOWS access
entry (authentication mode API or API_AND_CONFIG_MAP) or by its entry merged into
kube-system/aws-auth (CONFIG_MAP). In-memory stand-ins for the ports, the real FleetView."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from winnodes.decisions.join import NodeAuthorization
from winnodes.decisions.node_roles import NodeRoleAllowList
from winnodes.errors import KubernetesConflictError
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName, RoleArn
from winnodes.observability import metrics
from winnodes.ports import (
    AccessEntry,
    AwsAuthConfigMap,
    ClusterConnection,
    Instance,
    InstancePlatform,
    InstanceProfileRole,
    NodeState,
)
from winnodes.services.authorization import NodeRoleAuthorization
from winnodes.services.fleet import Fleet, FleetView

INSTANCE = "i-0123456789abcdef0"
PROFILE = "arn:aws:iam::111122223333:instance-profile/win"
ROLE = "arn:aws:iam::111122223333:role/win"
CLUSTER_ARN = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
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
    created_at: datetime = datetime(2026, 3, 1, tzinfo=UTC)  # of every entry

    def entry(self, cluster: str, principal_arn: str) -> AccessEntry | None:
        self.asked.append((cluster, principal_arn))
        found = self.entries.get((cluster, principal_arn))
        return AccessEntry(found, self.created_at) if found else None

    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        if (cluster, role_arn) in self.entries:
            return False
        self.entries[cluster, role_arn] = "EC2_WINDOWS"
        return True


@dataclass
class FakeCompute:
    roles: dict[str, str] = field(default_factory=lambda: {PROFILE: ROLE})
    role_created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)  # of every role
    instances: dict[str, Instance] = field(default_factory=dict)  # what EC2 shows

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        return {i: self.instances[i] for i in instance_ids if i in self.instances}

    def tag_instances(self, instance_ids: object, tags: object) -> list[str]:
        return []

    def role_of_instance_profile(self, instance_profile_arn: str) -> InstanceProfileRole | None:
        arn = self.roles.get(instance_profile_arn)
        return InstanceProfileRole(arn, self.role_created_at) if arn else None


@dataclass
class FakeClusters:
    mode: str = "API"
    arn: str = CLUSTER_ARN

    def describe_cluster(self, name: str) -> ClusterConnection:
        return ClusterConnection(
            name, "https://k8s", "Q0E=", None, authentication_mode=self.mode, arn=self.arn
        )


def a_view(
    compute: FakeCompute, kube: FakeKube, mode: str = "API", arn: str = CLUSTER_ARN
) -> FleetView:
    return Fleet(
        autoscaling=None,  # type: ignore[arg-type]
        compute=compute,
        clusters=FakeClusters(mode, arn),
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


# --- NODE_ROLE_ARNS: only the roles the operator allows become nodes ----------------------------

# Only roles under the /nodes/ path: ROLE (role/win) is refused, PATH_ROLE (role/nodes/win) is not.
NODES_PATH_ONLY = NodeRoleAllowList(("arn:aws:iam::111122223333:role/nodes/*",))
MODES = ["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"]
OWN_ACCOUNT = NodeRoleAllowList()  # unset: the roles of the cluster's account
TAGGED = RoleArn.parse("arn:aws:iam::111122223333:role/admins")  # a group tag naming any role


@dataclass
class Cluster:
    """One cluster of `mode` as the authorization sees it, and everything it wrote there."""

    mode: str
    compute: FakeCompute = field(default_factory=FakeCompute)
    kube: FakeKube = field(default_factory=FakeKube)
    entries: FakeAccessEntries = field(default_factory=FakeAccessEntries)
    arn: str = CLUSTER_ARN

    def authorization(self, node_roles: NodeRoleAllowList) -> NodeRoleAuthorization:
        return NodeRoleAuthorization(
            compute=self.compute, access_entries=self.entries, node_roles=node_roles
        )

    def view(self) -> FleetView:
        return a_view(self.compute, self.kube, self.mode, self.arn)

    def status_then_authorize(
        self, node_roles: NodeRoleAllowList, group: ManagedGroup
    ) -> tuple[NodeAuthorization, NodeAuthorization]:
        authorization, view = self.authorization(node_roles), self.view()
        connection = view.connection("prod")
        status = authorization.status(connection, self.kube, group, an_instance(), view)
        authorized = authorization.authorize(
            connection, self.kube, group, an_instance(), view=view, log={"cluster": "prod"}
        )
        return status, authorized

    def untouched(self) -> bool:
        """Nothing written, and not even read: the role was refused before any look."""
        return not self.entries.entries and not self.entries.asked and not self.kube.journal


def refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        vars(r)
        for r in caplog.records
        if r.levelno == logging.ERROR and "not allowed by NODE_ROLE_ARNS" in r.getMessage()
    ]


@pytest.mark.parametrize("mode", MODES)
def test_unset_only_the_clusters_own_account_is_allowed(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A run by hand without NODE_ROLE_ARNS allows what the stack allows by default: the roles
    # of its own account, here the cluster's, not a role of another account a tag names.
    foreign = RoleArn.parse("arn:aws:iam::444455556666:role/win")
    cluster = Cluster(mode)
    group = ManagedGroup("win-a", ClusterName("prod"), node_role=foreign)

    with caplog.at_level(logging.ERROR, logger="eks-windows-nodes"):
        status, authorized = cluster.status_then_authorize(OWN_ACCOUNT, group)

    assert status is authorized is NodeAuthorization.BLOCKED
    assert cluster.untouched()
    (logged,) = refusals(caplog)
    assert logged["allowed_patterns"] == "arn:aws:iam::111122223333:role/*"
    own = Cluster(mode)
    same_account = ManagedGroup("win-a", ClusterName("prod"), node_role=RoleArn.parse(ROLE))
    assert own.status_then_authorize(OWN_ACCOUNT, same_account)[1] is NodeAuthorization.AUTHORIZED


def test_unset_and_a_cluster_arn_that_names_no_account_allow_no_role() -> None:
    cluster = Cluster("API", arn="not-an-arn")
    group = ManagedGroup("win-a", ClusterName("prod"), node_role=RoleArn.parse(ROLE))
    status, authorized = cluster.status_then_authorize(OWN_ACCOUNT, group)
    assert status is authorized is NodeAuthorization.BLOCKED
    assert cluster.untouched()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("source", ["instance profile", "group tag"])
def test_a_role_the_setting_refuses_is_blocked_and_nothing_is_written(
    mode: str, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = Cluster(mode)
    tagged = TAGGED if source == "group tag" else None
    group = ManagedGroup("win-a", ClusterName("prod"), node_role=tagged)
    refused = str(TAGGED) if tagged else ROLE

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        status, authorized = cluster.status_then_authorize(NODES_PATH_ONLY, group)

    assert status is authorized is NodeAuthorization.BLOCKED
    assert cluster.untouched()
    # Said once for the group and role in this view, naming the role, the group and the setting.
    (logged,) = refusals(caplog)
    assert logged["role"] == refused
    assert logged["asg"] == "win-a"
    assert logged["cluster"] == "prod"
    assert logged["setting"] == "NODE_ROLE_ARNS"
    assert logged["allowed_patterns"] == "arn:aws:iam::111122223333:role/nodes/*"
    assert metrics.metric_set["NodeRoleRefused"]["Value"] == [1.0]


@pytest.mark.parametrize("mode", MODES)
def test_a_role_the_setting_allows_is_authorized(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = Cluster(mode, compute=FakeCompute({PROFILE: PATH_ROLE}))
    group = ManagedGroup("win-a", ClusterName("prod"))

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        status, authorized = cluster.status_then_authorize(NODES_PATH_ONLY, group)

    assert (status, authorized) == (NodeAuthorization.MISSING, NodeAuthorization.AUTHORIZED)
    if mode == "CONFIG_MAP":
        # aws-auth names the role without its path (RoleArn); the setting saw the full ARN.
        assert "rolearn: arn:aws:iam::111122223333:role/win" in cluster.kube.data["mapRoles"]
        assert not cluster.entries.entries
    else:
        assert cluster.entries.entries == {("prod", PATH_ROLE): "EC2_WINDOWS"}
        assert "write" not in cluster.kube.journal
    assert not refusals(caplog)
    assert "NodeRoleRefused" not in metrics.metric_set


def test_the_setting_matches_the_full_arn_with_its_path() -> None:
    # role/win allows only the role named win without a path, as IAM's ArnLike would.
    only_win = NodeRoleAllowList(("arn:aws:iam::111122223333:role/win",))
    cluster = Cluster("API", compute=FakeCompute({PROFILE: PATH_ROLE}))
    group = ManagedGroup("win-a", ClusterName("prod"))

    assert cluster.status_then_authorize(only_win, group) == (NodeAuthorization.BLOCKED,) * 2
    assert cluster.untouched()


@pytest.mark.parametrize("mode", MODES)
def test_the_reconcilers_repair_never_authorizes_a_refused_role(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # An in-service node whose role lost its access entry or aws-auth entry, and that the
    # operator's setting (narrowed since, or never matching a tag set since) refuses.
    cluster = Cluster(mode, compute=FakeCompute(instances={INSTANCE: an_instance()}))
    authorization = cluster.authorization(NODES_PATH_ONLY)
    group = ManagedGroup("win-a", ClusterName("prod"))

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        repaired = authorization.repair(group, INSTANCE, cluster.view())

    assert repaired is False
    assert cluster.untouched()
    assert len(refusals(caplog)) == 1
    # The same instance whose role is allowed is repaired: the refusal above is the setting's.
    allowed = Cluster(
        mode, compute=FakeCompute({PROFILE: PATH_ROLE}, instances={INSTANCE: an_instance()})
    )
    repaired = allowed.authorization(NODES_PATH_ONLY).repair(group, INSTANCE, allowed.view())
    assert repaired is True


@pytest.mark.parametrize("mode", MODES)
def test_a_path_only_a_tag_claims_does_not_pass_a_path_pattern_in_aws_auth(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # aws-auth maps `role/ops` by name: the tag's `/nodes/` is only a claim there, and would
    # let a path pattern map any role of the account. An access entry names the principal
    # itself (EKS refuses a wrong path), so there the full ARN is what counts.
    cluster = Cluster(mode)
    claimed = RoleArn.parse("arn:aws:iam::111122223333:role/nodes/ops")
    group = ManagedGroup("win-a", ClusterName("prod"), node_role=claimed)

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        status, authorized = cluster.status_then_authorize(NODES_PATH_ONLY, group)

    if mode == "CONFIG_MAP":
        assert status is authorized is NodeAuthorization.BLOCKED
        assert cluster.untouched()
        (logged,) = refusals(caplog)
        assert "must also allow arn:aws:iam::111122223333:role/ops" in str(logged["msg"])
    else:
        assert (status, authorized) == (NodeAuthorization.MISSING, NodeAuthorization.AUTHORIZED)
        assert cluster.entries.entries == {("prod", str(claimed.principal_arn)): "EC2_WINDOWS"}
    # A pattern that also allows the path-less ARN, in every letter case, lets aws-auth map it.
    both = NodeRoleAllowList(
        (*(NODES_PATH_ONLY.patterns or ()), "arn:aws:iam::111122223333:role/???")
    )
    again = Cluster(mode)
    assert again.status_then_authorize(both, group)[1] is NodeAuthorization.AUTHORIZED
    if mode == "CONFIG_MAP":
        assert "rolearn: arn:aws:iam::111122223333:role/ops" in again.kube.data["mapRoles"]


WIN_ONLY = NodeRoleAllowList(("arn:aws:iam::111122223333:role/Win*",))


@pytest.mark.parametrize("mode", MODES)
def test_a_letter_case_only_a_tag_spells_does_not_pass_a_pattern_in_aws_auth(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # IAM role names are unique regardless of case and aws-auth maps `rolearn` without regard
    # to it: a tag spelling `WinAdmin` maps IAM's `winadmin`, which `role/Win*` refuses. An
    # access entry names the principal as spelled, and the template's eks:principalArn
    # condition holds the functions to the same case-sensitive patterns.
    cluster = Cluster(mode)
    spelled = RoleArn.parse("arn:aws:iam::111122223333:role/WinAdmin")
    group = ManagedGroup("win-a", ClusterName("prod"), node_role=spelled)

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        status, authorized = cluster.status_then_authorize(WIN_ONLY, group)

    if mode == "CONFIG_MAP":
        assert status is authorized is NodeAuthorization.BLOCKED
        assert cluster.untouched()
        (logged,) = refusals(caplog)
        assert "in every letter case" in str(logged["msg"])
    else:
        assert (status, authorized) == (NodeAuthorization.MISSING, NodeAuthorization.AUTHORIZED)
    # Named by the instance profile, the role is spelled as IAM spells it: allowed as it is.
    profiled = Cluster(
        mode, compute=FakeCompute({PROFILE: "arn:aws:iam::111122223333:role/WinAdmin"})
    )
    in_profile = ManagedGroup("win-a", ClusterName("prod"))
    assert profiled.status_then_authorize(WIN_ONLY, in_profile)[1] is NodeAuthorization.AUTHORIZED


# --- an access entry made for an earlier role of the same ARN ----------------------------------


@pytest.mark.parametrize(
    ("role_created_at", "expected"),
    [
        # The role was deleted and created again after the entry (2026-03-01) was made.
        (datetime(2026, 4, 1, tzinfo=UTC), NodeAuthorization.BLOCKED),
        # Created moments before the entry, as a stack creates both: IAM and EKS clocks differ.
        (datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC), NodeAuthorization.AUTHORIZED),
        (datetime(2026, 1, 1, tzinfo=UTC), NodeAuthorization.AUTHORIZED),
    ],
)
@pytest.mark.parametrize("mode", ["API", "API_AND_CONFIG_MAP"])
def test_an_entry_older_than_its_role_no_longer_authorizes_it(
    mode: str,
    role_created_at: datetime,
    expected: NodeAuthorization,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # EKS keeps the principal ID of the role an entry was made for; a role created again under
    # the same ARN has a new one, and the entry no longer lets its nodes in.
    cluster = Cluster(mode, compute=FakeCompute(role_created_at=role_created_at))
    cluster.entries.entries[("prod", ROLE)] = "EC2_WINDOWS"
    group = ManagedGroup("win-a", ClusterName("prod"))

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        status, authorized = cluster.status_then_authorize(OWN_ACCOUNT, group)

    assert status is authorized is expected
    stale = [r for r in caplog.records if "created again" in r.getMessage()]
    if expected is NodeAuthorization.BLOCKED:
        assert stale and vars(stale[0])["role"] == ROLE
        assert metrics.metric_set["AccessEntryStale"]["Value"]
    else:
        assert not stale
        assert "AccessEntryStale" not in metrics.metric_set
    assert cluster.entries.entries == {("prod", ROLE): "EC2_WINDOWS"}  # never deleted


def test_a_tagged_role_has_no_creation_date_to_compare() -> None:
    cluster = Cluster("API", compute=FakeCompute(role_created_at=datetime(2026, 4, 1, tzinfo=UTC)))
    cluster.entries.entries[("prod", ROLE)] = "EC2_WINDOWS"
    group = ManagedGroup("win-a", ClusterName("prod"), node_role=RoleArn.parse(ROLE))
    assert cluster.status_then_authorize(OWN_ACCOUNT, group)[1] is NodeAuthorization.AUTHORIZED


@pytest.mark.parametrize("mode", MODES)
def test_the_reconcilers_repair_never_authorizes_a_linux_instances_role(mode: str) -> None:
    # A pass hands every in-service member to repair: a Linux instance of a managed group must
    # not get its role a Windows node's entry (eks:kube-proxy-windows, an EC2_WINDOWS entry).
    linux = replace(an_instance(), platform=InstancePlatform.LINUX)
    cluster = Cluster(mode, compute=FakeCompute(instances={INSTANCE: linux}))
    group = ManagedGroup("win-a", ClusterName("prod"))

    repaired = cluster.authorization(OWN_ACCOUNT).repair(group, INSTANCE, cluster.view())

    assert repaired is False
    assert not cluster.entries.entries
    assert not [entry for entry in cluster.kube.journal if entry.startswith("write")]
    # The same instance on Windows is repaired: the refusal above is the platform's.
    windows = Cluster(mode, compute=FakeCompute(instances={INSTANCE: an_instance()}))
    assert windows.authorization(OWN_ACCOUNT).repair(group, INSTANCE, windows.view()) is True
