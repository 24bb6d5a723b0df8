"""The join's smoke gate in one cluster: reads what the new node's smoke pod says, starts the pod,
and removes it once the launch action is complete, or later, when the reconciler finds it left
over. What a pod means and what it looks like are decided in decisions.smoke."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from winnodes.decisions.smoke import (
    SmokeTest,
    SmokeTestPolicy,
    SmokeVerdict,
    judge_smoke_pod,
    leftover_smoke_pods,
    smoke_pod_manifest,
    smoke_pod_name,
)
from winnodes.errors import KubernetesError
from winnodes.models.identifiers import InstanceId
from winnodes.observability import logger
from winnodes.ports import ClusterConnection, NodeState, SmokePods
from winnodes.services.fleet import FleetView


class SmokeGate:
    def __init__(
        self,
        *,
        policy: SmokeTestPolicy,
        pods_for: Callable[[ClusterConnection], SmokePods] | None,
    ) -> None:
        if policy.enabled and pods_for is None:
            raise ValueError("the smoke test is enabled, but no SmokePods were given")
        self._policy = policy
        self._pods_for = pods_for

    def verdict(
        self, instance_id: str, node: NodeState | None, connection: ClusterConnection
    ) -> SmokeVerdict:
        if not self._policy.enabled:
            return SmokeVerdict(SmokeTest.DISABLED)
        if node is None or not node.ready:
            return SmokeVerdict(SmokeTest.NOT_STARTED)  # it runs only on a Ready node
        pod = self._pods(connection).read(
            namespace=self._policy.namespace, name=smoke_pod_name(InstanceId(instance_id))
        )
        return judge_smoke_pod(pod, node_name=node.name)

    def start(
        self,
        instance_id: str,
        node: NodeState,
        connection: ClusterConnection,
        image: str,
        log: dict[str, str | None],
    ) -> None:
        manifest = smoke_pod_manifest(
            instance_id=InstanceId(instance_id),
            node_name=node.name,
            namespace=self._policy.namespace,
            image=image,
        )
        log = log | {"pod": f"{self._policy.namespace}/{manifest['metadata']['name']}"}
        if self._pods(connection).create(manifest):
            logger.info("smoke test started", extra=log | {"image": image})
        else:
            logger.info("smoke test already started", extra=log)

    def remove(
        self,
        instance_id: str,
        smoke: SmokeTest,
        connection: ClusterConnection,
        log: dict[str, str | None],
    ) -> None:
        """After the action is complete: the pod did its job. Best effort; a pod left behind is
        deleted with its Node by Kubernetes' pod garbage collector."""
        if smoke not in {SmokeTest.PENDING, SmokeTest.PASSED, SmokeTest.FAILED}:
            return
        namespace = self._policy.namespace
        name = smoke_pod_name(InstanceId(instance_id))
        try:
            self._pods(connection).delete(namespace=namespace, name=name)
        except KubernetesError as error:
            logger.warning(
                "smoke pod not deleted",
                extra=log | {"pod": f"{namespace}/{name}", "error": str(error)},
            )

    def remove_leftovers(
        self,
        cluster: str,
        view: FleetView,
        *,
        awaiting_launch: Collection[str],
        groups_read_at: datetime,
    ) -> int:
        """Deletes the cluster's smoke pods whose launch action is over (decisions.smoke says
        which); returns how many it deleted. A pod that cannot be deleted now is tried again on
        the next pass. With the smoke test disabled, nothing is read, not even the cluster."""
        if not self._policy.enabled:
            return 0
        connection = view.connection(cluster)
        namespace = self._policy.namespace
        pods = self._pods(connection)
        leftovers = leftover_smoke_pods(
            pods.listed(namespace=namespace),
            awaiting_launch=awaiting_launch,
            groups_read_at=groups_read_at,
        )
        removed = 0
        for pod in leftovers:
            log = {
                "cluster": connection.name,
                "instance_id": pod.instance_id,
                "pod": f"{namespace}/{pod.name}",
            }
            try:
                if pods.delete(namespace=namespace, name=pod.name):
                    removed += 1
                    logger.info("removed leftover smoke pod", extra=log)
            except KubernetesError as error:
                logger.warning("leftover smoke pod not deleted", extra=log | {"error": str(error)})
        return removed

    def _pods(self, connection: ClusterConnection) -> SmokePods:
        if self._pods_for is None:  # refused at construction when the test is enabled
            raise AssertionError("smoke test pods used while the smoke test is disabled")
        return self._pods_for(connection)
