"""Join decision: one step at a time, CONTINUE only for a Ready node."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.deadlines import CAPPED_DEADLINE_CASES
from winnodes.decisions.heartbeat import heartbeat_due, hook_global_timeout
from winnodes.decisions.join import (
    DEFAULT_JOIN_DEADLINE,
    Abandon,
    AuthorizeNodeRole,
    CompleteContinue,
    CordonForWarmPool,
    EnableWindowsIpam,
    JoinFacts,
    NodeAuthorization,
    NothingToDo,
    ReleaseToWarmPool,
    StartSmokeTest,
    TagInstance,
    UncordonFromWarmPool,
    WaitForNode,
    decide_fleet_step,
    decide_join_step,
    decide_unobserved_step,
)
from winnodes.decisions.smoke import SmokeTest
from winnodes.models.lifecycle import LifecycleState

T0 = datetime(2025, 6, 2, 9, 14, 37, tzinfo=UTC)
HEARTBEAT = timedelta(minutes=5)

FRESH = JoinFacts(
    in_group=True,
    lifecycle_state=LifecycleState.PENDING_WAIT,
    instance_found=True,
    is_windows=True,
    tags_present=False,
    authorization=NodeAuthorization.MISSING,
    windows_ipam_enabled=True,
    node_found=False,
    node_ready=False,
    action_started_at=T0,
    heartbeat_timeout=HEARTBEAT,
)
JOINED = replace(
    FRESH,
    tags_present=True,
    authorization=NodeAuthorization.AUTHORIZED,
    node_found=True,
    node_ready=True,
)


def step(facts: JoinFacts, after: timedelta = timedelta(seconds=30)) -> object:
    return decide_join_step(facts, now=T0 + after)


def test_a_fresh_instance_walks_tag_authorize_wait_continue() -> None:
    assert step(FRESH) == TagInstance()
    tagged = replace(FRESH, tags_present=True)
    assert step(tagged) == AuthorizeNodeRole()
    authorized = replace(tagged, authorization=NodeAuthorization.AUTHORIZED)
    waiting = step(authorized)
    assert isinstance(waiting, WaitForNode)
    assert waiting.reason == "node not registered"
    registered = replace(authorized, node_found=True)
    assert isinstance(step(registered), WaitForNode)
    assert step(replace(registered, node_ready=True)) == CompleteContinue()


def test_windows_ipam_is_switched_on_for_an_already_authorized_role() -> None:
    # The role often has its entry already (created by the infrastructure code): the cluster's
    # Windows IPAM must still be on, or the Ready node's pods never get an IP.
    ipam_off = replace(JOINED, windows_ipam_enabled=False)
    assert step(ipam_off) == EnableWindowsIpam()
    assert step(ipam_off, DEFAULT_JOIN_DEADLINE) == Abandon(
        "not joined by the deadline: Windows IPAM not enabled"
    )
    assert step(replace(ipam_off, windows_ipam_enabled=True)) == CompleteContinue()


def test_default_deadline_is_twenty_minutes() -> None:
    assert timedelta(minutes=20) == DEFAULT_JOIN_DEADLINE
    nearly = step(replace(JOINED, node_ready=False), timedelta(minutes=19, seconds=59))
    assert isinstance(nearly, WaitForNode)
    assert nearly.deadline_at == T0 + timedelta(minutes=20)
    late = step(replace(JOINED, node_ready=False), timedelta(minutes=20))
    assert late == Abandon("not joined by the deadline: node not Ready")


def test_deadline_ends_well_before_what_the_hook_allows() -> None:
    # 100 × 30 s = 50 min cap; a 2 h join deadline ends 10 minutes before the hook would.
    facts = replace(
        FRESH, heartbeat_timeout=timedelta(seconds=30), join_deadline=timedelta(hours=2)
    )
    assert facts.deadline_at == T0 + timedelta(minutes=40)


def test_a_hook_shorter_than_aws_allows_keeps_a_fifth_of_its_limit_as_margin() -> None:
    # 100 × 8 s = 800 s: 10 minutes would leave the join 200 s; a fifth leaves it 640 s.
    facts = replace(FRESH, heartbeat_timeout=timedelta(seconds=8), join_deadline=timedelta(hours=1))
    assert facts.deadline_at == T0 + timedelta(seconds=640)


@pytest.mark.parametrize(("heartbeat_s", "configured_s", "effective_s"), CAPPED_DEADLINE_CASES)
def test_the_join_deadline_is_capped_before_the_hooks_global_timeout(
    heartbeat_s: int, configured_s: int, effective_s: int
) -> None:
    facts = replace(
        JOINED,
        node_ready=False,
        heartbeat_timeout=timedelta(seconds=heartbeat_s),
        join_deadline=timedelta(seconds=configured_s),
        last_heartbeat_at=T0 + timedelta(seconds=effective_s - 1),
    )
    deadline = T0 + timedelta(seconds=effective_s)
    assert facts.deadline_at == deadline
    assert decide_join_step(facts, now=deadline - timedelta(seconds=1)) == WaitForNode(
        reason="node not Ready", heartbeat_due=False, deadline_at=deadline
    )
    assert decide_join_step(facts, now=deadline) == Abandon(
        "not joined by the deadline: node not Ready"
    )


@pytest.mark.parametrize(("heartbeat_s", "configured_s", "effective_s"), CAPPED_DEADLINE_CASES)
def test_an_instance_never_seen_in_ec2_is_abandoned_at_the_capped_deadline(
    heartbeat_s: int, configured_s: int, effective_s: int
) -> None:
    unseen = replace(
        FRESH,
        instance_found=False,
        heartbeat_timeout=timedelta(seconds=heartbeat_s),
        join_deadline=timedelta(seconds=configured_s),
    )
    deadline = T0 + timedelta(seconds=effective_s)
    assert decide_join_step(unseen, now=deadline - timedelta(seconds=1)) == WaitForNode(
        reason="instance not yet visible in EC2", heartbeat_due=True, deadline_at=deadline
    )
    assert decide_join_step(unseen, now=deadline) == Abandon("instance never became visible in EC2")


@given(
    heartbeat_s=st.integers(min_value=30, max_value=7_200),
    configured_s=st.integers(min_value=1, max_value=60 * 3_600),
)
def test_the_join_ends_at_the_configured_deadline_or_before_the_hooks_limit_whichever_is_sooner(
    heartbeat_s: int, configured_s: int
) -> None:
    facts = replace(
        JOINED,
        node_ready=False,
        heartbeat_timeout=timedelta(seconds=heartbeat_s),
        join_deadline=timedelta(seconds=configured_s),
    )
    effective = min(configured_s, min(100 * heartbeat_s, 48 * 3_600) - 600)
    deadline = T0 + timedelta(seconds=effective)
    assert facts.deadline_at == deadline
    before = decide_join_step(facts, now=deadline - timedelta(seconds=1))
    assert isinstance(before, WaitForNode)
    assert (before.reason, before.deadline_at) == ("node not Ready", deadline)
    assert decide_join_step(facts, now=deadline) == Abandon(
        "not joined by the deadline: node not Ready"
    )


def test_ready_node_continues_even_after_the_deadline() -> None:
    assert step(JOINED, timedelta(hours=1)) == CompleteContinue()


def test_smoke_test_gates_continue() -> None:
    pending = replace(JOINED, smoke=SmokeTest.PENDING)
    waiting = step(pending)
    assert isinstance(waiting, WaitForNode)
    assert waiting.reason == "smoke test not passed yet"
    assert step(replace(JOINED, smoke=SmokeTest.PASSED)) == CompleteContinue()
    assert isinstance(step(replace(JOINED, smoke=SmokeTest.FAILED)), Abandon)


SMOKE_READY = replace(JOINED, smoke=SmokeTest.NOT_STARTED, windows_build="10.0.20348")


def test_a_ready_node_gets_the_smoke_pod_of_its_windows_release() -> None:
    assert step(SMOKE_READY) == StartSmokeTest("mcr.microsoft.com/windows/nanoserver:ltsc2022")
    ltsc2019 = replace(SMOKE_READY, windows_build="10.0.17763")
    assert step(ltsc2019) == StartSmokeTest("mcr.microsoft.com/windows/nanoserver:ltsc2019")


def test_the_operators_image_wins_over_the_default() -> None:
    mine = replace(SMOKE_READY, smoke_image="registry.internal/smoke:1", windows_build=None)
    assert step(mine) == StartSmokeTest("registry.internal/smoke:1")


def test_an_unknown_windows_build_is_abandoned_asking_for_an_image() -> None:
    result = step(replace(SMOKE_READY, windows_build="10.0.30000"))
    assert isinstance(result, Abandon) and result.smoke_test_failed
    assert "10.0.30000" in result.reason and "SMOKE_TEST_IMAGE" in result.reason


MY_IMAGE = "registry.internal/smoke:1"


@pytest.mark.parametrize(
    "build", ["10.0.17763", "10.0.20348", "10.0.26100", "10.0.20348.2113", "10.0.30000", None]
)
def test_the_operators_image_is_used_whatever_the_nodes_build(build: str | None) -> None:
    # Even for a build with a Nano Server default: the operator may need a private mirror.
    mine = replace(SMOKE_READY, smoke_image=MY_IMAGE, windows_build=build)
    assert step(mine) == StartSmokeTest(MY_IMAGE)


@pytest.mark.parametrize(
    ("build", "image"),
    [
        ("10.0.17763", "mcr.microsoft.com/windows/nanoserver:ltsc2019"),
        ("10.0.20348", "mcr.microsoft.com/windows/nanoserver:ltsc2022"),
        ("10.0.26100", "mcr.microsoft.com/windows/nanoserver:ltsc2025"),
        ("10.0.26100.4349", "mcr.microsoft.com/windows/nanoserver:ltsc2025"),
    ],
)
def test_without_an_operators_image_the_node_gets_nano_server_of_its_build(
    build: str, image: str
) -> None:
    assert step(replace(SMOKE_READY, smoke_image=None, windows_build=build)) == StartSmokeTest(
        image
    )


@pytest.mark.parametrize("build", ["10.0.30000", "10.0.19041", None])
def test_a_build_without_a_default_and_no_operators_image_fails_the_smoke_test(
    build: str | None,
) -> None:
    assert step(replace(SMOKE_READY, smoke_image=None, windows_build=build)) == Abandon(
        f"smoke test: no default image for Windows build {build!r}; "
        "set SMOKE_TEST_IMAGE to an image this node can run",
        smoke_test_failed=True,
    )


@given(
    image=st.from_regex(r"[a-z0-9]{1,12}(/[a-z0-9]{1,12}){0,2}:[a-z0-9.]{1,12}", fullmatch=True),
    build=st.none()
    | st.sampled_from(["10.0.17763", "10.0.20348", "10.0.26100"])
    | st.text(max_size=16),
)
def test_a_configured_image_always_starts_the_smoke_test_with_that_image(
    image: str, build: str | None
) -> None:
    assert step(replace(SMOKE_READY, smoke_image=image, windows_build=build)) == StartSmokeTest(
        image
    )


def test_the_smoke_pod_waits_for_a_ready_node() -> None:
    not_ready = step(replace(SMOKE_READY, node_ready=False))
    assert isinstance(not_ready, WaitForNode) and not_ready.reason == "node not Ready"
    late = step(SMOKE_READY, DEFAULT_JOIN_DEADLINE)
    assert late == Abandon("not joined by the deadline: smoke test not started")


def test_a_failed_smoke_pod_abandons_with_its_reason() -> None:
    failed = replace(JOINED, smoke=SmokeTest.FAILED, smoke_detail="smoke pod failed: exit code 1")
    assert step(failed) == Abandon(
        "smoke test failed on the new node: smoke pod failed: exit code 1", smoke_test_failed=True
    )


def test_a_pending_smoke_pod_says_what_it_waits_for() -> None:
    pending = replace(
        JOINED, smoke=SmokeTest.PENDING, smoke_detail="smoke pod Pending: ErrImagePull"
    )
    waiting = step(pending)
    assert isinstance(waiting, WaitForNode)
    assert waiting.reason == "smoke test not passed yet (smoke pod Pending: ErrImagePull)"


def test_heartbeat_at_half_the_hook_timeout() -> None:
    waiting = replace(JOINED, node_ready=False)
    early = step(waiting, timedelta(minutes=2, seconds=29))
    due = step(waiting, timedelta(minutes=2, seconds=30))
    assert isinstance(early, WaitForNode) and not early.heartbeat_due
    assert isinstance(due, WaitForNode) and due.heartbeat_due
    sent = replace(waiting, last_heartbeat_at=T0 + timedelta(minutes=3))
    after = step(sent, timedelta(minutes=4))
    assert isinstance(after, WaitForNode) and not after.heartbeat_due


def test_an_action_whose_start_is_unknown_gets_a_heartbeat_at_first_sight() -> None:
    # The reconciler finds a warm-pool draw without its event: it began before first sight.
    first_sight = replace(JOINED, node_ready=False, started_at_known=False)
    at_once = step(first_sight, timedelta(0))
    assert isinstance(at_once, WaitForNode) and at_once.heartbeat_due
    sent = replace(first_sight, last_heartbeat_at=T0)
    later = step(sent, timedelta(minutes=2, seconds=29))
    assert isinstance(later, WaitForNode) and not later.heartbeat_due


def test_heartbeat_helpers() -> None:
    assert heartbeat_due(last_heartbeat_at=T0, heartbeat_timeout=HEARTBEAT, now=T0 + HEARTBEAT / 2)
    assert not heartbeat_due(last_heartbeat_at=T0, heartbeat_timeout=HEARTBEAT, now=T0)
    assert hook_global_timeout(timedelta(hours=1)) == timedelta(hours=48)
    assert hook_global_timeout(timedelta(minutes=5)) == timedelta(minutes=500)


def test_linux_instance_is_abandoned() -> None:
    result = step(replace(FRESH, is_windows=False))
    assert isinstance(result, Abandon)
    assert "Windows" in result.reason


def test_instance_not_yet_visible_waits_then_abandons() -> None:
    unseen = replace(FRESH, instance_found=False)
    assert isinstance(step(unseen), WaitForNode)
    assert isinstance(step(unseen, DEFAULT_JOIN_DEADLINE), Abandon)


@pytest.mark.parametrize("facts", [FRESH, JOINED, replace(FRESH, instance_found=False)])
def test_an_instance_terminated_while_held_is_abandoned_at_once(facts: JoinFacts) -> None:
    # Long before the deadline, whatever else was seen (or the node, registered, still Ready).
    result = step(replace(facts, instance_terminating=True), timedelta(seconds=1))
    assert result == Abandon("instance was terminated in EC2 before it joined")


def test_a_terminated_instance_of_another_group_or_action_is_left_alone() -> None:
    gone = replace(JOINED, instance_terminating=True)
    assert isinstance(step(replace(gone, in_group=False)), NothingToDo)
    assert isinstance(
        step(replace(gone, lifecycle_state=LifecycleState.TERMINATING_WAIT)), NothingToDo
    )
    assert isinstance(step(replace(gone, token_refused=True)), NothingToDo)


def test_blocked_authorization_waits_for_an_operator_then_abandons_with_the_reason() -> None:
    blocked = replace(FRESH, tags_present=True, authorization=NodeAuthorization.BLOCKED)
    assert isinstance(step(blocked), WaitForNode)
    late = step(blocked, DEFAULT_JOIN_DEADLINE)
    assert isinstance(late, Abandon)
    assert "aws-auth is malformed" in late.reason
    # A role the operator's setting refuses is BLOCKED too: the reason names the setting.
    assert "NODE_ROLE_ARNS does not allow it" in late.reason


@pytest.mark.parametrize(
    "state",
    [
        LifecycleState.IN_SERVICE,
        LifecycleState.PENDING_PROCEED,
        LifecycleState.TERMINATING_WAIT,
        LifecycleState.TERMINATED,
        None,
    ],
)
def test_nothing_to_do_once_the_action_is_no_longer_pending(state: LifecycleState | None) -> None:
    assert isinstance(step(replace(JOINED, lifecycle_state=state)), NothingToDo)


def test_instance_of_another_group_is_left_alone() -> None:
    assert isinstance(
        step(replace(FRESH, in_group=False, is_windows=False), timedelta(hours=1)), NothingToDo
    )


def test_a_launch_into_the_warm_pool_is_prepared_and_released_once_its_node_registers() -> None:
    # Auto Scaling stops the instance once released, cutting short a bootstrap still running:
    # prepared as any join, then held until the bootstrap registered the node, Ready or not.
    warm = replace(FRESH, lifecycle_state=LifecycleState.WARMED_PENDING_WAIT)
    assert step(warm) == TagInstance()
    tagged = replace(warm, tags_present=True)
    assert step(tagged) == AuthorizeNodeRole()
    authorized = replace(tagged, authorization=NodeAuthorization.AUTHORIZED)
    assert step(replace(authorized, windows_ipam_enabled=False)) == EnableWindowsIpam()
    waiting = step(authorized)
    assert isinstance(waiting, WaitForNode) and waiting.reason == "node not registered"
    registered = replace(authorized, node_found=True)
    assert step(registered) == CordonForWarmPool()  # no pods on it while in the pool
    held = replace(registered, node_unschedulable=True, node_held_for_warm_pool=True)
    assert step(held) == ReleaseToWarmPool()
    # The smoke test waits for the draw from the pool (Pending:Wait), when the node serves.
    assert step(replace(held, smoke=SmokeTest.NOT_STARTED)) == ReleaseToWarmPool()
    # Cordoned already by someone else: released as it is, and not marked as ours.
    assert step(replace(registered, node_unschedulable=True)) == ReleaseToWarmPool()


def test_a_node_drawn_from_the_warm_pool_is_uncordoned_once_ready_and_tested() -> None:
    drawn = replace(JOINED, node_unschedulable=True, node_held_for_warm_pool=True)
    assert step(drawn) == UncordonFromWarmPool()
    assert isinstance(step(replace(drawn, node_ready=False)), WaitForNode)
    smoke_pending = replace(drawn, smoke=SmokeTest.NOT_STARTED, windows_build="10.0.20348")
    assert isinstance(step(smoke_pending), StartSmokeTest)  # bound by nodeName: cordon or not
    assert step(replace(drawn, smoke=SmokeTest.PASSED)) == UncordonFromWarmPool()
    uncordoned = replace(drawn, node_unschedulable=False, node_held_for_warm_pool=False)
    assert step(uncordoned) == CompleteContinue()
    # An operator's cordon is theirs to lift.
    assert step(replace(uncordoned, node_unschedulable=True)) == CompleteContinue()


def test_a_launch_into_the_warm_pool_whose_node_never_registers_is_abandoned_at_the_deadline() -> (
    None
):
    unregistered = replace(
        JOINED, lifecycle_state=LifecycleState.WARMED_PENDING_WAIT, node_found=False
    )
    assert isinstance(step(unregistered, DEFAULT_JOIN_DEADLINE - timedelta(seconds=1)), WaitForNode)
    assert step(unregistered, DEFAULT_JOIN_DEADLINE) == Abandon(
        "not bootstrapped in the warm pool by the deadline: node not registered"
    )
    # Registered by then: cordoned and released, as its bootstrap is done.
    registered = replace(unregistered, node_found=True, node_ready=False)
    assert step(registered, DEFAULT_JOIN_DEADLINE) == CordonForWarmPool()
    held = replace(registered, node_unschedulable=True, node_held_for_warm_pool=True)
    assert step(held, DEFAULT_JOIN_DEADLINE) == ReleaseToWarmPool()


FACTS = st.builds(
    JoinFacts,
    in_group=st.booleans(),
    lifecycle_state=st.none() | st.sampled_from(LifecycleState),
    instance_found=st.booleans(),
    is_windows=st.booleans(),
    tags_present=st.booleans(),
    authorization=st.sampled_from(NodeAuthorization),
    windows_ipam_enabled=st.booleans(),
    node_found=st.booleans(),
    node_ready=st.booleans(),
    node_unschedulable=st.booleans(),
    node_held_for_warm_pool=st.booleans(),
    smoke=st.sampled_from(SmokeTest),
    smoke_detail=st.none() | st.text(max_size=20),
    windows_build=st.none() | st.sampled_from(["10.0.17763", "10.0.20348", "10.0.19041"]),
    smoke_image=st.none() | st.just("registry.internal/smoke:1"),
    action_started_at=st.just(T0),
    last_heartbeat_at=st.none() | st.timedeltas(timedelta(0), timedelta(hours=3)).map(T0.__add__),
    heartbeat_timeout=st.timedeltas(timedelta(seconds=30), timedelta(hours=2)),
    join_deadline=st.timedeltas(timedelta(minutes=1), timedelta(hours=3)),
)
ELAPSED = st.timedeltas(timedelta(0), timedelta(hours=60))


@given(FACTS, ELAPSED)
def test_never_continue_unless_the_node_is_ready_and_smoke_ok(
    facts: JoinFacts, elapsed: timedelta
) -> None:
    result = decide_join_step(facts, now=T0 + elapsed)
    if isinstance(result, CompleteContinue):
        assert facts.node_found and facts.node_ready
        assert facts.smoke in {SmokeTest.DISABLED, SmokeTest.PASSED}
        assert facts.in_group and facts.lifecycle_state is not None
        assert facts.lifecycle_state.awaits_launch_action
        assert facts.tags_present and facts.authorization is NodeAuthorization.AUTHORIZED
        assert facts.windows_ipam_enabled
        assert not facts.node_held_for_warm_pool  # our cordon lifted first


@given(FACTS, ELAPSED)
def test_continue_without_a_ready_node_only_into_the_warm_pool_once_registered(
    facts: JoinFacts, elapsed: timedelta
) -> None:
    # The instance is stopped after this: it serves nothing until it leaves the pool. Its
    # bootstrap is done (the node registered), which needed everything of ours.
    if isinstance(decide_join_step(facts, now=T0 + elapsed), ReleaseToWarmPool):
        assert facts.lifecycle_state is LifecycleState.WARMED_PENDING_WAIT
        assert facts.in_group and facts.instance_found and facts.is_windows
        assert facts.node_found and facts.tags_present and facts.windows_ipam_enabled
        assert facts.authorization is NodeAuthorization.AUTHORIZED
        assert facts.node_unschedulable or facts.node_held_for_warm_pool  # takes no pods


@given(FACTS, ELAPSED)
def test_the_warm_pool_cordon_is_set_in_the_pool_and_lifted_only_from_a_drawn_node(
    facts: JoinFacts, elapsed: timedelta
) -> None:
    result = decide_join_step(facts, now=T0 + elapsed)
    if isinstance(result, CordonForWarmPool):
        assert facts.lifecycle_state is LifecycleState.WARMED_PENDING_WAIT
        assert facts.node_found and not facts.node_unschedulable
    if isinstance(result, UncordonFromWarmPool):
        assert facts.lifecycle_state is LifecycleState.PENDING_WAIT
        assert facts.node_held_for_warm_pool and facts.node_found and facts.node_ready
        assert facts.smoke in {SmokeTest.DISABLED, SmokeTest.PASSED}


@given(FACTS, ELAPSED)
def test_no_side_effect_on_instances_without_a_pending_launch_action(
    facts: JoinFacts, elapsed: timedelta
) -> None:
    result = decide_join_step(facts, now=T0 + elapsed)
    pending = facts.lifecycle_state is not None and facts.lifecycle_state.awaits_launch_action
    if not (facts.in_group and pending):
        assert isinstance(result, NothingToDo)


@given(FACTS, ELAPSED)
def test_without_the_cluster_a_join_ends_at_its_deadline_and_only_in_abandon(
    facts: JoinFacts, elapsed: timedelta
) -> None:
    # What decide_fleet_step leaves to the cluster's facts, when they cannot be read: the same
    # deadline as with them, and never a CONTINUE, which needs them.
    now = T0 + elapsed
    result = decide_unobserved_step(facts, now=now, failure="connect timeout")
    if now >= facts.deadline_at:
        assert result == Abandon(
            "not joined by the deadline: the cluster could not be read (connect timeout)"
        )
    else:
        assert result is None


@given(FACTS, ELAPSED)
def test_past_the_deadline_the_answer_is_final(facts: JoinFacts, elapsed: timedelta) -> None:
    now = T0 + elapsed
    result = decide_join_step(facts, now=now)
    if now >= facts.deadline_at:
        assert isinstance(result, Abandon | CompleteContinue | ReleaseToWarmPool | NothingToDo)
    if isinstance(result, WaitForNode):
        assert now < result.deadline_at


@given(FACTS, ELAPSED)
def test_a_smoke_pod_starts_only_on_a_joined_node_before_the_deadline(
    facts: JoinFacts, elapsed: timedelta
) -> None:
    now = T0 + elapsed
    result = decide_join_step(facts, now=now)
    if isinstance(result, StartSmokeTest):
        assert facts.smoke is SmokeTest.NOT_STARTED
        assert facts.node_found and facts.node_ready and facts.is_windows
        assert facts.tags_present and facts.authorization is NodeAuthorization.AUTHORIZED
        assert facts.windows_ipam_enabled  # the pod needs an IP
        assert now < facts.deadline_at
        assert result.image == facts.smoke_image or result.image.startswith(
            "mcr.microsoft.com/windows/nanoserver:ltsc"
        )
    if isinstance(result, Abandon) and result.smoke_test_failed:
        assert facts.smoke in {SmokeTest.FAILED, SmokeTest.NOT_STARTED}


# What only the cluster can say: decide_fleet_step must decide without any of it.
CLUSTER_FACTS = st.fixed_dictionaries(
    {
        "tags_present": st.booleans(),
        "authorization": st.sampled_from(NodeAuthorization),
        "windows_ipam_enabled": st.booleans(),
        "node_found": st.booleans(),
        "node_ready": st.booleans(),
        "smoke": st.sampled_from(SmokeTest),
        "smoke_detail": st.none() | st.text(max_size=20),
        "windows_build": st.none() | st.just("10.0.20348"),
    }
)


@given(FACTS, CLUSTER_FACTS, ELAPSED)
def test_the_fleet_step_reads_no_cluster_fact_and_is_the_join_step_when_it_decides(
    facts: JoinFacts, other_cluster_facts: dict[str, object], elapsed: timedelta
) -> None:
    now = T0 + elapsed
    fleet_step = decide_fleet_step(facts, now=now)
    assert decide_fleet_step(replace(facts, **other_cluster_facts), now=now) == fleet_step  # type: ignore[arg-type]
    if fleet_step is not None:
        assert decide_join_step(facts, now=now) == fleet_step
