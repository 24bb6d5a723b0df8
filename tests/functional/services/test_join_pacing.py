"""How one invocation paces a join: a step that took effect (tags written, node role authorized)
is followed at once by the next, without reading the fleet again; the service sleeps a poll
interval only while it waits, and reads the fleet again only after sleeping. A step that could
not take effect is retried after a pause, never in a tight loop."""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.helpers.join_world import ROLE, FakeAccessEntries, JoinWorld, launch_action
from winnodes.decisions.join import Abandon, AuthorizeNodeRole, CompleteContinue, ReleaseToWarmPool
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.ports import AccessEntry
from winnodes.services.join import JoinProgress, JoinSettings

POLL = timedelta(seconds=2)


def settings(*, wait_budget: timedelta = timedelta(minutes=10)) -> JoinSettings:
    return JoinSettings(
        poll_interval=POLL, wait_budget=wait_budget, smoke_test=SmokeTestPolicy(enabled=False)
    )


def writes_and_sleeps(journal: list[str]) -> list[str]:
    reads = ("describe", "list", "read", "get")
    return [e for e in journal if not any(read in e for read in reads)]


def test_work_steps_follow_each_other_and_only_waiting_sleeps() -> None:
    world = JoinWorld()
    world.compute.tags = {}
    world.access_entries.entries = set()
    world.kube.ready_from_read = 2  # not Ready on the first two looks

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue() and result.progress is JoinProgress.FINISHED
    assert writes_and_sleeps(world.journal) == [
        "ec2.create_tags",
        "eks.create_access_entry",
        "autoscaling.heartbeat",  # half the hook's timeout has passed since the launch
        "sleep 2",
        "sleep 2",
        "autoscaling.complete CONTINUE",
    ]
    # The node is looked at to start (the node list) and after each sleep (by name), none after
    # a work step; the group and instance once only, as 4 s is less than the fleet read interval.
    assert world.journal.count("kube.list_nodes") == 1
    assert world.journal.count("kube.get_node") == 2
    assert world.journal.count("ec2.describe_instances") == 1
    assert world.journal.count("autoscaling.describe_group") == 1


def test_a_node_already_ready_joins_without_a_single_sleep() -> None:
    world = JoinWorld()
    world.compute.tags = {}
    world.access_entries.entries = set()

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    assert writes_and_sleeps(world.journal) == [
        "ec2.create_tags",
        "eks.create_access_entry",
        "autoscaling.complete CONTINUE",
    ]


def test_tags_ec2_refuses_are_retried_after_a_pause() -> None:
    world = JoinWorld()
    world.compute.tags = {}
    world.compute.refusals = 2  # the new instance is not yet visible to CreateTags

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    assert writes_and_sleeps(world.journal) == [
        "ec2.create_tags refused",
        # Due at once (launched 5 minutes ago): a step that must wait heartbeats like the
        # wait for the node does, once per half heartbeat timeout.
        "autoscaling.heartbeat",
        "sleep 2",
        "ec2.create_tags refused",
        "sleep 2",
        "ec2.create_tags",
        "autoscaling.complete CONTINUE",
    ]


def test_a_role_that_cannot_be_authorized_is_retried_once_per_poll_until_the_budget_ends() -> None:
    world = JoinWorld()
    world.compute.role = None  # the instance profile has no role: nothing to authorize yet

    result = world.service(settings=settings(wait_budget=timedelta(seconds=10))).join(
        launch_action()
    )

    assert result.step == AuthorizeNodeRole()
    assert result.progress is JoinProgress.WAITING
    assert world.journal.count("sleep 2") == 5
    looks = world.journal.count("kube.list_nodes") + world.journal.count("kube.get_node")
    assert looks == 6  # one per look, not a busy loop
    assert world.autoscaling.completed == []


def test_a_role_given_to_the_instance_profile_meanwhile_is_authorized_in_the_same_invocation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The profile shows no role at first (IAM's eventual consistency, an operator's fix): the
    # profile is asked again once the fleet is read again, not taken as roleless for good.
    world = JoinWorld()
    world.compute.role = None
    world.access_entries.entries = set()
    sleep = world.clock.sleep

    def sleep_while_the_role_is_added(duration: float) -> None:
        sleep(duration)
        if world.clock.elapsed >= 4:
            world.compute.role = ROLE

    monkeypatch.setattr(world.clock, "sleep", sleep_while_the_role_is_added)

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    assert world.access_entries.entries == {ROLE}
    assert world.autoscaling.completed == ["CONTINUE"]


def test_an_instance_without_a_role_is_said_once_per_invocation_not_at_every_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = JoinWorld()
    world.compute.role = None

    with caplog.at_level(logging.WARNING, logger="eks-windows-nodes"):
        world.service(settings=settings(wait_budget=timedelta(seconds=10))).join(launch_action())

    said = [r for r in caplog.records if r.getMessage() == "instance has no IAM role to authorize"]
    assert len(said) == 1
    assert world.journal.count("sleep 2") == 5  # over six looks


def test_a_role_that_cannot_be_authorized_keeps_the_hook_alive_with_heartbeats() -> None:
    # Without them the hook (heartbeat timeout 600 s) would time out and apply its default
    # result long before the join's own 20-minute deadline.
    world = JoinWorld()
    world.compute.role = None

    world.service(settings=settings(wait_budget=timedelta(minutes=13))).join(launch_action())

    beats = [
        world.journal[:i].count("sleep 2") * 2
        for i, e in enumerate(world.journal)
        if e == "autoscaling.heartbeat"
    ]
    # Launched 5 minutes ago: due at once, then every 300 s (half the timeout) of the 780 s.
    assert beats == [0, 300, 600]
    assert world.autoscaling.completed == []


def test_the_deadline_abandons_after_waiting_polls() -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 10**6  # never Ready

    result = world.service(
        settings=JoinSettings(
            poll_interval=POLL,
            join_deadline=timedelta(minutes=5, seconds=6),  # launched 5 minutes ago
            smoke_test=SmokeTestPolicy(enabled=False),
        )
    ).join(launch_action())

    assert isinstance(result.step, Abandon)
    assert writes_and_sleeps(world.journal) == [
        "autoscaling.heartbeat",  # once: the next is not due within these polls
        "sleep 2",
        "sleep 2",
        "sleep 2",
        "autoscaling.complete ABANDON",
    ]


def test_windows_ipam_is_switched_on_when_the_role_is_authorized_already() -> None:
    world = JoinWorld()  # tagged, the role's access entry there: nothing else to do
    world.kube.windows_ipam = False
    world.kube.ready_from_read = 1

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    assert writes_and_sleeps(world.journal) == [
        "kube.enable_windows_ipam",
        "autoscaling.heartbeat",
        "sleep 2",
        "autoscaling.complete CONTINUE",
    ]
    # A cluster-wide setting: read once for the invocation, not on every poll.
    assert world.journal.count("kube.read_vpc_cni") == 1


def test_a_launch_into_the_warm_pool_is_held_until_its_node_registers_not_until_ready() -> None:
    world = JoinWorld()
    world.autoscaling.state = "Warmed:Pending:Wait"
    world.compute.tags = {}
    world.access_entries.entries = set()
    world.kube.registered_from_read = 2  # bootstrapping on the first two looks
    world.kube.ready_from_read = 1_000  # never Ready: stopped once released

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == ReleaseToWarmPool() and result.progress is JoinProgress.FINISHED
    # Prepared like any join, so that the bootstrap can register the node; cordoned and
    # released once it has, before Auto Scaling stops the instance. The cordon is in the view:
    # the release follows at once.
    assert writes_and_sleeps(world.journal) == [
        "ec2.create_tags",
        "eks.create_access_entry",
        "autoscaling.heartbeat",
        "sleep 2",
        "sleep 2",
        "kube.cordon_for_warm_pool",
        "autoscaling.complete CONTINUE",
    ]


def test_a_node_drawn_from_the_warm_pool_is_uncordoned_then_continued_at_once() -> None:
    world = JoinWorld()
    world.kube.unschedulable = world.kube.held_for_warm_pool = True
    world.kube.ready_from_read = 1  # Ready on the second look

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    assert writes_and_sleeps(world.journal) == [
        "autoscaling.heartbeat",
        "sleep 2",
        "kube.uncordon_from_warm_pool",
        "autoscaling.complete CONTINUE",
    ]
    assert not world.kube.unschedulable


def test_a_waiting_join_reads_its_node_every_poll_and_the_fleet_every_interval() -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 20  # Ready on the 21st look, 40 s in

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    # The group and instance at the start, then after 16 and 32 s (the first polls at least
    # 15 s after the last read); the node list at the start only (the next is due after 60 s);
    # the one node by name on every poll after it.
    assert world.journal.count("kube.list_nodes") == 1
    assert world.journal.count("kube.get_node") == 20
    assert world.journal.count("autoscaling.describe_group") == 3
    assert world.journal.count("ec2.describe_instances") == 3


def test_a_long_wait_lists_the_nodes_once_a_minute() -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 65  # Ready on the 66th look, 130 s in

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    # The fleet at 0, 16, 32, ... 128 s; the node list at 0, 64 and 128 s (the first fleet
    # reads at least 60 s after the last list).
    assert world.journal.count("autoscaling.describe_group") == 9
    assert world.journal.count("kube.list_nodes") == 3


def test_a_node_named_otherwise_is_found_by_the_next_node_list() -> None:
    world = JoinWorld()
    # A hostname override: the Node is not named after the instance's private DNS name, so
    # the GET by name never finds it; only the node list does.
    world.compute.private_dns_name = "i-0123456789abcdef0.us-east-1.compute.internal"
    world.kube.ready_from_read = 1  # Ready on its second read, the list at 64 s

    result = world.service(settings=settings()).join(launch_action())

    assert result.step == CompleteContinue()
    assert world.journal.count("kube.list_nodes") == 2
    assert sum(int(e.split()[1]) for e in world.journal if e.startswith("sleep")) == 64


class LinuxNodesEntry(FakeAccessEntries):
    """The role's access entry is EC2_LINUX: the join waits for an operator (BLOCKED)."""

    def entry(self, cluster: str, principal_arn: str) -> AccessEntry | None:
        return AccessEntry("EC2_LINUX")


def test_a_smoke_gated_join_waiting_on_its_role_reads_the_fleet_at_the_interval() -> None:
    # The group is read again before a smoke pod may start (a duplicate may have completed the
    # action); a join that cannot start one yet keeps the usual pace.
    world = JoinWorld()
    world.access_entries = LinuxNodesEntry(world.journal)
    smoke_on = replace(
        settings(wait_budget=timedelta(seconds=40)), smoke_test=SmokeTestPolicy(enabled=True)
    )

    result = world.service(settings=smoke_on).join(launch_action())

    assert result.progress is JoinProgress.WAITING
    assert world.journal.count("kube.get_node") >= 15  # looked at on every poll
    # At the start, then after 16 and 32 s: not on each of the 20 polls.
    assert world.journal.count("autoscaling.describe_group") == 3


def test_a_waiting_join_logs_each_reason_once_at_info(caplog: pytest.LogCaptureFixture) -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 3

    with caplog.at_level(logging.DEBUG, logger="eks-windows-nodes"):
        world.service(settings=settings()).join(launch_action())

    waiting = [r for r in caplog.records if r.getMessage() == "waiting for node"]
    assert [(r.levelname, vars(r)["reason"]) for r in waiting] == [
        ("INFO", "node not Ready"),
        ("DEBUG", "node not Ready"),
        ("DEBUG", "node not Ready"),
    ]


def test_a_long_wait_says_at_info_every_minute_how_long_it_has_waited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 10_000  # never Ready within the budget

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        world.service(settings=settings(wait_budget=timedelta(minutes=3))).join(launch_action())

    waiting = [vars(r) for r in caplog.records if r.getMessage() == "waiting for node"]
    waited = [record["waited_s"] for record in waiting]
    # The world's instance launched 5 minutes before the join began.
    assert len(waiting) == 4 and waited[0] == 300  # at once, then once a minute
    assert [b - a for a, b in itertools.pairwise(waited)] == [60, 60, 60]
    assert {record["deadline"] for record in waiting} == {"2026-03-02T09:15:00+00:00"}
