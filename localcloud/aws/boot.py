"""Instance boot: what an EKS-optimized Windows AMI does with its user data, played against the
Kubernetes half. A kubelet stand-in starts only when the instance runs a Windows EKS AMI, its user
data calls ``Start-EKSBootstrap.ps1`` with this cluster's name, endpoint and CA, and it has an
instance role; whether the role may join is then the API server's (webhook's) decision, as on
EKS. Termination stops the kubelet.

User data runs on the first boot only (EC2Launch v2's default). A stop (into a Stopped warm pool)
before the bootstrap finished, which the kubelet's registration marks, cuts it short for good:
later boots start no kubelet. One that finished installed the kubelet as a service, which every
later boot starts. AWS warns of exactly this: "Amazon EC2 Auto Scaling does not wait for user
data to finish running, so the stop or hibernate action can interrupt a script that is still
running" (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from moto.autoscaling.models import FakeAutoScalingGroup
from moto.core.types import Base64EncodedString
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import Instance
from moto.eks.models import eks_backends

from localcloud.aws.catalog import AMAZON_OWNER_ID
from localcloud.aws.identity import assume_instance_role, instance_role_arn, token_provider
from localcloud.aws.userdata import UserDataError, decode_user_data, parse_bootstrap_call

log = logging.getLogger("localcloud.aws.boot")

# The node.kubernetes.io/windows-build a kubelet reports on each Windows Server release.
_WINDOWS_BUILDS = {"2019": "10.0.17763", "2022": "10.0.20348", "2025": "10.0.26100"}


class StoppedKubelet(Protocol):
    @property
    def registered(self) -> bool: ...  # its Node was created: the bootstrap finished


class NodeFleetLike(Protocol):
    """What booting needs of the Kubernetes half (``localcloud.kube.NodeFleet``)."""

    def start(
        self,
        *,
        instance_id: str,
        private_dns_name: str,
        az: str,
        token_provider: Callable[[], str],
        instance_type: str,
        windows_build: str,
        workloads: str,
    ) -> object: ...

    def stop(self, instance_id: str, *, delete_node: bool = False) -> StoppedKubelet | None: ...


@dataclass(frozen=True)
class BootOutcome:
    """Why an instance did (``kubelet_started``) or did not try to join."""

    instance_id: str
    kubelet_started: bool
    reason: str


class BootSimulator:
    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        cluster_name: str,
        endpoint_url: str,
        delete_nodes_on_termination: bool = False,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.cluster_name = cluster_name
        self.endpoint_url = endpoint_url
        self.delete_nodes_on_termination = delete_nodes_on_termination
        self.nodes: NodeFleetLike | None = None
        self.outcomes: dict[str, BootOutcome] = {}
        # By group name: how its nodes' run-to-completion pods end ("complete" unless set;
        # "fail": containers exit 1, "hang": they never exit). See localcloud.kube.Workloads.
        self.workloads: dict[str, str] = {}
        # Instances past their first boot, and those whose bootstrap finished (node registered).
        self._booted: set[str] = set()
        self._bootstrapped: set[str] = set()
        self._lock = threading.Lock()

    def attach(self, nodes: NodeFleetLike) -> None:
        self.nodes = nodes

    def on_launch(self, group: FakeAutoScalingGroup, instance: Instance) -> None:
        """The instance boots: first launched, or started again out of a Stopped pool."""
        with self._lock:
            first_boot = instance.id not in self._booted
            self._booted.add(instance.id)
            bootstrapped = instance.id in self._bootstrapped
        if first_boot or bootstrapped:
            outcome = self._boot(instance, workloads=self.workloads.get(group.name, "complete"))
        else:
            outcome = BootOutcome(
                instance.id,
                False,
                "bootstrap cut short by a stop; user data runs on the first boot only",
            )
        with self._lock:
            self.outcomes[instance.id] = outcome
        log.info("boot %s: %s", instance.id, outcome.reason)

    def on_stop(self, instance: Instance) -> None:
        """EC2 stopped the instance (into a Stopped warm pool): its kubelet stops, its Node
        stays; a start boots it again (``on_launch``), with a kubelet only when its bootstrap
        finished before the stop."""
        stopped = self.nodes.stop(instance.id) if self.nodes is not None else None
        if stopped is not None and stopped.registered:
            with self._lock:
                self._bootstrapped.add(instance.id)

    def on_terminate(self, instance: Instance) -> None:
        if self.nodes is not None:
            self.nodes.stop(instance.id, delete_node=self.delete_nodes_on_termination)

    def _boot(  # noqa: PLR0911 - one reason per refusal
        self, instance: Instance, *, workloads: str
    ) -> BootOutcome:
        iid = instance.id
        image = ec2_backends[self.account_id][self.region].amis.get(instance.image_id)
        image_name = (image.name or "") if image is not None else ""
        if image is None or image.platform != "windows" or "EKS_Optimized" not in image_name:
            return BootOutcome(
                iid, False, f"{instance.image_id} is not an EKS-optimized Windows AMI"
            )
        if image.owner_id != AMAZON_OWNER_ID:
            return BootOutcome(iid, False, f"{instance.image_id} is not owned by Amazon")
        try:
            call = parse_bootstrap_call(decode_user_data(_user_data_text(instance)))
        except UserDataError as exc:
            return BootOutcome(iid, False, f"bootstrap not run: {exc}")
        cluster = eks_backends[self.account_id][self.region].clusters.get(self.cluster_name)
        if cluster is None:
            return BootOutcome(iid, False, f"cluster {self.cluster_name} does not exist")
        if call.cluster_name != cluster.name:
            return BootOutcome(iid, False, f"bootstrap names cluster {call.cluster_name!r}")
        if call.api_server_endpoint != cluster.endpoint:
            return BootOutcome(
                iid, False, f"bootstrap endpoint {call.api_server_endpoint!r} is wrong"
            )
        if call.base64_cluster_ca != cluster.certificate_authority.get("data"):
            return BootOutcome(iid, False, "bootstrap CA is not the cluster's")
        role_arn = instance_role_arn(
            account_id=self.account_id, region=self.region, instance=instance
        )
        if role_arn is None:
            return BootOutcome(iid, False, "instance has no instance profile role")
        if self.nodes is None:
            return BootOutcome(iid, False, "no Kubernetes half attached")
        az = instance.placement.zone
        if az is None:
            return BootOutcome(iid, False, "instance has no availability zone")
        credentials = assume_instance_role(
            account_id=self.account_id, region=self.region, instance_id=iid, role_arn=role_arn
        )
        self.nodes.start(
            instance_id=iid,
            private_dns_name=instance.private_dns_name,
            az=az,
            instance_type=instance.instance_type,
            token_provider=token_provider(
                credentials,
                cluster_name=cluster.name,
                region=self.region,
                endpoint_url=self.endpoint_url,
            ),
            windows_build=next(
                (b for v, b in _WINDOWS_BUILDS.items() if f"Windows_Server-{v}-" in image_name),
                _WINDOWS_BUILDS["2019"],
            ),
            workloads=workloads,
        )
        return BootOutcome(iid, True, f"kubelet started as {credentials.arn}")


def _user_data_text(instance: Instance) -> str | None:
    # moto annotates Base64EncodedString, but a launch template version's UserData can reach
    # the instance as it was stored (a str), and older moto kept a list.
    user_data: object = instance.user_data
    if isinstance(user_data, list):
        user_data = user_data[0] if user_data else None
    if user_data is None:
        return None
    if isinstance(user_data, Base64EncodedString):
        return user_data.as_bytes().decode("ascii")
    if isinstance(user_data, bytes):
        return user_data.decode("ascii")
    return str(user_data)
