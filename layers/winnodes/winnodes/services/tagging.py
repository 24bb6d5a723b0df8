"""The tags a managed group's Windows instances carry: `kubernetes.io/cluster/<cluster>=owned` and
the operator's extra tags. One CreateTags call covers many instances, so the reconciler tags a
whole group's drifted instances at once and a launch event tags its one instance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from winnodes.decisions.join import stamp_is_current
from winnodes.models.groups import JOIN_STARTED_TAG, KUBERNETES_CLUSTER_TAG_PREFIX, ManagedGroup
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

    @staticmethod
    def join_started(instance: Instance) -> datetime | None:
        """The join-start stamp the instance carries (JOIN_STARTED_TAG), None when it has none
        or one that does not read as a time."""
        value = instance.tags.get(JOIN_STARTED_TAG)
        try:
            stamped = datetime.fromisoformat(value) if value else None
        except ValueError:
            return None
        if stamped is not None and stamped.tzinfo is None:
            stamped = stamped.replace(tzinfo=UTC)
        return stamped

    def stamped(self, instance: Instance) -> bool:
        """It carries the start of its current join (not an earlier launch's)."""
        return stamp_is_current(self.join_started(instance), launch_time=instance.launch_time)

    def ensure(
        self,
        group: ManagedGroup,
        instance_ids: Iterable[str],
        view: FleetView,
        *,
        join_started: Mapping[str, datetime] | None = None,
    ) -> list[str]:
        """Tags those of `instance_ids` that are Windows instances lacking a wanted tag (and
        those in `join_started` lacking the stamp of their current join: that time); returns
        the ids it tagged.
        One call per set of tags written: a stamp already there is never rewritten. The view's
        instances are updated, not read again."""
        wanted = self.wanted(group)
        batches: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for instance in (view.instance(i) for i in dict.fromkeys(instance_ids)):
            if instance is None or instance.platform != InstancePlatform.WINDOWS:
                continue
            tags = dict(wanted) if not self.present(group, instance) else {}
            started = (join_started or {}).get(instance.instance_id)
            if started is not None and not self.stamped(instance):
                tags[JOIN_STARTED_TAG] = started.astimezone(UTC).isoformat()
            if tags:
                batches.setdefault(tuple(sorted(tags.items())), []).append(instance.instance_id)
        tagged: list[str] = []
        for tags_written, untagged in batches.items():
            written = self._compute.tag_instances(untagged, dict(tags_written))
            view.note_tags(written, dict(tags_written))
            tagged.extend(written)
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
