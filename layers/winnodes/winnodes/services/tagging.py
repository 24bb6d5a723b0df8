"""The tags a managed group's Windows instances carry: `kubernetes.io/cluster/<cluster>=owned` and
the operator's extra tags. One CreateTags call covers many instances, so the reconciler tags a
whole group's drifted instances at once and a launch event tags its one instance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from winnodes.models.groups import KUBERNETES_CLUSTER_TAG_PREFIX, ManagedGroup
from winnodes.observability import logger
from winnodes.ports import Compute, Instance, InstancePlatform
from winnodes.services.fleet import FleetView


class InstanceTags:
    def __init__(self, *, compute: Compute, extra_tags: Mapping[str, str]) -> None:
        self._compute = compute
        self._extra_tags = dict(extra_tags)

    def wanted(self, group: ManagedGroup) -> dict[str, str]:
        # The cluster tag last: no extra tag may change what marks the instance as the cluster's.
        return self._extra_tags | {f"{KUBERNETES_CLUSTER_TAG_PREFIX}{group.cluster}": "owned"}

    def present(self, group: ManagedGroup, instance: Instance) -> bool:
        return all(instance.tags.get(key) == value for key, value in self.wanted(group).items())

    def ensure(
        self, group: ManagedGroup, instance_ids: Iterable[str], view: FleetView
    ) -> list[str]:
        """Tags those of `instance_ids` that are Windows instances lacking a wanted tag; returns
        the ids it tagged. The view's instances are updated, not read again."""
        wanted = self.wanted(group)
        untagged = [
            instance.instance_id
            for instance in (view.instance(i) for i in dict.fromkeys(instance_ids))
            if instance is not None
            and instance.platform == InstancePlatform.WINDOWS
            and not self.present(group, instance)
        ]
        if not untagged:
            return []
        tagged = self._compute.tag_instances(untagged, wanted)
        view.note_tags(tagged, wanted)
        for instance_id in tagged:
            logger.info(
                "tagged instance",
                extra={
                    "cluster": str(group.cluster),
                    "asg": group.auto_scaling_group_name,
                    "instance_id": instance_id,
                },
            )
        return tagged
