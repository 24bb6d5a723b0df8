"""A group's instances merged with its warm pool's (DescribeAutoScalingGroups leaves the pool
out; DescribeWarmPool lists it): every instance once, as the later read (the pool) shows it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from winnodes.adapters.autoscaling import merge_members
from winnodes.ports import GroupInstance

_IDS = st.sampled_from([f"i-{n:017x}" for n in range(8)])
_STATES = st.sampled_from(["Pending:Wait", "InService", "Warmed:Pending:Wait", "Warmed:Running"])
_MEMBERS = st.lists(st.builds(GroupInstance, instance_id=_IDS, lifecycle_state=_STATES))


@given(in_group=_MEMBERS, in_pool=_MEMBERS)
def test_every_instance_once_as_the_pool_shows_it_else_as_the_group_does(
    in_group: list[GroupInstance], in_pool: list[GroupInstance]
) -> None:
    merged = merge_members(in_group, in_pool)

    ids = [m.instance_id for m in merged]
    assert len(ids) == len(set(ids))
    assert set(ids) == {m.instance_id for m in [*in_group, *in_pool]}
    last_in_pool = {m.instance_id: m for m in in_pool}
    last_in_group = {m.instance_id: m for m in in_group}
    for member in merged:
        assert member == last_in_pool.get(member.instance_id, last_in_group.get(member.instance_id))


def test_a_warm_pool_instance_is_listed_with_its_warmed_state() -> None:
    group = [GroupInstance("i-1", "InService")]
    pool = [GroupInstance("i-2", "Warmed:Pending:Wait")]

    assert merge_members(group, pool) == (*group, *pool)
