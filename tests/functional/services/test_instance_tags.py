"""InstanceTags: which of a group's instances get tagged, in how many calls, and what the pass's
view knows afterwards. EC2 is an in-memory stand-in that records each CreateTags request and,
as EC2 does, refuses none of these (known) instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from winnodes.models.groups import JOIN_STARTED_TAG, RETURNED_TO_POOL_TAG, ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.ports import Instance, InstancePlatform, InstanceProfileRole
from winnodes.services.fleet import Fleet
from winnodes.services.tagging import InstanceTags

GROUP = ManagedGroup("win-a", ClusterName("prod"))
OWNED = {"kubernetes.io/cluster/prod": "owned"}
EXTRA = {"team": "windows"}
NOW = datetime(2026, 3, 2, 1, tzinfo=UTC)


def instance(instance_id: str, tags: Mapping[str, str], *, windows: bool = True) -> Instance:
    return Instance(
        instance_id=instance_id,
        state="running",
        platform=InstancePlatform.WINDOWS if windows else InstancePlatform.LINUX,
        availability_zone="us-east-1a",
        private_dns_name=f"ip-{instance_id}.ec2.internal",
        launch_time=datetime(2026, 3, 2, tzinfo=UTC),
        tags=dict(tags),
    )


@dataclass
class Ec2:
    instances: dict[str, Instance]
    requests: list[list[str]] = field(default_factory=list)
    describes: int = 0

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        self.describes += 1
        return {i: self.instances[i] for i in instance_ids if i in self.instances}

    def tag_instances(self, instance_ids: Sequence[str], tags: Mapping[str, str]) -> list[str]:
        self.requests.append(list(instance_ids))
        for i in instance_ids:
            self.instances[i] = replace(self.instances[i], tags={**self.instances[i].tags, **tags})
        return list(instance_ids)

    def role_of_instance_profile(self, instance_profile_arn: str) -> InstanceProfileRole | None:
        return None


def fleet(ec2: Ec2) -> Fleet:
    # Tagging reads and writes EC2 only: the other ports are left out on purpose.
    return Fleet(autoscaling=None, compute=ec2, clusters=None, kube_for=None)  # type: ignore[arg-type]


def test_only_windows_instances_missing_or_differing_tags_are_tagged_in_one_request() -> None:
    ec2 = Ec2(
        {
            "i-new": instance("i-new", {}),
            "i-done": instance("i-done", OWNED | EXTRA),
            "i-drifted": instance("i-drifted", OWNED | {"team": "linux"}),
            "i-linux": instance("i-linux", {}, windows=False),
        }
    )
    view = fleet(ec2).view()

    tagged = InstanceTags(compute=ec2, extra_tags=EXTRA).ensure(
        GROUP, ["i-new", "i-done", "i-drifted", "i-linux", "i-gone"], view, now=NOW
    )

    assert tagged == ["i-new", "i-drifted"]
    assert ec2.requests == [["i-new", "i-drifted"]]
    assert ec2.instances["i-drifted"].tags["team"] == "windows"
    assert ec2.instances["i-linux"].tags == {}


def test_the_view_keeps_what_was_written_so_a_second_pass_neither_tags_nor_reads() -> None:
    ec2 = Ec2({"i-a": instance("i-a", {}), "i-b": instance("i-b", {"other": "kept"})})
    view = fleet(ec2).view()
    tags = InstanceTags(compute=ec2, extra_tags={})
    tags.ensure(GROUP, ["i-a", "i-b"], view, now=NOW)
    describes = ec2.describes

    assert tags.ensure(GROUP, ["i-a", "i-b"], view, now=NOW) == []
    assert ec2.requests == [["i-a", "i-b"]]
    assert ec2.describes == describes
    kept = view.instance("i-b")
    assert kept is not None
    assert kept.tags == {"other": "kept"} | OWNED


def test_an_extra_tag_cannot_change_the_cluster_tag() -> None:
    # Settings refuse such a key; this holds even for a caller that builds InstanceTags itself.
    ec2 = Ec2({"i-a": instance("i-a", {})})
    tags = InstanceTags(compute=ec2, extra_tags={"kubernetes.io/cluster/prod": "shared"})

    tags.ensure(GROUP, ["i-a"], fleet(ec2).view(), now=NOW)

    assert ec2.instances["i-a"].tags == OWNED


def test_a_join_start_stamp_dated_in_the_future_is_replaced_by_the_joins_own() -> None:
    # Anyone can write the tag; a future date would put the join's deadline out of reach.
    ec2 = Ec2({"i-a": instance("i-a", OWNED | {JOIN_STARTED_TAG: "2099-01-01T00:00:00+00:00"})})
    tags = InstanceTags(compute=ec2, extra_tags={})

    tags.ensure(GROUP, ["i-a"], fleet(ec2).view(), now=NOW, join_started={"i-a": NOW})

    assert ec2.instances["i-a"].tags[JOIN_STARTED_TAG] == NOW.isoformat()


def test_a_return_mark_dated_in_the_future_is_replaced_on_a_real_return() -> None:
    stamped = OWNED | {
        JOIN_STARTED_TAG: NOW.isoformat(),
        RETURNED_TO_POOL_TAG: "2099-01-01T00:00:00+00:00",
    }
    ec2 = Ec2({"i-a": instance("i-a", stamped)})
    view = fleet(ec2).view()
    returned_at = NOW + timedelta(hours=1)
    kept = view.instance("i-a")
    assert kept is not None

    assert InstanceTags(compute=ec2, extra_tags={}).mark_returned(kept, returned_at, view)
    assert ec2.instances["i-a"].tags[RETURNED_TO_POOL_TAG] == returned_at.isoformat()


def test_a_stamp_written_after_a_return_mark_from_a_clock_ahead_reads_as_current() -> None:
    # The mark, 20 s ahead of our clock: a stamp of `now` would read as the previous stay's,
    # and every look of the join would stamp again.
    ahead = NOW + timedelta(seconds=20)
    ec2 = Ec2({"i-a": instance("i-a", OWNED | {RETURNED_TO_POOL_TAG: ahead.isoformat()})})
    view = fleet(ec2).view()
    tags = InstanceTags(compute=ec2, extra_tags={})

    tags.ensure(GROUP, ["i-a"], view, now=NOW, join_started={"i-a": NOW})
    stamped = view.instance("i-a")

    assert stamped is not None and tags.stamped(stamped, NOW)
    assert tags.ensure(GROUP, ["i-a"], view, now=NOW, join_started={"i-a": NOW}) == []
    assert len(ec2.requests) == 1
