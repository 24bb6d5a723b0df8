"""Converge: a level-triggered pass over every managed group, driving pending launch and terminate
actions forward, repairing drifted tags and authorizations, and removing smoke pods left over
after their launch action ended. Events are hints; this pass guarantees the outcome even when an
event was lost or duplicated."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from winnodes.decisions.warm_pool import WarmWait, warm_wait_cause
from winnodes.errors import ClusterNotFoundError, WinNodesError
from winnodes.models.groups import (
    LAUNCH_HOOK_TAG,
    MANAGED_TAG,
    TERMINATE_HOOK_TAG,
    ManagedGroup,
    UnmanagedGroup,
    discover_managed_group,
)
from winnodes.models.identifiers import ClusterName
from winnodes.models.lifecycle import LifecycleActionResult, LifecycleState, LifecycleTransition
from winnodes.observability import logger, metrics
from winnodes.ports import AutoScalingGroup, Clock, LifecycleHook
from winnodes.services.fleet import Fleet, FleetView, work_deadline
from winnodes.services.join import JoinProgress, JoinService, LaunchAction
from winnodes.services.leave import LeaveService, TerminateAction
from winnodes.services.tagging import InstanceTags


@dataclass
class ReconcileReport:
    # Managed groups the pass reconciled, if only in part (its time ran out within one, or the
    # cluster could not be described); not those it left whole for the next pass: deferred, the
    # warm pool unreadable, or the group itself failing (the metric ReconciledGroups).
    groups: int = 0
    launch_actions: int = 0
    terminate_actions: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    instances_tagged: int = 0  # joining instances and drifted in-service ones
    tags_repaired: int = 0  # of those, in service
    authorizations_repaired: int = 0
    warm_pool_cordons_lifted: int = 0  # in-service nodes still cordoned for the warm pool
    windows_ipam_repaired: int = 0  # clusters whose enable-windows-ipam was switched back on
    smoke_pods_removed: int = 0  # left over after their launch action ended
    # Marked managed but unusable (no cluster tag, several): "<group>: <why>"; left alone.
    misconfigured: list[str] = field(default_factory=list)
    # Work left for the next pass because the invocation's time ran short: "<group>: <what>".
    deferred: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON data: what the function returns and `winnodes reconcile` prints."""
        data = asdict(self)
        # asdict rebuilds a Counter from its (step, count) pairs, counting the pairs: tuple keys
        # that JSON cannot carry.
        data["outcomes"] = dict(self.outcomes)
        return data


class _Budget:
    def __init__(self, clock: Clock, time_left: timedelta | None) -> None:
        self._clock = clock
        self._deadline = work_deadline(clock, time_left)

    @property
    def limited(self) -> bool:
        return self._deadline is not None

    def spent(self) -> bool:
        return self._deadline is not None and self._clock.monotonic() >= self._deadline


def visiting_order[T](items: Sequence[T], start: int) -> list[T]:
    """The groups (or a group's held instances) from `start` on, then the ones before it: a pass
    cut short by its time limit leaves other ones for later each time, not always the same ones
    behind a slow cluster or a slow drain."""
    if not items:
        return []
    start %= len(items)
    return [*items[start:], *items[:start]]


# Looks at one launch action in a pass: one per step that can take effect (tags, the node role,
# Windows IPAM, a smoke pod, the warm-pool cordon set or lifted) and the one that waits or
# completes. A join whose steps keep taking effect without converging (a defect, or tags that
# someone else keeps changing) is left for the next pass rather than spin.
_LOOKS_PER_LAUNCH: Final = 7


class ReconcileService:
    def __init__(
        self,
        *,
        fleet: Fleet,
        join: JoinService,
        leave: LeaveService,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._fleet = fleet
        self._join = join
        self._leave = leave
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - an order, not a secret
        # Our last accepted heartbeat per held (group, instance), from earlier passes of this
        # container. Without it a pass knows only when the action began, and once half the hook's
        # timeout is over would heartbeat every waiting instance at every pass. A heartbeat we
        # sent reset the timeout of whatever action held the instance then, so counting from it
        # is never late; a new container starts without (and heartbeats as before).
        self._heartbeats: dict[tuple[str, str], datetime] = {}

    def reconcile(self, *, time_left: timedelta | None = None) -> ReconcileReport:
        """One pass. With `time_left` (a Lambda invocation's), no work starts once less than
        STEP_RESERVE of it remains: what is left is listed in the report's `deferred`, and the
        pass starts at a random group (and within each at a random held instance), so the next
        one may reach what this one did not."""
        report = ReconcileReport()
        budget = _Budget(self._clock, time_left)
        view = self._fleet.view()
        groups_read_at = self._clock.now()
        groups = list(self._fleet.autoscaling.groups_tagged(MANAGED_TAG))
        if budget.limited:
            groups = visiting_order(groups, self._rng.randrange(max(len(groups), 1)))
        view.remember_groups(groups)
        held = {
            (g.name, i.instance_id)
            for g in groups
            for i in g.instances
            if _is_held(LifecycleState.parse(i.lifecycle_state))
        }
        self._heartbeats = {k: at for k, at in self._heartbeats.items() if k in held}
        _prefetch_instances(view, groups, report)
        clusters: set[ClusterName] = set()
        repairs: list[tuple[ManagedGroup, list[str], bool]] = []  # with: has a warm pool
        for group in groups:
            managed = self._managed(group, report)
            if managed is None:
                continue
            if budget.spent():
                report.deferred.append(f"{group.name}: held instances and repairs")
                continue
            try:
                unreadable = _cluster_unreadable(view, managed)
                if unreadable is None:
                    clusters.add(managed.cluster)  # to sweep: reported already otherwise
                in_service = self._reconcile_group(
                    managed, group, view, report, budget, unreadable=unreadable
                )
            except WinNodesError as error:
                # One broken group (deleted cluster, lost permissions) must not stop the others.
                report.errors.append(f"{group.name}: {error}")
                logger.error(
                    "reconciling group failed", extra=_group_log(managed) | {"error": str(error)}
                )
                continue
            except Exception as error:  # noqa: BLE001 - a defect in one group's data or ours
                # must not leave every other group's hooks to time out, pass after pass.
                report.errors.append(f"{group.name}: unexpected error: {error!r}")
                logger.exception("reconciling group failed unexpectedly", extra=_group_log(managed))
                continue
            report.groups += 1
            if in_service:
                repairs.append((managed, in_service, group.has_warm_pool))
        # Repairs can wait; held instances cannot (their hooks time out). So every group's held
        # instances come first, and no repair of an unreachable cluster delays another group's.
        for managed, in_service, warm_pool in repairs:
            if budget.spent():
                report.deferred.append(f"{managed.auto_scaling_group_name}: repairs")
                continue
            self._repair(managed, in_service, view, report, warm_pool=warm_pool)
        self._remove_leftover_smoke_pods(
            clusters, groups, groups_read_at, view, report=report, budget=budget
        )
        _record_pass(report)
        return report

    @staticmethod
    def _managed(group: AutoScalingGroup, report: ReconcileReport) -> ManagedGroup | None:
        """The group as one of ours to reconcile this pass, or None (counted in the report)."""
        managed = discover_managed_group(group.name, group.tags)
        if isinstance(managed, UnmanagedGroup):
            if managed.misconfigured:
                report.misconfigured.append(f"{group.name}: {managed.detail}")
                logger.warning(
                    "group marked managed but unusable",
                    extra={"asg": group.name, "reason": managed.detail},
                )
            return None
        if group.warm_pool_error is not None:
            # Without its pool's instances, neither the group's launches into the pool nor its
            # returns to it can be told apart: the next pass reads it again.
            report.errors.append(f"{group.name}: {group.warm_pool_error}")
            logger.error(
                "reading the group's warm pool failed",
                extra=_group_log(managed) | {"error": group.warm_pool_error},
            )
            return None
        return managed

    def _remove_leftover_smoke_pods(
        self,
        clusters: set[ClusterName],
        groups: list[AutoScalingGroup],
        groups_read_at: datetime,
        view: FleetView,
        *,
        report: ReconcileReport,
        budget: _Budget,
    ) -> None:
        # As listed at the start of the pass, before any action completed in it; an unknown state
        # counts as awaiting, so its pod stays.
        awaiting_launch = {
            member.instance_id
            for group in groups
            for member in group.instances
            if (state := LifecycleState.parse(member.lifecycle_state)) is None
            or state.awaits_launch_action
        }
        for cluster in sorted(clusters):
            if budget.spent():
                # Each cluster's sweep can take a request's timeouts: the next pass sweeps.
                report.deferred.append(f"{cluster}: leftover smoke pods")
                continue
            try:
                report.smoke_pods_removed += self._join.remove_leftover_smoke_pods(
                    cluster, view, awaiting_launch=awaiting_launch, groups_read_at=groups_read_at
                )
            except WinNodesError as error:
                report.errors.append(f"{cluster}: {error}")
                logger.error(
                    "removing leftover smoke pods failed",
                    extra={"cluster": str(cluster), "error": str(error)},
                )
            except Exception as error:  # noqa: BLE001 - one cluster's defect, not every one's
                report.errors.append(f"{cluster}: leftover smoke pods: unexpected error: {error!r}")
                logger.exception(
                    "removing leftover smoke pods failed unexpectedly",
                    extra={"cluster": str(cluster)},
                )

    def _reconcile_group(
        self,
        managed: ManagedGroup,
        group: AutoScalingGroup,
        view: FleetView,
        report: ReconcileReport,
        budget: _Budget,
        *,
        unreadable: WinNodesError | None,
    ) -> list[str]:
        """Drives the group's held instances; returns its in-service ones, for the repairs.
        A group whose cluster is not there (deleted, renamed) never gets here: nothing of it is
        touched, not even the tags, which would claim the instances for that cluster. A cluster
        that cannot be described now (`unreadable` says why: throttled, refused, out of reach)
        is likely still there: its instances are tagged, and its held launches still get what
        the join decides without it, a heartbeat when one is due and the ABANDON past their
        deadline, so their hooks do not time out into their default result; the repairs,
        which need it, wait for a pass that can describe it."""
        if unreadable is not None:
            report.errors.append(f"{group.name}: {unreadable}")
            logger.error(
                "describing the group's cluster failed",
                extra=_group_log(managed) | {"error": str(unreadable)},
            )
        launch_hook = view.our_hook(managed, LifecycleTransition.LAUNCHING)
        terminate_hook = view.our_hook(managed, LifecycleTransition.TERMINATING)
        _warn_about_hooks(view, managed, (launch_hook, terminate_hook))
        states = {m.instance_id: LifecycleState.parse(m.lifecycle_state) for m in group.instances}
        joining = {
            instance_id
            for instance_id, state in states.items()
            if launch_hook is not None and state is not None and state.awaits_launch_action
        }
        in_service = {i for i, state in states.items() if state is LifecycleState.IN_SERVICE}
        # Read already for every group at once, unless that read failed: then the group's own,
        # in one read per 200, so a pass costs calls per page and not per instance while EC2
        # throttles. Should that fail too, the group waits for the next pass.
        view.prefetch_instances(_acted_on(group))
        # One CreateTags per group and set of tags (per 200 instances), before the joins need
        # them. Instances held for their join are stamped with this pass's time unless the
        # event's invocation already stamped them: the start of their join deadline. Should it
        # fail (throttled, one instance refused), each join tags its own instance as a step.
        now = self._clock.now()
        waiting = {i: now for i in joining if states[i] is LifecycleState.PENDING_WAIT}
        # Tags need EC2 only, not the cluster: written also when it cannot be described now,
        # for the stamp above all, without which each pass would start a draw's deadline anew.
        try:
            tagged = self._join.tag_instances(
                managed,
                sorted(joining | in_service),
                view,
                join_started=waiting if group.has_warm_pool else None,
            )
        except WinNodesError as error:
            report.errors.append(f"{group.name}: {error}")
            logger.error(
                "tagging the group's instances failed",
                extra=_group_log(managed) | {"error": str(error)},
            )
            tagged = []
        report.instances_tagged += len(tagged)
        report.tags_repaired += len(in_service.intersection(tagged))
        # Held instances first, each on its own: their hooks time out while we wait, so neither
        # a failing neighbour nor a failing repair may hold one up.
        held = [(i, state) for i, state in states.items() if _is_held(state)]
        if budget.limited:
            held = visiting_order(held, self._rng.randrange(max(len(held), 1)))
        for done, (instance_id, state) in enumerate(held):
            if budget.spent():
                report.deferred.append(f"{group.name}: held instances ({len(held) - done})")
                break
            try:
                self._advance_held(
                    managed,
                    instance_id,
                    state,
                    hooks=(launch_hook, terminate_hook),
                    reuse_on_scale_in=group.reuse_on_scale_in,
                    view=view,
                    report=report,
                    budget=budget,
                )
            except WinNodesError as error:
                if error is not unreadable:  # that one is reported once, for the group
                    _instance_failed(managed, instance_id, error, report, view)
            except Exception as error:  # noqa: BLE001 - see reconcile(): one instance's defect
                report.errors.append(f"{group.name} {instance_id}: unexpected error: {error!r}")
                logger.exception(
                    "reconciling instance failed unexpectedly",
                    extra=_instance_log(managed, instance_id, view),
                )
        return sorted(in_service) if unreadable is None else []

    def _repair(
        self,
        managed: ManagedGroup,
        in_service: list[str],
        view: FleetView,
        report: ReconcileReport,
        *,
        warm_pool: bool,
    ) -> None:
        """Drift under nodes in service: Windows IPAM switched off, an authorization deleted,
        a warm-pool cordon left on (looked for only in a group with a warm pool: it costs the
        cluster's node list, which a pass otherwise reads only for held instances).
        Repairs can wait for the next pass, so the first failure (most likely the cluster's,
        and then every instance's) ends them for this group."""
        group = managed.auto_scaling_group_name
        instance_id = None
        try:
            if self._join.repair_windows_ipam(managed.cluster, view):
                report.windows_ipam_repaired += 1
            for instance_id in in_service:
                if self._join.repair_authorization(managed, instance_id, view):
                    report.authorizations_repaired += 1
                if warm_pool and self._join.repair_warm_pool_cordon(managed, instance_id, view):
                    report.warm_pool_cordons_lifted += 1
        except WinNodesError as error:
            if instance_id is None:
                report.errors.append(f"{group}: {error}")
                logger.error(
                    "repairing Windows IPAM failed",
                    extra=_group_log(managed) | {"error": str(error)},
                )
            else:
                _instance_failed(managed, instance_id, error, report, view)
        except Exception as error:  # noqa: BLE001 - see reconcile(): one group's defect must
            # not cost the other groups their repairs and every cluster its sweep.
            report.errors.append(f"{group}: repairs: unexpected error: {error!r}")
            logger.exception(
                "repairing group failed unexpectedly",
                extra=_group_log(managed)
                if instance_id is None
                else _instance_log(managed, instance_id, view),
            )

    def _advance_held(
        self,
        managed: ManagedGroup,
        instance_id: str,
        state: LifecycleState | None,
        *,
        hooks: tuple[LifecycleHook | None, LifecycleHook | None],
        reuse_on_scale_in: bool,
        view: FleetView,
        report: ReconcileReport,
        budget: _Budget,
    ) -> None:
        """A look at the launch or terminate action holding the instance, if one of ours does,
        and its step (for a launch, more looks while their steps take effect, up to
        _LOOKS_PER_LAUNCH); a state newer than ours is not one we act on."""
        launch_hook, terminate_hook = hooks
        if state is None:
            return
        key = (managed.auto_scaling_group_name, instance_id)
        returning = state is LifecycleState.WARMED_PENDING_WAIT and self._returning_to_pool(
            instance_id, reuse_on_scale_in=reuse_on_scale_in, view=view
        )
        if state.awaits_terminate_action_to(returning_to_pool=returning):
            if terminate_hook is not None:
                report.terminate_actions += 1
                leaving = TerminateAction(
                    group=managed,
                    instance_id=instance_id,
                    hook=terminate_hook,
                    returning_to_pool=returning,
                    last_heartbeat_at=self._heartbeats.get(key),
                )
                try:
                    left = self._leave.advance(leaving, view)
                finally:
                    self._remember_heartbeat(key, leaving.last_heartbeat_at)
                report.outcomes[type(left.step).__name__] += 1
        elif state.awaits_launch_action and launch_hook is not None:
            report.launch_actions += 1
            action = LaunchAction(
                group=managed,
                instance_id=instance_id,
                hook=launch_hook,
                last_heartbeat_at=self._heartbeats.get(key),
            )
            try:
                self._join_looks(action, view, report, budget)
            finally:
                self._remember_heartbeat(key, action.last_heartbeat_at)

    def _join_looks(
        self, action: LaunchAction, view: FleetView, report: ReconcileReport, budget: _Budget
    ) -> None:
        joined = self._join.advance(action, view)
        report.outcomes[type(joined.step).__name__] += 1
        looks = 1
        while (
            joined.progress is JoinProgress.ADVANCED
            and looks < _LOOKS_PER_LAUNCH
            and not budget.spent()
        ):
            # A step that took effect (tags, role, IPAM, a cordon) is in the view: the next
            # look follows at once, as in the event's invocation. So a lost event's join gets
            # as far in one pass as it can without waiting, and the look that waits sends the
            # heartbeat due, which a step taking effect leaves to it.
            joined = self._join.advance(action, view)
            report.outcomes[type(joined.step).__name__] += 1
            looks += 1

    def _remember_heartbeat(self, key: tuple[str, str], at: datetime | None) -> None:
        if at is not None:
            self._heartbeats[key] = at

    def _returning_to_pool(
        self, instance_id: str, *, reuse_on_scale_in: bool, view: FleetView
    ) -> bool:
        """At Warmed:Pending:Wait: is it a return to the pool (the terminate hook's) rather than
        a launch into it? Only when its facts prove it (decisions.warm_pool); UNKNOWN goes the
        launch's way, where AWS refuses the join's heartbeats and completion for a return (the
        launch hook holds nothing): a drain is never guessed."""
        instance = view.instance(instance_id)
        cause = warm_wait_cause(
            reuse_on_scale_in=reuse_on_scale_in,
            was_in_group=instance is not None and InstanceTags.was_in_group(instance),
            launch_time=instance.launch_time if instance else None,
            now=self._clock.now(),
        )
        return cause is WarmWait.RETURN


def _is_held(state: LifecycleState | None) -> bool:
    """Held by a lifecycle hook: some action of ours may be waiting on a step."""
    return state is not None and (state.awaits_launch_action or state.awaits_terminate_action)


def _may_act_on(state: str | None) -> bool:
    """Whether a pass may take a step for an instance in `state` or repair it: held by a hook,
    or in service. The others, a warm pool's idle instances above all, need no DescribeInstances."""
    parsed = LifecycleState.parse(state)
    return _is_held(parsed) or parsed is LifecycleState.IN_SERVICE


def _acted_on(group: AutoScalingGroup) -> list[str]:
    """The group's instances a pass may act on (_may_act_on), the ones it describes."""
    return [i.instance_id for i in group.instances if _may_act_on(i.lifecycle_state)]


def _cluster_unreadable(view: FleetView, managed: ManagedGroup) -> WinNodesError | None:
    """Why the group's cluster cannot be described this pass, or None when it can. A cluster
    that is not there raises ClusterNotFoundError: its group is left alone altogether."""
    try:
        view.connection(managed.cluster)
    except ClusterNotFoundError:
        raise
    except WinNodesError as error:
        return error
    return None


def _warn_about_hooks(
    view: FleetView, managed: ManagedGroup, ours: tuple[LifecycleHook | None, LifecycleHook | None]
) -> None:
    """Hooks that keep the functions from keeping their promise, said on every pass."""
    group = managed.auto_scaling_group_name
    log = _group_log(managed)
    launch_hook = ours[0]
    if launch_hook is not None and launch_hook.default_result != LifecycleActionResult.ABANDON:
        # Safety rule: a node that is not Ready never serves. A hook that times out applies its
        # default, so with CONTINUE a join that failed would put the instance in service.
        logger.warning(
            "launch hook defaults to CONTINUE: a node not joined when the hook times out "
            "goes in service anyway; set its DefaultResult to ABANDON",
            extra=log | {"hook": launch_hook.name},
        )
    # Hooks for a transition, none of them known to be ours: the group's actions of that kind
    # are left alone until a tag names ours.
    hooks = view.hooks(group)
    for transition, hook, tag in (
        (LifecycleTransition.LAUNCHING, ours[0], LAUNCH_HOOK_TAG),
        (LifecycleTransition.TERMINATING, ours[1], TERMINATE_HOOK_TAG),
    ):
        names = sorted(h.name for h in hooks if h.transition == transition)
        if hook is None and names:
            logger.warning(
                "cannot tell which lifecycle hook is ours; its actions are left alone",
                extra=log | {"transition": str(transition), "hooks": names, "tag": tag},
            )


def _instance_failed(
    managed: ManagedGroup,
    instance_id: str,
    error: WinNodesError,
    report: ReconcileReport,
    view: FleetView,
) -> None:
    report.errors.append(f"{managed.auto_scaling_group_name} {instance_id}: {error}")
    logger.error(
        "reconciling instance failed",
        extra=_instance_log(managed, instance_id, view) | {"error": str(error)},
    )


def _group_log(managed: ManagedGroup) -> dict[str, str | None]:
    """The keys of a log line about a group, as the join's and the leave's lines carry them."""
    return {"cluster": str(managed.cluster), "asg": managed.auto_scaling_group_name}


def _instance_log(
    managed: ManagedGroup, instance_id: str, view: FleetView
) -> dict[str, str | None]:
    """The keys of a log line about one instance: its Node's name too, when the pass read it
    (a log line costs no request)."""
    return _group_log(managed) | {
        "instance_id": instance_id,
        "node": view.node_name_read(str(managed.cluster), instance_id),
    }


def _prefetch_instances(
    view: FleetView, groups: list[AutoScalingGroup], report: ReconcileReport
) -> None:
    """Every instance the pass may act on, in DescribeInstances pages of 200: those of the groups
    it reconciles (not of a group marked but not managed, or unusable, or whose warm pool could
    not be read). Should that fail (throttled past the SDK's retries), each group reads its own
    instances, within its error handling: one failed read must not cost every group its step."""
    reconciled = (
        g
        for g in groups
        if g.warm_pool_error is None
        and isinstance(discover_managed_group(g.name, g.tags), ManagedGroup)
    )
    try:
        view.prefetch_instances(i for g in reconciled for i in _acted_on(g))
    except WinNodesError as error:
        report.errors.append(f"describing the groups' instances: {error}")
        logger.error("describing the groups' instances failed", extra={"error": str(error)})


def _record_pass(report: ReconcileReport) -> None:
    metrics.add_metric(name="ReconciledGroups", unit="Count", value=report.groups)
    if report.errors:
        # The pass itself succeeds (one group's failure stops no other), so Lambda's Errors
        # never counts these: this metric and its alarm do.
        metrics.add_metric(name="ReconcileErrors", unit="Count", value=len(report.errors))
    if report.deferred:
        metrics.add_metric(name="ReconcileDeferred", unit="Count", value=len(report.deferred))
        logger.warning(
            "pass cut short by the invocation's time limit; the next pass carries on",
            extra={"deferred": report.deferred},
        )
