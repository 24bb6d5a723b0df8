"""How a FleetView finds an instance's Node: the node list on a first look and after a full
refresh, a GET of the one Node by name on the polls in between, and never a Node whose providerID
names another instance (private DNS names are reused)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from winnodes.ports import ClusterConnection, Instance, InstancePlatform, NodeState
from winnodes.services.fleet import Fleet, FleetView

NAME = "ip-10-0-1-23.ec2.internal"
INSTANCE = Instance(
    instance_id="i-0123456789abcdef0",
    state="running",
    platform=InstancePlatform.WINDOWS,
    availability_zone="us-east-1a",
    private_dns_name=NAME,
    launch_time=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
)


@dataclass
class Kube:
    """One cluster's Nodes by name (winnodes.ports.ClusterKube, the node part)."""

    nodes: dict[str, NodeState] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def nodes_by_instance(self) -> dict[str, NodeState]:
        self.calls.append("list")
        return {n.instance_id: n for n in self.nodes.values() if n.instance_id}

    def node_named(self, name: str) -> NodeState | None:
        self.calls.append(f"get {name}")
        return self.nodes.get(name)


class Clusters:
    def describe_cluster(self, name: str) -> ClusterConnection:
        return ClusterConnection(name, "https://k8s", "Q0E=", None)


def view_of(kube: Kube) -> FleetView:
    # Looking up Nodes reads neither Auto Scaling nor EC2, and only the node part of the
    # cluster's ClusterKube: the stand-ins are partial on purpose.
    fleet = Fleet(
        autoscaling=None,  # type: ignore[arg-type]
        compute=None,  # type: ignore[arg-type]
        clusters=Clusters(),
        kube_for=lambda connection: kube,  # type: ignore[arg-type,return-value]
    )
    return fleet.view()


def test_a_first_look_lists_polls_get_by_name_and_a_refresh_lists_again() -> None:
    kube = Kube({NAME: NodeState(NAME, INSTANCE.instance_id, ready=False)})
    view = view_of(kube)

    assert view.node("prod", INSTANCE) == kube.nodes[NAME]
    view.refresh_nodes()
    kube.nodes[NAME] = replace(kube.nodes[NAME], ready=True)
    found = view.node("prod", INSTANCE)
    assert found is not None and found.ready
    view.refresh()
    view.node("prod", INSTANCE)

    assert kube.calls == ["list", f"get {NAME}", "list"]


def test_a_node_of_that_name_but_another_instance_is_not_the_instances() -> None:
    kube = Kube({NAME: NodeState(NAME, "i-0fedcba9876543210", ready=True)})
    view = view_of(kube)
    view.refresh_nodes()

    assert view.node("prod", INSTANCE) is None
    assert kube.calls == [f"get {NAME}"]


def test_a_node_registered_under_another_name_is_found_by_the_next_list() -> None:
    kube = Kube({"win-custom-1": NodeState("win-custom-1", INSTANCE.instance_id, ready=True)})
    view = view_of(kube)
    view.refresh_nodes()
    assert view.node("prod", INSTANCE) is None  # by name: not there
    view.refresh()
    assert view.node("prod", INSTANCE) == kube.nodes["win-custom-1"]


def test_a_node_we_changed_reads_as_changed_from_the_list_and_by_name_without_a_call() -> None:
    kube = Kube({NAME: NodeState(NAME, INSTANCE.instance_id, ready=True)})
    view = view_of(kube)
    view.node("prod", INSTANCE)  # listed
    cordoned = replace(kube.nodes[NAME], unschedulable=True, held_for_warm_pool=True)

    view.note_node("prod", cordoned)
    assert view.node("prod", INSTANCE) == cordoned
    view.refresh_nodes()
    view.node("prod", INSTANCE)  # by name
    view.note_node("prod", replace(cordoned, unschedulable=False, held_for_warm_pool=False))
    found = view.node("prod", INSTANCE)

    assert found is not None and not found.unschedulable and not found.held_for_warm_pool
    assert kube.calls == ["list", f"get {NAME}"]


def test_the_node_name_for_a_log_line_is_what_the_view_read_and_costs_no_request() -> None:
    kube = Kube({NAME: NodeState(NAME, INSTANCE.instance_id, ready=True)})
    view = view_of(kube)

    assert view.node_name_read("prod", INSTANCE.instance_id) is None  # nothing read yet
    view.node("prod", INSTANCE)
    assert view.node_name_read("prod", INSTANCE.instance_id) == NAME  # from the list
    view.refresh_nodes()
    assert view.node_name_read("prod", INSTANCE.instance_id) is None
    view.node("prod", INSTANCE)
    assert view.node_name_read("prod", INSTANCE.instance_id) == NAME  # from the GET by name
    assert view.node_name_read("other", INSTANCE.instance_id) is None

    assert kube.calls == ["list", f"get {NAME}"]
