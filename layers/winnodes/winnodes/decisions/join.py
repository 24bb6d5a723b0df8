"""The next step of joining a launching instance as a Windows node, from observed facts.

Called on the launch event and on every reconciler tick; each call returns one step, the service
performs it and asks again. Safety rule 3: CONTINUE only once the node is Ready (and the smoke test
passed when enabled); AWS's advice for launch hooks is the same
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html).
With the smoke test enabled, a Ready node first gets its smoke pod (decisions.smoke); a pod that
fails ABANDONs the action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from winnodes.decisions.heartbeat import heartbeat_due, hook_deadline_limit
from winnodes.decisions.smoke import SmokeTest, default_smoke_image
from winnodes.models.lifecycle import LifecycleState

# Windows nodes take several minutes to boot and bootstrap; NTH#1205 shows what a short poll does.
DEFAULT_JOIN_DEADLINE: Final = timedelta(minutes=20)
# A join-start stamp this much older than LaunchTime belongs to an earlier launch; one this much
# later than now was not written by us (clocks of Lambda and EC2 may differ by seconds).
_STAMP_TOLERANCE: Final = timedelta(minutes=1)
# The finest step a time tag shows (ISO 8601 with microseconds).
_STAMP_STEP: Final = timedelta(microseconds=1)


def stamp_is_current(
    stamped: datetime | None,
    *,
    launch_time: datetime,
    now: datetime,
    returned_at: datetime | None = None,
) -> bool:
    """The stamp is this join's: not an earlier launch's (older than LaunchTime), and not from
    before the instance last returned to the warm pool (RETURNED_TO_POOL_TAG). The second
    matters for a Running pool: its instance keeps LaunchTime across a return and a new draw,
    so only the return says that the stamp belongs to its previous stay in the group.

    Tags are anyone's to write: a time in the future is no stamp of ours, and taken for one it
    would put the deadline out of reach (or past the last date a datetime holds)."""
    if stamped is None or stamped < launch_time - _STAMP_TOLERANCE or dated_in_future(stamped, now):
        return False
    return returned_at is None or dated_in_future(returned_at, now) or stamped > returned_at


def stamp_after_return(
    started: datetime, returned_at: datetime | None, *, now: datetime
) -> datetime:
    """The join-start stamp to write for a join that started at `started`: never at or before
    the instance's last return to the pool, which would make it read as the previous stay's
    (stamp_is_current), and the join would stamp again at every look. A return mark from a
    clock ahead of ours, within the tolerance, can be later than our `now`."""
    if returned_at is None or dated_in_future(returned_at, now) or started > returned_at:
        return started
    return returned_at + _STAMP_STEP


def dated_in_future(moment: datetime, now: datetime) -> bool:
    """A time tag later than now by more than clocks disagree: not written by us."""
    return moment > now + _STAMP_TOLERANCE


# Kubelet and EC2 clocks (both synced to Amazon Time Sync) may disagree by this much.
_READY_CLOCK_TOLERANCE: Final = timedelta(seconds=5)


def ready_since_launch(reported_at: datetime | None, *, launch_time: datetime) -> bool:
    """Whether a Ready condition was reported during the instance's current run (EC2's
    LaunchTime: its last start). A Node outlives its instance's stop: one stopped into a warm
    pool keeps showing Ready until the node controller's grace period ends (40 s or more), so
    an instance started again and drawn within it would look Ready before its kubelet is back.
    A node that never stopped reports after its LaunchTime, however long ago; one that says
    nothing of when (reported_at None) is taken at its word."""
    return reported_at is None or reported_at >= launch_time - _READY_CLOCK_TOLERANCE


def join_started_at(
    *,
    launch_time: datetime,
    stamped: datetime | None,
    event_time: datetime | None,
    now: datetime,
    may_come_from_pool: bool,
    returned_at: datetime | None = None,
) -> datetime:
    """When the launch action began: the start of the join deadline.

    EC2's LaunchTime is when the instance was last started. For a new instance (also one
    launched into a warm pool), or one started out of a Stopped or Hibernated warm pool, that is
    when the action began; but one kept Running in a warm pool keeps the LaunchTime of its
    launch into the pool, maybe hours before scale-out drew it, and would be past its deadline
    at once. So for an action that may follow a stay in the pool (`may_come_from_pool`: held at
    Pending:Wait in a group with a warm pool) the start is the stamp the join left on the
    instance when it first saw it waiting (JOIN_STARTED_TAG; one older than LaunchTime is an
    earlier launch's, one from before the instance's last return to the pool an earlier
    stay's), else the launch event's time (never later than now: event_time_seen), else now:
    the reconciler's first sight of an action whose event was lost, which it stamps so that
    later passes agree. Never before LaunchTime. Any other action: LaunchTime."""
    if not may_come_from_pool:
        return launch_time
    if stamped is not None and stamp_is_current(
        stamped, launch_time=launch_time, now=now, returned_at=returned_at
    ):
        return min(max(stamped, launch_time), now)
    return max(event_time_seen(event_time, now=now) or now, launch_time)


def event_time_seen(event_time: datetime | None, *, now: datetime) -> datetime | None:
    """The launch event's time, never later than now. Like a tag, an event is anyone's to send
    (by hand, a replay): a time ahead would move the join's deadline out (or past the last date
    a datetime holds) and, stamped on the instance, keep it there for later passes."""
    return None if event_time is None else min(event_time, now)


class NodeAuthorization(StrEnum):
    AUTHORIZED = "authorized"  # access entry EC2_WINDOWS or complete aws-auth entry
    MISSING = "missing"
    # NODE_ROLE_ARNS does not allow the role, aws-auth is malformed (we refuse to write it) or
    # the role's access entry is not EC2_WINDOWS (types cannot change): an operator must act
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinFacts:
    """What the service observed just now. Datetimes must be timezone-aware."""

    in_group: bool  # the group or its warm pool lists the instance
    lifecycle_state: LifecycleState | None
    instance_found: bool  # EC2 knows the instance (briefly false right after launch)
    # EC2 shows it shutting down or terminated (an operator, a Spot interruption, a failed host)
    instance_terminating: bool = False
    is_windows: bool
    tags_present: bool
    authorization: NodeAuthorization
    # kube-system/amazon-vpc-cni says enable-windows-ipam: "true"; without it the node turns
    # Ready but its pods get no IP (EKS user guide, windows-support.html)
    windows_ipam_enabled: bool
    node_found: bool
    node_ready: bool
    node_unschedulable: bool = False  # cordoned, by anyone
    node_held_for_warm_pool: bool = False  # cordoned by the join for the warm pool
    smoke: SmokeTest = SmokeTest.DISABLED
    smoke_detail: str | None = None  # why the smoke pod failed or is still pending
    windows_build: str | None = None  # the node's node.kubernetes.io/windows-build label
    smoke_image: str | None = None  # the operator's image; None: chosen by the node's build
    action_started_at: datetime
    # False when the action may have begun before action_started_at: a warm-pool draw (or an
    # instance EC2 does not show yet) that the reconciler finds without its event, whose start
    # it takes as its first sight.
    started_at_known: bool = True
    last_heartbeat_at: datetime | None = None
    heartbeat_timeout: timedelta
    join_deadline: timedelta = DEFAULT_JOIN_DEADLINE
    # Auto Scaling refused a heartbeat carrying the event's token: that action is over, even if
    # the instance is held again (by a later action, such as a draw from the warm pool).
    token_refused: bool = False

    @property
    def deadline_at(self) -> datetime:
        limit = min(self.join_deadline, hook_deadline_limit(self.heartbeat_timeout))
        return self.action_started_at + limit

    def heartbeat_due(self, now: datetime) -> bool:
        """Whether the hook needs a heartbeat now, whatever keeps the action waiting. With no
        heartbeat of ours on record and the start unknown, at once: the hook's timeout may have
        begun long before we first saw the action."""
        if self.last_heartbeat_at is None and not self.started_at_known:
            return True
        last = self.last_heartbeat_at or self.action_started_at
        return heartbeat_due(
            last_heartbeat_at=last, heartbeat_timeout=self.heartbeat_timeout, now=now
        )

    @property
    def node_ready_for_service(self) -> bool:
        return (
            self.node_found
            and self.node_ready
            and self.smoke in {SmokeTest.DISABLED, SmokeTest.PASSED}
        )


@dataclass(frozen=True, slots=True)
class Abandon:
    reason: str
    smoke_test_failed: bool = False


@dataclass(frozen=True, slots=True)
class TagInstance:
    pass


@dataclass(frozen=True, slots=True)
class AuthorizeNodeRole:
    pass


@dataclass(frozen=True, slots=True)
class EnableWindowsIpam:
    pass


@dataclass(frozen=True, slots=True)
class StartSmokeTest:
    image: str


@dataclass(frozen=True, slots=True)
class WaitForNode:
    reason: str
    heartbeat_due: bool
    deadline_at: datetime


@dataclass(frozen=True, slots=True)
class CordonForWarmPool:
    """Cordon the registered node, marked as held for the warm pool, before its release: there
    it must take no pods, whether stopped next (they would be stranded on a node going away) or
    kept running while outside the group's service."""


@dataclass(frozen=True, slots=True)
class UncordonFromWarmPool:
    """Lift the join's own warm-pool cordon from a node drawn into service, Ready and tested."""


@dataclass(frozen=True, slots=True)
class CompleteContinue:
    pass


@dataclass(frozen=True, slots=True)
class ReleaseToWarmPool:
    """CONTINUE a launch into the warm pool once its node has registered (bootstrapped): the
    instance waits in the pool, stopped or running, until scale-out draws it."""


@dataclass(frozen=True, slots=True)
class NothingToDo:
    reason: str


type JoinStep = (
    Abandon
    | TagInstance
    | AuthorizeNodeRole
    | EnableWindowsIpam
    | StartSmokeTest
    | WaitForNode
    | CordonForWarmPool
    | UncordonFromWarmPool
    | CompleteContinue
    | ReleaseToWarmPool
    | NothingToDo
)


def decide_join_step(facts: JoinFacts, *, now: datetime) -> JoinStep:
    if (step := decide_fleet_step(facts, now=now)) is not None:
        return step
    if facts.smoke is SmokeTest.FAILED:
        return Abandon(
            f"smoke test failed on the new node: {facts.smoke_detail}", smoke_test_failed=True
        )
    return _towards_service(facts, now, past_deadline=now >= facts.deadline_at)


def decide_fleet_step(facts: JoinFacts, *, now: datetime) -> JoinStep | None:  # noqa: PLR0911 - one per rule
    """The step the group and the instance decide on their own, or None when the cluster's
    facts are needed too. Reads none of them (tags, authorization, IPAM, node, smoke), so a
    cluster out of reach still gets a duplicate event ignored and a Linux instance ABANDONed."""
    # One return per rule, in priority order, reads better than a table here.
    if not facts.in_group:
        # Not ours to complete: acting on it would touch another group's instance.
        return NothingToDo("instance is not in the group")
    if facts.token_refused:
        # A replayed or late event: any action holding the instance now is the reconciler's,
        # which knows when it began; this event's time would start its deadline too early.
        return NothingToDo("the event's lifecycle action is over (its token was refused)")
    if facts.lifecycle_state is None or not facts.lifecycle_state.awaits_launch_action:
        return NothingToDo(f"no launch action pending (state {facts.lifecycle_state})")

    if facts.instance_terminating:
        # No node will come from it, and Auto Scaling checks no health before InService: left
        # to wait, the dead instance would count as capacity until the hook gave up. ABANDON
        # has the group replace it (or is refused, quietly, if the action is already over).
        return Abandon("instance was terminated in EC2 before it joined")
    past_deadline = now >= facts.deadline_at
    if not facts.instance_found:
        if past_deadline:
            return Abandon("instance never became visible in EC2")
        return _wait(facts, now, "instance not yet visible in EC2")
    if not facts.is_windows:
        return Abandon("instance is not a Windows instance; check the launch template AMI")
    return None


def decide_unobserved_step(facts: JoinFacts, *, now: datetime, failure: str) -> Abandon | None:
    """For an action decide_fleet_step left to the cluster's facts, when they could not be read
    (its API server out of reach, a read behind the node role refused): past the deadline, the
    ABANDON the join owes, since CONTINUE needs those facts; before it, None: the look failed and
    is tried again. Left to the hook's own timeout instead, the action would end with the hook's
    default result, and a launch hook defaulting to CONTINUE would put an unready node in
    service."""
    if now >= facts.deadline_at:
        return Abandon(f"not joined by the deadline: the cluster could not be read ({failure})")
    return None


def _towards_service(facts: JoinFacts, now: datetime, *, past_deadline: bool) -> JoinStep:  # noqa: PLR0911
    """For a Windows instance held for the group: the next step towards CONTINUE."""
    if facts.lifecycle_state is LifecycleState.WARMED_PENDING_WAIT:
        return _towards_pool(facts, now, past_deadline=past_deadline)
    if facts.node_ready_for_service and _prepared(facts):
        if facts.node_held_for_warm_pool:
            return UncordonFromWarmPool()
        return CompleteContinue()
    if past_deadline:
        return Abandon(f"not joined by the deadline: {_missing(facts)}")
    if (step := _preparation(facts)) is not None:
        return step
    if (
        facts.smoke is SmokeTest.NOT_STARTED
        and facts.node_found
        and facts.node_ready
        and _prepared(facts)
    ):
        return _start_smoke_test(facts)
    return _wait(facts, now, _missing(facts))


def _towards_pool(facts: JoinFacts, now: datetime, *, past_deadline: bool) -> JoinStep:
    """For a Windows instance launched into the warm pool: the next step towards its release.

    Auto Scaling stops (or hibernates) the instance as soon as the action completes, without
    waiting for its user data, which runs on first boot only: released early, the bootstrap is
    cut short and the node never registers once drawn. So the action is held, as AWS advises,
    until the bootstrap is done, which the node's registration shows (Start-EKSBootstrap.ps1
    starts the kubelet last); https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html.
    Ready is not awaited: the node serves only once drawn, when the launch hook holds it
    again (Pending:Wait) for Ready and the smoke test. Until then its node is cordoned; one
    cordoned already (by an operator) is left as it is, and stays so when drawn."""
    if facts.node_found and _prepared(facts):
        if facts.node_unschedulable or facts.node_held_for_warm_pool:
            return ReleaseToWarmPool()
        return CordonForWarmPool()
    if past_deadline:
        return Abandon(f"not bootstrapped in the warm pool by the deadline: {_missing(facts)}")
    if (step := _preparation(facts)) is not None:
        return step
    return _wait(facts, now, _missing(facts))


def _preparation(facts: JoinFacts) -> TagInstance | AuthorizeNodeRole | EnableWindowsIpam | None:
    """What of ours the node still needs before it can register and serve."""
    if not facts.tags_present:
        return TagInstance()
    if facts.authorization is NodeAuthorization.MISSING:
        return AuthorizeNodeRole()
    if not facts.windows_ipam_enabled:
        return EnableWindowsIpam()
    return None


def _start_smoke_test(facts: JoinFacts) -> StartSmokeTest | Abandon:
    image = facts.smoke_image or default_smoke_image(facts.windows_build)
    if image is None:
        # Guessing would run an image the node cannot start and fail the node for it.
        return Abandon(
            f"smoke test: no default image for Windows build {facts.windows_build!r}; "
            "set SMOKE_TEST_IMAGE to an image this node can run",
            smoke_test_failed=True,
        )
    return StartSmokeTest(image)


def _authorized(facts: JoinFacts) -> bool:
    return facts.authorization is NodeAuthorization.AUTHORIZED


def _prepared(facts: JoinFacts) -> bool:
    """Everything of ours the node needs before it may serve: tags, role, Windows IPAM."""
    return facts.tags_present and _authorized(facts) and facts.windows_ipam_enabled


def _wait(facts: JoinFacts, now: datetime, reason: str) -> WaitForNode:
    return WaitForNode(
        reason=reason, heartbeat_due=facts.heartbeat_due(now), deadline_at=facts.deadline_at
    )


def _missing(facts: JoinFacts) -> str:  # noqa: PLR0911 - one reason per unmet condition
    if not facts.tags_present:
        return "instance tags missing"
    if facts.authorization is NodeAuthorization.BLOCKED:
        return (
            "node role not authorized: NODE_ROLE_ARNS does not allow it, aws-auth is malformed, "
            "or the role's access entry is not of type EC2_WINDOWS (see the error log)"
        )
    if not _authorized(facts):
        return "node role not authorized"
    if not facts.windows_ipam_enabled:
        return "Windows IPAM not enabled"
    if not facts.node_found:
        return "node not registered"
    if not facts.node_ready:
        return "node not Ready"
    if facts.smoke is SmokeTest.NOT_STARTED:
        return "smoke test not started"
    if facts.smoke_detail:
        return f"smoke test not passed yet ({facts.smoke_detail})"
    return "smoke test not passed yet"
