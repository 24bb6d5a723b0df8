"""The fleet of managed groups, as the services see it. `Fleet` holds the ports that read it and
completes or heartbeats the lifecycle actions that hold its instances; a `FleetView` is one
pass's look at it: each group, instance, cluster and node list is fetched at most once per pass,
so a reconciler pass costs calls per page, not per instance pair."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from winnodes.errors import InvalidInputError, WinNodesError
from winnodes.models.groups import ManagedGroup
from winnodes.models.lifecycle import LifecycleActionResult, LifecycleTransition
from winnodes.observability import logger
from winnodes.ports import (
    AutoScaling,
    AutoScalingGroup,
    Clock,
    ClusterConnection,
    ClusterDirectory,
    ClusterKube,
    Compute,
    GroupInstance,
    Instance,
    LifecycleHook,
    NodeState,
)

# Ids per DescribeInstances request (named by InstanceIds: adapters.ec2), as for CreateTags.
_INSTANCE_BATCH = 200

# In a Lambda invocation, no look or step starts once less than this is left of its time: one
# request against an API server or AWS endpoint that accepts connections but does not answer
# runs its timeouts and retries out (adapters.kube.api REQUEST_TIME_LIMIT, 72 s; adapters.aws
# CALL_TIME_LIMIT, 67 s), and the handler still has to complete the action and flush its metrics.
STEP_RESERVE: Final = timedelta(seconds=75)


def work_deadline(clock: Clock, time_left: timedelta | None) -> float | None:
    """The clock's monotonic time after which no look or step starts: STEP_RESERVE before an
    invocation with `time_left` ends; None without one (a run by hand)."""
    if time_left is None:
        return None
    return clock.monotonic() + (time_left - STEP_RESERVE).total_seconds()


class HeldInstance(Protocol):
    """An instance a lifecycle hook holds (a launch or a terminate action)."""

    @property
    def group(self) -> ManagedGroup: ...
    @property
    def instance_id(self) -> str: ...
    @property
    def hook(self) -> LifecycleHook: ...
    @property
    def token(self) -> str | None: ...


@dataclass(frozen=True)
class Fleet:
    """The ports the services read the fleet through (and act on it with)."""

    autoscaling: AutoScaling
    compute: Compute
    clusters: ClusterDirectory
    kube_for: Callable[[ClusterConnection], ClusterKube]

    def view(self, *, wait_until: float | None = None) -> FleetView:
        """A fresh view, for one pass or one invocation. `wait_until`: the clock's monotonic
        time after which a wait through this view starts no new look (the invocation's end,
        less STEP_RESERVE), whatever the wait budget says."""
        return FleetView(self, wait_until=wait_until)

    def record_heartbeat(self, held: HeldInstance, view: FleetView) -> bool:
        """False when the action was no longer pending (completed elsewhere, timed out). The
        view then reads the group again, so the next look sees how the action ended instead of
        waiting on for the group's next scheduled read."""
        recorded = self.autoscaling.record_heartbeat(
            group=held.group.auto_scaling_group_name,
            hook=held.hook.name,
            instance_id=held.instance_id,
            token=held.token,
        )
        if not recorded:
            view.forget_group(held.group.auto_scaling_group_name)
        return recorded

    def complete(self, held: HeldInstance, result: LifecycleActionResult) -> bool:
        """False when the action was no longer pending (completed by a duplicate, timed out)."""
        return self.autoscaling.complete_lifecycle_action(
            group=held.group.auto_scaling_group_name,
            hook=held.hook.name,
            instance_id=held.instance_id,
            result=result.value,
            token=held.token,
        )


class FleetView:
    def __init__(self, fleet: Fleet, *, wait_until: float | None = None) -> None:
        self._fleet = fleet
        self.wait_until = wait_until
        self._groups: dict[str, AutoScalingGroup | None] = {}
        self._hooks: dict[str, Sequence[LifecycleHook]] = {}
        self._instances: dict[str, Instance | None] = {}
        self._connections: dict[str, ClusterConnection | WinNodesError] = {}
        self._nodes: dict[str, dict[str, NodeState] | WinNodesError] = {}
        self._named_nodes: dict[tuple[str, str], NodeState | WinNodesError | None] = {}
        # A node list (every Node of the cluster) is read on a first look and after a
        # refresh() that asks for it; other polls GET the one Node by name.
        self._may_list_nodes = True
        self._memo: dict[Hashable, Any] = {}
        self._asked_again: set[Hashable] = set()  # memo keys whose None refresh() forgets

    def refresh(self, *, list_nodes: bool = True) -> None:
        """For the next poll of a waiting action: groups, instances and nodes change from one
        poll to the next; clusters, hooks and roles do not within one invocation. Without
        `list_nodes`, the poll GETs the one Node by name, as after refresh_nodes()."""
        self._groups.clear()
        self._instances.clear()
        self._nodes.clear()
        self._named_nodes.clear()
        self._may_list_nodes = list_nodes
        self._memo = {
            k: v
            for k, v in self._memo.items()
            if not isinstance(v, WinNodesError) and not (v is None and k in self._asked_again)
        }

    def forget_failures(self) -> None:
        """For a poll after one that failed: ask again what failed, keep what was read."""
        caches: tuple[dict[Any, Any], ...] = (
            self._connections,
            self._nodes,
            self._named_nodes,
            self._memo,
        )
        for cache in caches:
            for key in [k for k, v in cache.items() if isinstance(v, WinNodesError)]:
                del cache[key]

    def refresh_nodes(self) -> None:
        """For a poll that only needs to see the nodes again: each by name, not the list."""
        self._nodes.clear()
        self._named_nodes.clear()
        self._may_list_nodes = False

    def remember_groups(self, groups: Iterable[AutoScalingGroup]) -> None:
        for group in groups:
            self._groups[group.name] = group

    def forget_group(self, name: str) -> None:
        """Read the group (its instances' lifecycle states) again next time."""
        self._groups.pop(name, None)

    def group(self, name: str) -> AutoScalingGroup | None:
        if name not in self._groups:
            self._groups[name] = self._fleet.autoscaling.describe_group(name)
        return self._groups[name]

    def member(self, group: str, instance_id: str) -> GroupInstance | None:
        """The instance as the group or its warm pool lists it; None when neither does (or the
        group is gone)."""
        read = self.group(group)
        members = read.instances if read else ()
        return next((m for m in members if m.instance_id == instance_id), None)

    def hooks(self, group: str) -> Sequence[LifecycleHook]:
        if group not in self._hooks:
            self._hooks[group] = self._fleet.autoscaling.lifecycle_hooks(group)
        return self._hooks[group]

    def our_hook(self, group: ManagedGroup, transition: str) -> LifecycleHook | None:
        """The group's hook for `transition` that is ours: the one its tag names, else its only
        one. None when it has none, or several and no tag says which: completing another tool's
        action would let an instance past that tool's step, and ours would time out."""
        candidates = [
            h for h in self.hooks(group.auto_scaling_group_name) if h.transition == transition
        ]
        launching = transition == LifecycleTransition.LAUNCHING
        named = group.launch_hook if launching else group.terminate_hook
        if named is not None:
            return next((h for h in candidates if h.name == named), None)
        return candidates[0] if len(candidates) == 1 else None

    def prefetch_instances(self, instance_ids: Iterable[str]) -> None:
        wanted = [i for i in dict.fromkeys(instance_ids) if i not in self._instances]
        for start in range(0, len(wanted), _INSTANCE_BATCH):
            batch = wanted[start : start + _INSTANCE_BATCH]
            found = self._fleet.compute.describe_instances(batch)
            for instance_id in batch:
                self._instances[instance_id] = found.get(instance_id)

    def instance(self, instance_id: str) -> Instance | None:
        """The instance, unless EC2 does not show it or shows it terminated."""
        self.prefetch_instances([instance_id])
        instance = self._instances[instance_id]
        return None if instance is None or instance.state == "terminated" else instance

    def terminating(self, instance_id: str) -> bool:
        """EC2 shows the instance shutting down or terminated."""
        self.prefetch_instances([instance_id])
        instance = self._instances[instance_id]
        return instance is not None and instance.terminating

    def note_tags(self, instance_ids: Iterable[str], tags: Mapping[str, str]) -> None:
        """We added `tags` to these instances: what EC2 now holds, without reading it again."""
        for instance_id in instance_ids:
            instance = self._instances.get(instance_id)
            if instance is not None:
                self._instances[instance_id] = replace(instance, tags={**instance.tags, **tags})

    def connection(self, cluster: str) -> ClusterConnection:
        # A failure is remembered too: a pass asks once per cluster, not once per group of a
        # cluster that is gone or out of reach (each ask can take its retries' time).
        if cluster not in self._connections:
            describe = self._fleet.clusters.describe_cluster
            self._connections[cluster] = _outcome(lambda: describe(cluster))
        return _result(self._connections[cluster])

    def kube(self, cluster: str) -> ClusterKube:
        return self._fleet.kube_for(self.connection(cluster))

    def nodes(self, cluster: str) -> dict[str, NodeState]:
        if cluster not in self._nodes:
            self._nodes[cluster] = _outcome(lambda: self.kube(cluster).nodes_by_instance())
        return _result(self._nodes[cluster])

    def node(self, cluster: str, instance: Instance) -> NodeState | None:
        """The instance's Node. From the node list on a first look or after a refresh() that
        lists; on the polls in between, a GET of the name EKS gives a Windows node (its private
        DNS name),
        checked by providerID: a waiting join no longer lists every Node of a large cluster every
        poll. A node named otherwise (a hostname override) is still found by the next list."""
        name = instance.private_dns_name
        if cluster in self._nodes or self._may_list_nodes or not name:
            return self.nodes(cluster).get(instance.instance_id)
        if (cluster, name) not in self._named_nodes:
            self._named_nodes[cluster, name] = _outcome(lambda: self.kube(cluster).node_named(name))
        named = _result(self._named_nodes[cluster, name])
        return named if named is not None and named.instance_id == instance.instance_id else None

    def node_name_read(self, cluster: str, instance_id: str) -> str | None:
        """The name of the instance's Node as this view read it, None when it read none: for
        log lines, which must not cost a request."""
        listed = self._nodes.get(cluster)
        if isinstance(listed, dict) and instance_id in listed:
            return listed[instance_id].name
        return next(
            (
                named.name
                for (in_cluster, _), named in self._named_nodes.items()
                if in_cluster == cluster
                and isinstance(named, NodeState)
                and named.instance_id == instance_id
            ),
            None,
        )

    def note_node(self, cluster: str, node: NodeState) -> None:
        """We changed this Node and it now reads `node`: what the API server holds, without
        reading it again."""
        listed = self._nodes.get(cluster)
        if isinstance(listed, dict) and node.instance_id in listed:
            listed[node.instance_id] = node
        for key, named in self._named_nodes.items():
            if key[0] == cluster and isinstance(named, NodeState) and named.name == node.name:
                self._named_nodes[key] = node

    def set_warm_pool_cordon(self, cluster: str, name: str, *, held: bool) -> bool:
        """Cordons the Node, marked as held for the warm pool (`held`), or lifts exactly that
        cordon; False when the Node is gone. The join holds a Node launched into the pool, the
        leave one returned to it, and the draw's join or the reconciler lifts it. The view then
        holds the Node as it now is, so the next step needs no read."""
        kube = self.kube(cluster)
        node = kube.hold_for_warm_pool(name) if held else kube.return_from_warm_pool(name)
        if node is None:
            return False
        self.note_node(cluster, node)
        return True

    def memo[T](self, key: Hashable, fetch: Callable[[], T], *, none_may_change: bool = False) -> T:
        """Anything else read once per pass (a role behind a profile, a role's authorization).
        A failure is remembered too, until refresh(): a cluster out of reach costs a pass its
        timeouts once, not once per group and instance. `none_may_change`: a None (nothing
        found) is asked again after refresh(), as a failure is."""
        if none_may_change:
            self._asked_again.add(key)
        if key not in self._memo:
            self._memo[key] = _outcome(fetch)
        value: T = _result(self._memo[key])
        return value

    def remember(self, key: Hashable, value: object) -> None:
        """After we changed something: what the pass should now believe."""
        self._memo[key] = value


# A wait reports itself at INFO when what it waits for changes, and at least this often, with how
# long it has waited: an operator running `winnodes lifecycle` by hand sees it has not stalled.
PROGRESS_LOG_INTERVAL: Final = timedelta(minutes=1)


def progress_worth_info(*, changed: bool, last_logged_at: datetime | None, now: datetime) -> bool:
    return changed or last_logged_at is None or now - last_logged_at >= PROGRESS_LOG_INTERVAL


# While an action waits, its poll GETs the one Node by name every time but reads the group and
# the instance only this often: Auto Scaling and EC2 throttle Describe calls account-wide, and an
# instance refresh has many actions waiting at once.
FLEET_READ_INTERVAL: Final = timedelta(seconds=15)


# And the node list (every Node of the cluster, megabytes on a large one) only this often: it is
# read for a Node named otherwise than its instance's private DNS name (FleetView.node), which
# is then seen up to this much later; the polls in between GET the one Node by name.
NODE_LIST_INTERVAL: Final = timedelta(seconds=60)


# How long the polls of an action seen once may fail in a row before the invocation fails:
# an API server restarting in a control plane update, throttling beyond the SDK's retries. Then
# Lambda's retry or the reconciler carries on; a first look that fails fails at once.
POLL_ERROR_GRACE: Final = timedelta(seconds=60)


class WaitSettings(Protocol):
    """What the join's and the drain's settings say about waiting on one action."""

    @property
    def wait_budget(self) -> timedelta: ...
    @property
    def poll_interval(self) -> timedelta: ...
    @property
    def fleet_read_interval(self) -> timedelta: ...


class Look(Protocol):
    """One look's result: whether the action needs nothing more."""

    @property
    def finished(self) -> bool: ...


class Polling:
    """One invocation's wait on one action: look, and while it is not finished and the wait
    budget lasts, pause and look again. Between looks the view reads the Node again each time,
    the fleet every FLEET_READ_INTERVAL and the node list every NODE_LIST_INTERVAL; a failed
    look is tried again under POLL_ERROR_GRACE, after one poll interval."""

    def __init__(
        self,
        view: FleetView,
        clock: Clock,
        settings: WaitSettings,
        *,
        error_grace: timedelta = POLL_ERROR_GRACE,
        node_list_interval: timedelta = NODE_LIST_INTERVAL,
    ) -> None:
        self._view = view
        self._clock = clock
        self._budget = settings.wait_budget.total_seconds()
        self._poll = settings.poll_interval.total_seconds()
        self._read_interval = settings.fleet_read_interval.total_seconds()
        self._error_grace = error_grace.total_seconds()
        self._list_interval = node_list_interval.total_seconds()
        self._seen = False  # a look succeeded: the action's setup is sound
        self._failing_since: float | None = None

    def run[R: Look](
        self, held: HeldInstance, look: Callable[[], R], *, pause: Callable[[R], float]
    ) -> R:
        """The last look's result: finished, or the budget spent. `pause(result)` is how long
        to wait before the next look; 0 looks again at once, through the same reads. The budget
        ends early where the view's `wait_until` says (the invocation's time runs out)."""
        started = self._clock.monotonic()
        ends = started + self._budget
        if self._view.wait_until is not None:
            ends = min(ends, self._view.wait_until)
        read_at = listed_at = started  # of the last full read, of the last node list
        last: R | None = None
        while True:
            try:
                result = look()
            except WinNodesError as error:
                now = self._clock.monotonic()
                spent = now >= ends
                if not self._forgiven(error, now) or (spent and last is None):
                    raise
                _log_failed_poll(held, error, spent=spent)
                if spent and last is not None:
                    # One failed look at the budget's end: the last good look's result stands,
                    # its action left waiting for the next pass, not an invocation failed (and
                    # retried by Lambda) for one blip.
                    return last
                # The view remembers failures for the rest of a pass: the next poll asks again.
                self._view.forget_failures()
                wait = self._poll
            else:
                self._seen = True
                self._failing_since = None
                last = result
                if result.finished or self._clock.monotonic() >= ends:
                    return result
                wait = pause(result)
            if wait <= 0:
                continue
            self._clock.sleep(max(min(wait, ends - self._clock.monotonic()), 0.0))
            now = self._clock.monotonic()
            if now - read_at >= self._read_interval:
                list_nodes = now - listed_at >= self._list_interval
                self._view.refresh(list_nodes=list_nodes)
                read_at = now
                listed_at = now if list_nodes else listed_at
            else:
                self._view.refresh_nodes()

    def _forgiven(self, error: WinNodesError, now: float) -> bool:
        """Whether a failed look is put down to a blip: the action was seen before (a first
        look that fails is more likely a setting than a blip) and its looks have failed for
        less than the grace."""
        if not self._seen or isinstance(error, InvalidInputError):
            return False
        if self._failing_since is None:
            self._failing_since = now
        return now - self._failing_since < self._error_grace


def _log_failed_poll(held: HeldInstance, error: WinNodesError, *, spent: bool) -> None:
    logger.warning(
        "poll failed; the wait budget is spent: left for the next pass"
        if spent
        else "poll failed; trying again at the next one",
        extra={
            "cluster": str(held.group.cluster),
            "asg": held.group.auto_scaling_group_name,
            "instance_id": held.instance_id,
            "error": str(error),
        },
    )


def _outcome[T](read: Callable[[], T]) -> T | WinNodesError:
    try:
        return read()
    except WinNodesError as error:
        return error


def _result[T](outcome: T | WinNodesError) -> T:
    if isinstance(outcome, WinNodesError):
        raise outcome
    return outcome
