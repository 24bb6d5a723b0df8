"""The tags a managed group's Windows instances carry: `kubernetes.io/cluster/<cluster>=owned` and
the operator's extra tags. One CreateTags call covers many instances, so the reconciler tags a
whole group's drifted instances at once and a launch event tags its one instance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from winnodes.decisions.join import dated_in_future, stamp_after_return, stamp_is_current
from winnodes.models.groups import (
    JOIN_STARTED_TAG,
    KUBERNETES_CLUSTER_TAG_PREFIX,
    RETURNED_TO_POOL_TAG,
    ManagedGroup,
)
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
        return _time_tag(instance, JOIN_STARTED_TAG)

    @staticmethod
    def returned_to_pool(instance: Instance) -> datetime | None:
        """When the instance last returned to the warm pool (RETURNED_TO_POOL_TAG), if ever."""
        return _time_tag(instance, RETURNED_TO_POOL_TAG)

    def stamped(self, instance: Instance, now: datetime) -> bool:
        """It carries the start of its current join (not an earlier launch's or stay's)."""
        return stamp_is_current(
            self.join_started(instance),
            launch_time=instance.launch_time,
            now=now,
            returned_at=self.returned_to_pool(instance),
        )

    @staticmethod
    def was_in_group(instance: Instance) -> bool:
        """It went through the group before: only an instance held in Pending:Wait is stamped,
        only one leaving the group is marked returned."""
        return (
            InstanceTags.join_started(instance) is not None
            or InstanceTags.returned_to_pool(instance) is not None
        )

    def mark_returned(self, instance: Instance, now: datetime, view: FleetView) -> bool:
        """Marks the instance as returning to the warm pool now, superseding its join-start
        stamp (a later draw then starts a join deadline of its own); once per return: a mark
        newer than the stamp is this return's. True when it wrote the mark."""
        returned = self.returned_to_pool(instance)
        stamped = self.join_started(instance)
        # A mark dated in the future is no mark of ours (stamp_is_current ignores it): replace it.
        if (
            returned is not None
            and not dated_in_future(returned, now)
            and (stamped is None or returned > stamped)
        ):
            return False
        tags = {RETURNED_TO_POOL_TAG: now.astimezone(UTC).isoformat()}
        written = self._compute.tag_instances([instance.instance_id], tags)
        view.note_tags(written, tags)
        return bool(written)

    def ensure(
        self,
        group: ManagedGroup,
        instance_ids: Iterable[str],
        view: FleetView,
        *,
        now: datetime,
        join_started: Mapping[str, datetime] | None = None,
    ) -> list[str]:
        """Tags those of `instance_ids` that are Windows instances lacking a wanted tag (and
        those in `join_started` lacking the stamp of their current join, as of `now`: that
        time); returns the ids it tagged.
        One call per set of tags written: a stamp already there is never rewritten. The view's
        instances are updated, not read again."""
        wanted = self.wanted(group)
        batches: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for instance in (view.instance(i) for i in dict.fromkeys(instance_ids)):
            if instance is None or instance.platform != InstancePlatform.WINDOWS:
                continue
            tags = dict(wanted) if not self.present(group, instance) else {}
            started = (join_started or {}).get(instance.instance_id)
            if started is not None and not self.stamped(instance, now):
                stamp = stamp_after_return(started, self.returned_to_pool(instance), now=now)
                tags[JOIN_STARTED_TAG] = stamp.astimezone(UTC).isoformat()
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


def _time_tag(instance: Instance, key: str) -> datetime | None:
    """A time tag (ISO 8601; UTC when it names no zone), None when absent or not a time."""
    value = instance.tags.get(key)
    try:
        stamped = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if stamped is not None and stamped.tzinfo is None:
        stamped = stamped.replace(tzinfo=UTC)
    return stamped
