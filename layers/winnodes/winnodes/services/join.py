"""Join: a Windows instance launched into a managed group becomes a Ready node, and only then is
its launch action completed with CONTINUE.

The same `advance` serves the launch event (looping for a bounded time) and the reconciler (the
steps that take effect at once, then one look that waits, per tick). Every step is observed
afresh from AWS and Kubernetes, so duplicated, lost or reordered events change nothing.
Authorizing the node role (services.authorization) and the smoke gate (services.smoke) are
services of their own; this one decides when each runs."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from winnodes.decisions.join import (
    DEFAULT_JOIN_DEADLINE,
    Abandon,
    AuthorizeNodeRole,
    CompleteContinue,
    CordonForWarmPool,
    EnableWindowsIpam,
    JoinFacts,
    JoinStep,
    NodeAuthorization,
    NothingToDo,
    ReleaseToWarmPool,
    StartSmokeTest,
    TagInstance,
    UncordonFromWarmPool,
    WaitForNode,
    dated_in_future,
    decide_fleet_step,
    decide_join_step,
    decide_unobserved_step,
    event_time_seen,
    join_started_at,
    ready_since_launch,
)
from winnodes.decisions.node_roles import NodeRoleAllowList
from winnodes.decisions.smoke import SmokeTest, SmokeTestPolicy, SmokeVerdict
from winnodes.errors import AwsError, ClusterNotFoundError, KubernetesError
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.models.lifecycle import LifecycleActionResult, LifecycleState
from winnodes.observability import logger, metrics
from winnodes.ports import (
    AccessEntries,
    Clock,
    ClusterConnection,
    ClusterKube,
    Instance,
    InstancePlatform,
    LifecycleHook,
    NodeState,
    SmokePods,
)
from winnodes.services.authorization import NodeRoleAuthorization
from winnodes.services.fleet import (
    FLEET_READ_INTERVAL,
    Fleet,
    FleetView,
    Polling,
    progress_worth_info,
)
from winnodes.services.smoke import SmokeGate
from winnodes.services.tagging import InstanceTags


@dataclass(frozen=True)
class JoinSettings:
    join_deadline: timedelta = DEFAULT_JOIN_DEADLINE
    # How long one invocation may wait for the node before leaving the rest to the reconciler.
    wait_budget: timedelta = timedelta(minutes=10)
    poll_interval: timedelta = timedelta(seconds=2)
    fleet_read_interval: timedelta = FLEET_READ_INTERVAL
    extra_instance_tags: Mapping[str, str] = field(default_factory=dict)
    smoke_test: SmokeTestPolicy = field(default_factory=SmokeTestPolicy)
    # The roles that may be authorized as Windows nodes (NODE_ROLE_ARNS); any other is BLOCKED.
    node_roles: NodeRoleAllowList = field(default_factory=NodeRoleAllowList)


@dataclass
class LaunchAction:
    """One pending launch action and what this invocation learned about it so far."""

    group: ManagedGroup
    instance_id: str
    hook: LifecycleHook
    token: str | None = None
    event_time: datetime | None = None  # the launch event's `time`, on the event path
    started_at: datetime | None = None  # the start of the join deadline, once known
    stamp_wanted: bool = False  # keep started_at on the instance (JOIN_STARTED_TAG)
    last_heartbeat_at: datetime | None = None
    token_refused: bool = False  # a heartbeat with `token` was refused: its action is over
    # Learned once per invocation: re-checking on every poll only adds calls.
    tags_present: bool = False
    authorization: NodeAuthorization | None = None
    last_wait_reason: str | None = None  # logged at INFO when it changes: progress, not noise
    last_wait_logged_at: datetime | None = None  # and at least every PROGRESS_LOG_INTERVAL


@dataclass(frozen=True)
class _ClusterSeen:
    connection: ClusterConnection
    kube: ClusterKube
    node: NodeState | None
    smoke: SmokeVerdict
    windows_ipam_enabled: bool


@dataclass(frozen=True)
class _Observation:
    facts: JoinFacts
    instance: Instance | None
    cluster: _ClusterSeen | None  # None when the step was decided without the cluster
    log: dict[str, str | None]
    view: FleetView

    def seen_cluster(self) -> _ClusterSeen:
        """For the steps only the cluster's facts decide, so never without them."""
        if self.cluster is None:
            raise AssertionError("a cluster step decided without the cluster")
        return self.cluster


class JoinProgress(StrEnum):
    FINISHED = "finished"  # the action needs nothing more
    ADVANCED = "advanced"  # the step took effect and the view holds it: look again at once
    WAITING = "waiting"  # only time can change what the next look sees


@dataclass(frozen=True)
class JoinResult:
    instance_id: str
    step: JoinStep
    progress: JoinProgress

    @property
    def finished(self) -> bool:
        return self.progress is JoinProgress.FINISHED


class JoinService:
    def __init__(
        self,
        *,
        fleet: Fleet,
        access_entries: AccessEntries,
        clock: Clock,
        settings: JoinSettings | None = None,
        smoke_pods_for: Callable[[ClusterConnection], SmokePods] | None = None,
    ) -> None:
        self._fleet = fleet
        self._clock = clock
        self._settings = settings or JoinSettings()
        self._tags = InstanceTags(
            compute=fleet.compute, extra_tags=self._settings.extra_instance_tags
        )
        self._node_role = NodeRoleAuthorization(
            compute=fleet.compute,
            access_entries=access_entries,
            node_roles=self._settings.node_roles,
        )
        self._smoke = SmokeGate(policy=self._settings.smoke_test, pods_for=smoke_pods_for)

    def join(self, action: LaunchAction, view: FleetView | None = None) -> JoinResult:
        """Drives the action until it is finished or the wait budget is spent (the reconciler
        carries on from there). `view`: one just read, to look through first."""
        view = view or self.view()
        poll = self._settings.poll_interval.total_seconds()
        return Polling(view, self._clock, self._settings).run(
            action,
            lambda: self.advance(action, view),
            # A step that took effect (tags written, role authorized) is already in the view,
            # and each can take effect once: the next step follows at once, without new reads.
            pause=lambda result: poll if result.progress is JoinProgress.WAITING else 0.0,
        )

    def view(self) -> FleetView:
        return self._fleet.view()

    def advance(self, action: LaunchAction, view: FleetView | None = None) -> JoinResult:
        """Observe (through `view`, fresh when not given), decide, perform one step."""
        view = view or self.view()
        now = self._clock.now()
        if action.event_time is not None and dated_in_future(action.event_time, now):
            logger.warning(
                "launch event dated in the future: its time is taken as now",
                extra={
                    "asg": action.group.auto_scaling_group_name,
                    "instance_id": action.instance_id,
                    "event_time": action.event_time.isoformat(),
                },
            )
        # Once, at the first look: a time ahead is taken as that look's, and stays so.
        action.event_time = event_time_seen(action.event_time, now=now)
        seen, step = self._decide(action, view, now)
        if _acts_on_the_read_state(step, action) and _may_be_held_again(action, view):
            # Without a token, Auto Scaling completes whatever action holds the instance now.
            # In a group with a warm pool that may be a later one than this decision saw (the
            # pass read the group up to a minute ago: since, the launch into the pool may have
            # been released and the instance drawn), so the state is read again and the step
            # decided on it, with what was learned from the old state (the deadline's start,
            # whether the tags include the join-start stamp) learned again. The warm-pool
            # cordon likewise: set on a stale Warmed:Pending:Wait, it would cordon a node the
            # draw had put in service meanwhile.
            view.forget_group(action.group.auto_scaling_group_name)
            action.started_at, action.tags_present = None, False
            seen, step = self._decide(action, view, now)
        try:
            progress = self._perform(step, action, seen)
        except (AwsError, KubernetesError) as error:
            # A step that fails (CreateAccessEntry refused, an admission webhook rejecting the
            # aws-auth or amazon-vpc-cni write) is tried again at the next look, as is one that
            # cannot take effect yet (CreateTags refused, aws-auth contended, no role on the
            # instance profile): the hook must not time out meanwhile and apply its default
            # result before the join's deadline, which ABANDONs with the reason. Not after a
            # completion that failed: Auto Scaling just failed it, and another call to it would
            # only spend the time the next look needs.
            # WaitForNode heartbeats itself, when due.
            if not isinstance(step, CompleteContinue | ReleaseToWarmPool | Abandon | WaitForNode):
                self._heartbeat_despite(error, action, seen, now)
            raise
        if progress is JoinProgress.WAITING:
            self._heartbeat_if_due(step, action, seen, now)
        return JoinResult(action.instance_id, step, progress)

    def _heartbeat_despite(
        self, failure: Exception, action: LaunchAction, seen: _Observation, now: datetime
    ) -> None:
        """A heartbeat after a failed look, when one is due; its own failure is logged, so that
        the look's failure, which says what to fix, is the one raised."""
        if not seen.facts.heartbeat_due(now):
            return
        try:
            self._heartbeat(action, seen.view)
        except (AwsError, KubernetesError) as error:
            logger.warning(
                "heartbeat failed after a failed look",
                extra=seen.log | {"error": str(error), "look_error": str(failure)},
            )

    def _heartbeat_if_due(
        self, step: JoinStep, action: LaunchAction, seen: _Observation, now: datetime
    ) -> None:
        # WaitForNode heartbeats itself, when due.
        if not isinstance(step, WaitForNode) and seen.facts.heartbeat_due(now):
            self._heartbeat(action, seen.view)

    def _decide(
        self, action: LaunchAction, view: FleetView, now: datetime
    ) -> tuple[_Observation, JoinStep]:
        instance = view.instance(action.instance_id)
        # What the group and the instance decide alone (decide_fleet_step) costs the cluster no
        # call: a duplicate event or a Linux instance asks no API server, and one out of reach
        # costs them no connect timeout.
        seen = self._observe(action, instance, None, view)
        step = decide_fleet_step(seen.facts, now=now)
        if step is None:
            # The cluster first, the group after (read again when it matters): _observe_cluster.
            try:
                cluster = self._observe_cluster(action, instance, view)
            except ClusterNotFoundError:
                raise  # an unknown cluster: no side effect (safety rule 5)
            except (AwsError, KubernetesError) as error:
                abandon = decide_unobserved_step(seen.facts, now=now, failure=str(error))
                if abandon is not None:
                    return seen, abandon
                # The look is tried again (the invocation's next poll, Lambda's retry, the next
                # pass); the hook must not time out meanwhile, before the join's deadline.
                self._heartbeat_despite(error, action, seen, now)
                raise
            seen = self._observe(action, instance, cluster, view)
            step = decide_join_step(seen.facts, now=now)
        return seen, step

    def _observe(
        self,
        action: LaunchAction,
        instance: Instance | None,
        cluster: _ClusterSeen | None,
        view: FleetView,
    ) -> _Observation:
        """The facts, with the cluster's when `cluster` is given (else as if it showed nothing:
        enough for decide_fleet_step, which reads none of them)."""
        group = view.group(action.group.auto_scaling_group_name)
        member = view.member(action.group.auto_scaling_group_name, action.instance_id)
        if instance is not None:
            # Only an instance that may have waited in a warm pool needs its join's start kept:
            # a launch into the pool starts at LaunchTime, as one into a group without a pool.
            action.stamp_wanted = (
                group is not None
                and group.has_warm_pool
                and member is not None
                and (LifecycleState.parse(member.lifecycle_state) is LifecycleState.PENDING_WAIT)
            )
            if action.started_at is None:
                action.started_at = join_started_at(
                    launch_time=instance.launch_time,
                    stamped=self._tags.join_started(instance),
                    event_time=action.event_time,
                    now=self._clock.now(),
                    may_come_from_pool=action.stamp_wanted,
                    returned_at=self._tags.returned_to_pool(instance),
                )
            action.tags_present = action.tags_present or (
                self._tags.present(action.group, instance)
                and (not action.stamp_wanted or self._tags.stamped(instance, self._clock.now()))
            )
        node = cluster.node if cluster else None
        smoke = cluster.smoke if cluster else SmokeVerdict(SmokeTest.DISABLED)
        facts = JoinFacts(
            in_group=member is not None,
            lifecycle_state=LifecycleState.parse(member.lifecycle_state) if member else None,
            instance_found=instance is not None,
            instance_terminating=view.terminating(action.instance_id),
            is_windows=instance is not None and instance.platform == InstancePlatform.WINDOWS,
            tags_present=action.tags_present,
            authorization=action.authorization or NodeAuthorization.MISSING,
            windows_ipam_enabled=cluster is not None and cluster.windows_ipam_enabled,
            node_found=node is not None,
            node_ready=(
                node is not None
                and node.ready
                and instance is not None
                and ready_since_launch(node.ready_reported_at, launch_time=instance.launch_time)
            ),
            node_unschedulable=node is not None and node.unschedulable,
            node_held_for_warm_pool=node is not None and node.held_for_warm_pool,
            smoke=smoke.state,
            smoke_detail=smoke.detail,
            windows_build=node.windows_build if node else None,
            smoke_image=self._settings.smoke_test.image,
            # An instance EC2 does not show yet has no LaunchTime: the event's time, else now
            # (the reconciler, which cannot know better: the hook's own timeout ends it then).
            action_started_at=action.started_at or action.event_time or self._clock.now(),
            # Without the event, only LaunchTime bounds the start, and only outside a pool.
            started_at_known=action.event_time is not None
            or (instance is not None and not action.stamp_wanted),
            last_heartbeat_at=action.last_heartbeat_at,
            token_refused=action.token_refused,
            heartbeat_timeout=timedelta(seconds=action.hook.heartbeat_timeout_seconds),
            join_deadline=self._settings.join_deadline,
        )
        log = {
            "cluster": str(action.group.cluster),
            "asg": action.group.auto_scaling_group_name,
            "instance_id": action.instance_id,
            "node": node.name if node else None,
        }
        return _Observation(facts, instance, cluster, log, view)

    def _observe_cluster(
        self, action: LaunchAction, instance: Instance | None, view: FleetView
    ) -> _ClusterSeen:
        connection = view.connection(action.group.cluster)
        kube = view.kube(action.group.cluster)
        node = view.node(action.group.cluster, instance) if instance else None
        smoke = self._smoke.verdict(action.instance_id, node, connection)
        if instance is not None and action.authorization is not NodeAuthorization.AUTHORIZED:
            action.authorization = self._node_role.status(
                connection, kube, action.group, instance, view
            )
        ipam_enabled = self._windows_ipam_enabled(action.group.cluster, kube, view)
        if (
            smoke.state is SmokeTest.NOT_STARTED
            and node is not None
            and node.ready
            and action.tags_present
            and action.authorization is NodeAuthorization.AUTHORIZED
            and ipam_enabled
        ):
            # The smoke pod may be started on these facts: the lifecycle state is read after the
            # pod, and fresh. Whoever completes the action deletes the pod only afterwards, so a
            # missing pod here means either "not started" or an action that this read shows
            # completed; starting it again after a duplicate completed the action would leave a
            # pod behind on an in-service node. A join still waiting on something else reads
            # the group at the view's usual pace.
            view.forget_group(action.group.auto_scaling_group_name)
        return _ClusterSeen(connection, kube, node, smoke, ipam_enabled)

    def _perform(self, step: JoinStep, action: LaunchAction, seen: _Observation) -> JoinProgress:  # noqa: PLR0911 - one per kind of step
        log = seen.log
        match step:
            case TagInstance():
                return self._tag(action, seen)
            case AuthorizeNodeRole():
                return self._authorize(action, seen)
            case EnableWindowsIpam():
                self._enable_windows_ipam(action.group.cluster, seen.view, log)
                return JoinProgress.ADVANCED
            case StartSmokeTest(image=image):
                self._start_smoke_test(action, seen, image)
                return JoinProgress.WAITING  # the pod needs time to run
            case WaitForNode(heartbeat_due=due, reason=reason):
                self._wait(action, seen, heartbeat_due=due, reason=reason)
                return JoinProgress.WAITING
            case CordonForWarmPool() | UncordonFromWarmPool():
                return self._warm_pool_cordon(step, action, seen)
            case CompleteContinue() | Abandon() | ReleaseToWarmPool() | NothingToDo():
                self._finish(step, action, seen)
                return JoinProgress.FINISHED
        raise AssertionError(f"unhandled join step {step!r}")

    def _warm_pool_cordon(
        self,
        step: CordonForWarmPool | UncordonFromWarmPool,
        action: LaunchAction,
        seen: _Observation,
    ) -> JoinProgress:
        node = seen.seen_cluster().node
        if node is None:  # decided only for a node that was seen
            raise AssertionError(f"{step!r} without a node")
        held = isinstance(step, CordonForWarmPool)
        if not seen.view.set_warm_pool_cordon(str(action.group.cluster), node.name, held=held):
            return JoinProgress.WAITING  # gone meanwhile (deleted with its instance)
        logger.info(
            "node cordoned for its stay in the warm pool"
            if held
            else "node uncordoned: drawn from the warm pool into service",
            extra=seen.log,
        )
        return JoinProgress.ADVANCED

    def _wait(
        self, action: LaunchAction, seen: _Observation, *, heartbeat_due: bool, reason: str
    ) -> None:
        log = seen.log
        if heartbeat_due and not self._heartbeat(action, seen.view):
            # The next look reads the group again and sees how the action ended.
            logger.info("heartbeat refused: the launch action is no longer pending", extra=log)
            return
        now = self._clock.now()
        changed = reason != action.last_wait_reason
        if progress_worth_info(changed=changed, last_logged_at=action.last_wait_logged_at, now=now):
            action.last_wait_reason, action.last_wait_logged_at = reason, now
            waited = max(now - seen.facts.action_started_at, timedelta(0))
            logger.info(
                "waiting for node",
                extra=log
                | {
                    "reason": reason,
                    "waited_s": round(waited.total_seconds()),
                    "deadline": seen.facts.deadline_at.isoformat(),
                },
            )
        else:
            logger.debug("waiting for node", extra=log | {"reason": reason})

    def _finish(
        self,
        step: CompleteContinue | Abandon | ReleaseToWarmPool | NothingToDo,
        action: LaunchAction,
        seen: _Observation,
    ) -> None:
        log = seen.log
        match step:
            case CompleteContinue():
                if self._complete(action, LifecycleActionResult.CONTINUE, log):
                    joined = self._clock.now() - seen.facts.action_started_at
                    metrics.add_metric(name="NodeJoined", unit="Count", value=1)
                    metrics.add_metric(
                        name="JoinSeconds", unit="Seconds", value=max(joined.total_seconds(), 0)
                    )
                    logger.info(
                        "node Ready: launch action completed with CONTINUE",
                        extra=log | {"smoke_test": seen.facts.smoke.value},
                    )
                self._smoke.remove(
                    action.instance_id, seen.facts.smoke, seen.seen_cluster().connection, log
                )
            case Abandon(reason=reason, smoke_test_failed=smoke_test_failed):
                if self._complete(action, LifecycleActionResult.ABANDON, log, reason=reason):
                    metrics.add_metric(name="JoinAbandoned", unit="Count", value=1)
                    if smoke_test_failed:
                        metrics.add_metric(name="SmokeTestFailed", unit="Count", value=1)
                    logger.warning("launch action ABANDONed", extra=log | {"reason": reason})
                if seen.cluster is not None:  # else decided without the cluster: no pod to remove
                    self._smoke.remove(
                        action.instance_id, seen.facts.smoke, seen.cluster.connection, log
                    )
            case ReleaseToWarmPool():
                if self._complete(action, LifecycleActionResult.CONTINUE, log):
                    logger.info(
                        "node registered: launch into the warm pool completed with CONTINUE",
                        extra=log,
                    )
            case NothingToDo(reason=reason):
                logger.info("nothing to do", extra=log | {"reason": reason})

    def _tag(self, action: LaunchAction, seen: _Observation) -> JoinProgress:
        if self._tags.ensure(
            action.group,
            [action.instance_id],
            seen.view,
            now=self._clock.now(),
            join_started=(
                {action.instance_id: action.started_at}
                if action.stamp_wanted and action.started_at
                else None
            ),
        ):
            action.tags_present = True
            return JoinProgress.ADVANCED
        # EC2 does not show the new instance everywhere yet: the next step retries
        logger.info("instance not taggable yet", extra=seen.log)
        return JoinProgress.WAITING

    def _authorize(self, action: LaunchAction, seen: _Observation) -> JoinProgress:
        if seen.instance is None:  # decided only for an instance EC2 shows
            raise AssertionError("node role authorized without an instance")
        cluster = seen.seen_cluster()
        action.authorization = self._node_role.authorize(
            cluster.connection,
            cluster.kube,
            action.group,
            seen.instance,
            view=seen.view,
            log=seen.log,
        )
        if action.authorization is NodeAuthorization.AUTHORIZED:
            return JoinProgress.ADVANCED
        return JoinProgress.WAITING  # no role yet, aws-auth contended or malformed

    def _windows_ipam_enabled(
        self, cluster: ClusterName, kube: ClusterKube, view: FleetView
    ) -> bool:
        # A cluster-wide setting: one look per cluster and pass (or invocation).
        return view.memo(("windows-ipam", cluster), kube.windows_ipam_enabled)

    def repair_windows_ipam(self, cluster: ClusterName, view: FleetView) -> bool:
        """For nodes in service: switches Windows IPAM back on if someone turned it off; True
        if it did. One look per cluster and pass."""
        if self._windows_ipam_enabled(cluster, view.kube(cluster), view):
            return False
        return self._enable_windows_ipam(cluster, view, {"cluster": str(cluster)})

    def _enable_windows_ipam(
        self, cluster: ClusterName, view: FleetView, log: Mapping[str, str | None]
    ) -> bool:
        """Switches Windows IPAM on in the cluster unless it is; True if it was off."""
        enabled = view.kube(cluster).ensure_windows_ipam()
        view.remember(("windows-ipam", cluster), True)
        if enabled:
            logger.info("enabled Windows IPAM (amazon-vpc-cni)", extra=dict(log))
        return enabled

    def _start_smoke_test(self, action: LaunchAction, seen: _Observation, image: str) -> None:
        cluster = seen.seen_cluster()
        if cluster.node is None:  # decided only for a Ready node
            raise AssertionError("smoke test started without a node")
        self._smoke.start(action.instance_id, cluster.node, cluster.connection, image, seen.log)

    def tag_instances(
        self,
        group: ManagedGroup,
        instance_ids: Iterable[str],
        view: FleetView,
        *,
        join_started: Mapping[str, datetime] | None = None,
    ) -> list[str]:
        """Tags those of a group's instances whose tags are missing or drifted, in one call per
        batch and set of tags rather than one per instance; returns the ids tagged. Those in
        `join_started` are held for their join and get that time as their join-start stamp
        unless they carry their current one."""
        return self._tags.ensure(
            group, instance_ids, view, now=self._clock.now(), join_started=join_started
        )

    def repair_authorization(self, group: ManagedGroup, instance_id: str, view: FleetView) -> bool:
        """Re-authorizes the role of an in-service Windows instance whose access entry or
        aws-auth entry went missing; True if it did. A malformed aws-auth stays untouched."""
        return self._node_role.repair(group, instance_id, view)

    def repair_warm_pool_cordon(
        self, group: ManagedGroup, instance_id: str, view: FleetView
    ) -> bool:
        """Uncordons the Node of an in-service instance that still carries the join's warm-pool
        cordon (its draw's action ended without the join: timed out to CONTINUE, or completed
        by hand); True if it did. An operator's cordon is left alone."""
        instance = view.instance(instance_id)
        if instance is None:
            return False
        cluster = str(group.cluster)
        node = view.node(cluster, instance)
        if node is None or not node.held_for_warm_pool:
            return False
        if not _still_in_service(group.auto_scaling_group_name, instance_id, view):
            return False
        if not view.set_warm_pool_cordon(cluster, node.name, held=False):
            return False
        logger.info(
            "node uncordoned: in service with the warm-pool cordon still on",
            extra={
                "cluster": cluster,
                "asg": group.auto_scaling_group_name,
                "instance_id": instance_id,
                "node": node.name,
            },
        )
        return True

    def remove_leftover_smoke_pods(
        self,
        cluster: ClusterName,
        view: FleetView,
        *,
        awaiting_launch: Collection[str],
        groups_read_at: datetime,
    ) -> int:
        """Deletes the cluster's smoke pods left after their launch action ended; returns how
        many. Nothing to do, and no call made, with the smoke test disabled."""
        return self._smoke.remove_leftovers(
            cluster, view, awaiting_launch=awaiting_launch, groups_read_at=groups_read_at
        )

    def _heartbeat(self, action: LaunchAction, view: FleetView) -> bool:
        if not self._fleet.record_heartbeat(action, view):
            # With a token, the refusal names the event's action, whatever holds the instance
            # now: without this, a stale token is refused again at every look.
            action.token_refused = action.token is not None
            return False
        action.last_heartbeat_at = self._clock.now()
        return True

    def _complete(
        self,
        action: LaunchAction,
        result: LifecycleActionResult,
        log: dict[str, str | None],
        *,
        reason: str | None = None,
    ) -> bool:
        if self._fleet.complete(action, result):
            return True
        # Ended meanwhile: completed by a duplicate or the reconciler, by hand, or timed out.
        # Nothing of this decision was applied; said, so its reason is not lost unseen.
        logger.info(
            "launch action already over: completion refused",
            extra=log | {"result": result.value, "reason": reason},
        )
        return False


def _still_in_service(group: str, instance_id: str, view: FleetView) -> bool:
    """Whether the instance is in service as the group reads now. The pass read it up to
    minutes ago; a scale-in returning it to the warm pool since holds its Node with this same
    cordon for the drain, which must not be lifted under it. Rare: asked only of a Node found
    with the cordon."""
    view.forget_group(group)
    member = view.member(group, instance_id)
    return member is not None and (
        LifecycleState.parse(member.lifecycle_state) is LifecycleState.IN_SERVICE
    )


def _acts_on_the_read_state(step: JoinStep, action: LaunchAction) -> bool:
    """Whether the step, taken without the event's token, holds only for the lifecycle state
    read: a completion by instance id, or the warm-pool cordon set or lifted."""
    return action.token is None and isinstance(
        step,
        CompleteContinue | ReleaseToWarmPool | Abandon | CordonForWarmPool | UncordonFromWarmPool,
    )


def _may_be_held_again(action: LaunchAction, view: FleetView) -> bool:
    """Whether a launch action of the instance may have ended and another begun since the view
    read its group: only in a group with a warm pool does one instance see several."""
    group = view.group(action.group.auto_scaling_group_name)
    return group is not None and group.has_warm_pool
