"""Leave: the Node of an instance that a managed group terminates is cordoned and drained with
evictions that honour PodDisruptionBudgets, then deleted, and only then is the terminate action
completed with CONTINUE (a Node the API refuses to delete goes with its instance: the action is
completed all the same). A drain never outlives its deadline: at the deadline the action is
completed anyway (a terminate hook can delay the instance's end, not prevent it).

An instance returning to the warm pool (scale-in with ReuseOnScaleIn) is drained alike, but its
Node is kept, cordoned and marked as the join marks a Node it holds for the pool: the join of
the instance's draw waits for it Ready (and the smoke test) and lifts exactly that cordon.

The same `advance` serves the terminate event (looping for a bounded time, heartbeating) and the
reconciler (one non-blocking step per tick). The drain's start time lives on the Node (an
annotation written at cordon time), so the deadline holds across invocations, and every step is
observed afresh: duplicated, lost or reordered events change nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from winnodes.decisions.drain import (
    PDB_RETRY_INTERVAL,
    ContinueDraining,
    DrainClock,
    DrainPolicy,
    DrainProgress,
    DrainStart,
    DrainStep,
    DrainTimedOut,
    EvictionOutcome,
    FinishDrain,
    Pod,
    PodPhase,
    PodRef,
    classify_eviction_response,
    decide_drain_step,
    drain_progress,
    eviction_retry_delay,
    plan_evictions,
    policy_for_node,
    start_drain,
)
from winnodes.errors import KubernetesError, KubernetesNotFoundError, excerpt
from winnodes.models.groups import ManagedGroup
from winnodes.models.lifecycle import LifecycleActionResult, LifecycleState
from winnodes.observability import logger, metrics
from winnodes.ports import (
    Clock,
    ClusterConnection,
    LeavingNode,
    LifecycleHook,
    NodeDrain,
    PodOnNode,
)
from winnodes.services.fleet import (
    FLEET_READ_INTERVAL,
    Fleet,
    FleetView,
    Polling,
    progress_worth_info,
)
from winnodes.services.tagging import InstanceTags

# A look starts evictions (and deletes of completed pods) only this long after its first: answered
# in milliseconds, every due pod is sent at once; answered slowly (a webhook on pods/eviction
# timing out), waves of up to 35 s each would make one look outlast the time an invocation keeps
# for it (fleet.STEP_RESERVE). The pods not sent are the next look's, as they were due. The
# deletes of a forced drain at its deadline are not limited: the action completes after them.
EVICTIONS_START_WITHIN: Final = timedelta(seconds=10)


@dataclass(frozen=True)
class LeaveSettings:
    policy: DrainPolicy = field(default_factory=DrainPolicy)
    # How long one invocation may drain before leaving the rest to the reconciler.
    wait_budget: timedelta = timedelta(minutes=10)
    # How often a drain looks again while evicted pods terminate (kubectl polls every second).
    poll_interval: timedelta = timedelta(seconds=1)
    # How soon an eviction a PodDisruptionBudget refused is tried again (kubectl: 5 s).
    pdb_retry_interval: timedelta = PDB_RETRY_INTERVAL
    fleet_read_interval: timedelta = FLEET_READ_INTERVAL


@dataclass
class TerminateAction:
    """One pending terminate action and what this invocation learned about it so far. The
    reconciler builds a fresh one per tick; nothing here is needed for correctness."""

    group: ManagedGroup
    instance_id: str
    hook: LifecycleHook
    token: str | None = None
    # Scale-in returns it to the warm pool (ReuseOnScaleIn): held at Warmed:Pending:Wait. Set
    # from the event's Destination, or by the reconciler when the instance's facts prove it;
    # believed only while the instance waits there (LifecycleState.returns_to_pool).
    returning_to_pool: bool = False
    last_heartbeat_at: datetime | None = None
    node_name: str | None = None
    # By pod key ("namespace/name"): the PDB that refused its last eviction (None: unnamed).
    pdb_refusals: dict[str, str | None] = field(default_factory=dict)
    retry_at: dict[str, datetime] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    evicted: int = 0
    # (pods remaining, of them blocked by a PDB) as last logged at INFO: logged again on change
    last_reported: tuple[int, int] | None = None
    last_reported_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NotTerminating:
    """The instance is not held by a terminate action (in service, gone, or never ours)."""

    lifecycle_state: str | None


type LeaveStep = DrainStep | NotTerminating


@dataclass(frozen=True)
class _Observation:
    drain: NodeDrain
    node: LeavingNode | None
    pods: Sequence[PodOnNode]
    now: datetime
    started_at: datetime
    log: dict[str, str | None]
    policy: DrainPolicy  # the settings' policy, for this node (policy_for_node)
    view: FleetView


@dataclass(frozen=True)
class LeaveResult:
    instance_id: str
    step: LeaveStep
    finished: bool
    progress: DrainProgress = field(default_factory=lambda: DrainProgress(remaining=()))
    node: str | None = None

    @property
    def remaining(self) -> int:
        return len(self.progress.remaining)

    @property
    def blocked_by_pdb(self) -> int:
        return len(self.progress.blocked_by_pdb)


class LeaveService:
    def __init__(
        self,
        *,
        fleet: Fleet,
        drain_for: Callable[[ClusterConnection], NodeDrain],
        clock: Clock,
        settings: LeaveSettings | None = None,
    ) -> None:
        self._fleet = fleet
        self._drain_for = drain_for
        self._clock = clock
        self._settings = settings or LeaveSettings()
        self._tags = InstanceTags(compute=fleet.compute, extra_tags={})

    def view(self) -> FleetView:
        return self._fleet.view()

    def leave(self, action: TerminateAction, view: FleetView | None = None) -> LeaveResult:
        """Drives the action until it is finished or the wait budget is spent (the reconciler
        carries on from there). `view`: one just read, to look through first."""
        # One view for the invocation: the cluster's connection and its drain (with the policy
        # API version it discovered) hold for every poll. An action that ended meanwhile shows
        # at the group's next read, or sooner if another drain deleted the Node.
        view = view or self.view()
        return Polling(view, self._clock, self._settings).run(
            action,
            lambda: self.advance(action, view),
            pause=lambda result: self._pause(action, result),
        )

    def advance(self, action: TerminateAction, view: FleetView | None = None) -> LeaveResult:
        """Observe (through `view`, fresh when not given), decide, perform one step."""
        view = view or self.view()
        now = self._clock.now()
        log: dict[str, str | None] = {
            "cluster": str(action.group.cluster),
            "asg": action.group.auto_scaling_group_name,
            "instance_id": action.instance_id,
            "node": action.node_name,
        }
        state = self._lifecycle_state(action, view)
        parsed = LifecycleState.parse(state)
        if parsed is None or not parsed.awaits_terminate_action_to(
            returning_to_pool=action.returning_to_pool
        ):
            logger.info("instance is not awaiting a terminate action", extra=log | {"state": state})
            return LeaveResult(action.instance_id, NotTerminating(state), finished=True)
        returning = parsed.returns_to_pool(returning_to_pool=action.returning_to_pool)
        if returning:
            self._mark_returned(action, view, now, log)
        elif action.returning_to_pool:
            # Once: the instance never goes back from Terminating:Wait to the pool.
            action.returning_to_pool = False
            logger.warning(
                "the event says the instance returns to the warm pool, but it is terminating: "
                "drained as a termination",
                extra=log | {"state": state},
            )

        drain = self._drain(action, view)
        node = self._leaving_node(action, drain, view)
        started_at = now
        if node is not None:
            start = start_drain(
                recorded=node.drain_started_at,
                node_unschedulable=node.unschedulable,
                returning_to_pool=returning,
                now=now,
            )
            started_at = start.started_at
            if not node.cordoned:
                node = self._cordon(action, node, start, drain=drain, view=view, log=log)
        if node is None:
            # Never joined, or already deleted: nothing to drain (NTH#331).
            step = decide_drain_step(
                DrainProgress(remaining=()),
                self._drain_clock(action, now),
                node_exists=False,
                now=now,
            )
            seen = _Observation(drain, None, (), now, now, log, self._settings.policy, view)
            return self._perform(step, action, seen)
        action.node_name = log["node"] = node.name
        pods = drain.pods_on(node.name)
        policy = policy_for_node(self._settings.policy, node_ready=node.ready)
        progress = self._progress(action, pods, now, policy)
        step = decide_drain_step(
            progress,
            self._drain_clock(action, started_at),
            node_exists=True,
            now=now,
            returning_to_pool=returning,
        )
        seen = _Observation(drain, node, pods, now, started_at, log, policy, view)
        return self._perform(step, action, seen)

    def _cordon(
        self,
        action: TerminateAction,
        node: LeavingNode,
        start: DrainStart,
        *,
        drain: NodeDrain,
        view: FleetView,
        log: dict[str, str | None],
    ) -> LeavingNode | None:
        """Cordons the Node for the drain (for the warm pool first, when `start` says so); None
        when it is gone."""
        try:
            if start.hold_for_warm_pool and not view.set_warm_pool_cordon(
                str(action.group.cluster), node.name, held=True
            ):
                return None
            drain.cordon(node, drain_started_at=start.started_at if start.begins_now else None)
        except KubernetesNotFoundError:
            return None  # deleted since we looked: a duplicate event finished the drain
        if start.begins_now:
            restarted = node.drain_started_at is not None
            logger.info(
                "cordoned node; drain started"
                + ("; the drain start on the node was an earlier drain's" if restarted else ""),
                extra=log | {"node": node.name},
            )
        return node

    # -- perform ----------------------------------------------------------------------------

    def _perform(self, step: DrainStep, action: TerminateAction, seen: _Observation) -> LeaveResult:
        match step:
            case ContinueDraining(heartbeat_due=due, deadline_at=deadline_at):
                self._evict(action, seen)
                if due and not self._heartbeat(action, seen.view):
                    # The next look reads the group again and ends the drain.
                    logger.info(
                        "heartbeat refused: the terminate action is no longer pending",
                        extra=seen.log,
                    )
                progress = self._progress(action, seen.pods, seen.now, seen.policy)
                counts = (len(progress.remaining), len(progress.blocked_by_pdb))
                report: dict[str, str | None] = {
                    "remaining": str(counts[0]),
                    "blocked_by_pdb": str(counts[1]),
                }
                changed = counts != action.last_reported
                if progress_worth_info(
                    changed=changed, last_logged_at=action.last_reported_at, now=seen.now
                ):
                    action.last_reported, action.last_reported_at = counts, seen.now
                    drained = max(seen.now - seen.started_at, timedelta(0))
                    report |= {
                        "draining_s": str(round(drained.total_seconds())),
                        "deadline": deadline_at.isoformat(),
                    }
                    logger.info("draining", extra=seen.log | report)
                else:
                    logger.debug("draining", extra=seen.log | report)
                return LeaveResult(action.instance_id, step, False, progress, action.node_name)
            case FinishDrain(delete_node=delete_node, keep_for_warm_pool=keep):
                if delete_node and seen.node is not None:
                    self._delete_node(seen.node, seen)
                if keep and seen.node is not None:
                    self._keep_for_warm_pool(action, seen)
                if self._complete(action):
                    if seen.node is not None:
                        took = max((self._clock.now() - seen.started_at).total_seconds(), 0.0)
                        metrics.add_metric(name="DrainSeconds", unit="Seconds", value=took)
                    logger.info(
                        "node drained: terminate action completed with CONTINUE", extra=seen.log
                    )
                return LeaveResult(action.instance_id, step, True, node=action.node_name)
            case DrainTimedOut():
                progress = self._timed_out(step, action, seen)
                return LeaveResult(action.instance_id, step, True, progress, action.node_name)
        raise AssertionError(f"unhandled drain step {step!r}")

    def _evict(self, action: TerminateAction, seen: _Observation) -> None:
        drain, pods, now, log = seen.drain, seen.pods, seen.now, seen.log
        by_key = {pod.key: pod for pod in pods}
        plan = plan_evictions((_decision_pod(p) for p in pods), seen.policy, now)
        deletes = [
            by_key[key] for p in plan.delete if action.retry_at.get(key := str(p.ref), now) <= now
        ]
        # Not made in time: planned again at the next look, as long as the pod is there. One
        # refused (an admission webhook down, a policy) must not keep the evictions, the
        # heartbeat or the deadline's completion from happening: retried like an eviction.
        for key, error in drain.delete_pods(deletes, start_within=EVICTIONS_START_WITHIN).items():
            self._retry_later(action, key, now)
            logger.warning(
                "could not delete a completed pod; retrying later",
                extra=log | _error_details(error) | {"pod": key},
            )
        due = [
            by_key[key] for p in plan.evict if action.retry_at.get(key := str(p.ref), now) <= now
        ]
        answers = drain.evict(due, start_within=EVICTIONS_START_WITHIN)
        blocked: list[PodOnNode] = []
        evicted = 0
        for pod in due:
            if (answer := answers.get(pod.key)) is None:
                continue  # not sent in time: due at the next look as it was
            outcome = classify_eviction_response(answer.status)
            match outcome:
                case EvictionOutcome.EVICTED | EvictionOutcome.GONE:
                    action.pdb_refusals.pop(pod.key, None)
                    action.retry_at.pop(pod.key, None)
                    evicted += outcome is EvictionOutcome.EVICTED
                case EvictionOutcome.BLOCKED_BY_PDB:
                    blocked.append(pod)
                    action.retry_at[pod.key] = now + self._settings.pdb_retry_interval
                case EvictionOutcome.RETRY | EvictionOutcome.FAILED:
                    self._retry_later(action, pod.key, now)
                    # The API's message names a cause the status cannot (500: two PDBs
                    # select the pod).
                    said = {"status": str(answer.status), "error": excerpt(answer.error)}
                    logger.warning(
                        "eviction failed; retrying later", extra=log | said | {"pod": pod.key}
                    )
        if blocked:
            budgets = self._budgets_named(drain, blocked, log)
            for pod in blocked:
                action.pdb_refusals[pod.key] = budgets.get(pod.key)
            metrics.add_metric(name="EvictionsBlockedByPDB", unit="Count", value=len(blocked))
        if evicted:
            action.evicted += evicted
            metrics.add_metric(name="PodsEvicted", unit="Count", value=evicted)

    def _retry_later(self, action: TerminateAction, key: str, now: datetime) -> None:
        """A failed eviction or delete of the pod `key` is tried again after a backoff."""
        attempt = action.failures.get(key, 0)
        action.failures[key] = attempt + 1
        action.retry_at[key] = now + eviction_retry_delay(attempt)

    def _timed_out(
        self, step: DrainTimedOut, action: TerminateAction, seen: _Observation
    ) -> DrainProgress:
        drain, node, pods, now = seen.drain, seen.node, seen.pods, seen.now
        blocking = {str(ref) for ref in step.blocking_pods}
        left = [pod for pod in pods if pod.key in blocking]
        # This invocation may not have seen the refusals (a reconciler tick): ask the budgets.
        named = self._budgets_named(drain, left, seen.log)
        pdbs = sorted(set(step.blocking_pdbs) | set(named.values()))
        if step.delete_remaining_pods:
            # A pod the API refuses to delete stays: the action completes all the same.
            for key, error in drain.delete_pods(left).items():
                logger.warning(
                    "could not delete a pod at the drain deadline",
                    extra=seen.log | _error_details(error) | {"pod": key},
                )
        if step.delete_node and node is not None:
            self._delete_node(node, seen)
        if step.keep_for_warm_pool and node is not None:
            self._keep_for_warm_pool(action, seen)
        completed = self._complete(action)
        details: dict[str, str | None] = {
            "blocking_pods": ",".join(sorted(blocking)),
            "blocking_pdbs": ",".join(pdbs),
            "forced": str(step.delete_remaining_pods).lower(),
        }
        if completed:
            # The pods and budgets go in the log line, with the instance: metadata belongs to the
            # invocation's one metrics document, where a second drain's would replace them.
            metrics.add_metric(name="DrainTimedOut", unit="Count", value=1)
            logger.warning(
                "drain deadline reached: terminate action completed with CONTINUE",
                extra=seen.log | details,
            )
        progress = self._progress(action, pods, now, seen.policy)
        return DrainProgress(
            remaining=progress.remaining,
            blocked_by_pdb=progress.blocked_by_pdb,
            blocking_pdbs=tuple(pdbs),
            refused=progress.refused,
        )

    def _delete_node(self, node: LeavingNode, seen: _Observation) -> None:
        """Deleted before CONTINUE, so that no NotReady Node outlives its instance and the pod
        garbage collector removes what is left on it. The completion does not wait for it: a
        Node the API refuses to delete (a policy, a webhook down) goes when its instance does,
        as an unforced drain's does at its deadline."""
        try:
            seen.drain.delete_node(node)
        except KubernetesError as error:
            logger.warning(
                "could not delete the node; the action is completed all the same",
                extra=seen.log | _error_details(error),
            )

    def _budgets_named(
        self, drain: NodeDrain, pods: Sequence[PodOnNode], log: Mapping[str, str | None]
    ) -> Mapping[str, str]:
        """The PDBs selecting `pods`, to name in logs and metrics: best effort. A list the API
        refuses (403 without the verb, 429 throttled) must not stop the drain's heartbeat or
        the completion at its deadline."""
        if not pods:
            return {}
        try:
            return drain.disruption_budgets(pods)
        except KubernetesError as error:
            logger.warning(
                "could not list the PodDisruptionBudgets to name them",
                extra=dict(log) | {"status": str(error.status), "error": str(error)},
            )
            return {}

    def _keep_for_warm_pool(self, action: TerminateAction, seen: _Observation) -> None:
        """The drained Node stays for the instance's draw: kept running in the pool, or resumed
        from hibernation, a kubelet registers its Node once per start and not again once it is
        deleted (kubernetes/kubernetes#71398; still so in 2025, #116485), so the draw's join
        would wait for a Node that never comes. Held for the pool, it is what a Node the join
        holds is: the draw's join lifts the cordon once the Node is Ready, and the drain's
        marks are gone. A cordon that was not ours (an operator's) stays, unmarked."""
        if seen.node is None:  # decided only for a Node that was seen
            raise AssertionError("a Node kept for the warm pool without a Node")
        cluster = str(action.group.cluster)
        state = seen.view.kube(cluster).node_named(seen.node.name)
        if state is None:
            return  # gone meanwhile: the draw cannot join it either way
        if state.held_for_warm_pool or not state.unschedulable:
            seen.view.set_warm_pool_cordon(cluster, state.name, held=True)
            logger.info(
                "node drained and kept, cordoned until drawn from the warm pool", extra=seen.log
            )
        else:
            logger.info(
                "node drained and kept for the warm pool; its operator's cordon stays when drawn",
                extra=seen.log,
            )

    # -- observe ----------------------------------------------------------------------------

    def _drain(self, action: TerminateAction, view: FleetView) -> NodeDrain:
        """One per cluster and view: a reconciler pass or an invocation's polls share it."""
        cluster = str(action.group.cluster)
        return view.memo(("drain", cluster), lambda: self._drain_for(view.connection(cluster)))

    def _leaving_node(
        self, action: TerminateAction, drain: NodeDrain, view: FleetView
    ) -> LeavingNode | None:
        name = action.node_name
        if name is None:
            # The view lists a cluster's nodes once per pass (by providerID, like the drain
            # would): no list per terminating instance, and none at all for a node that is gone.
            listed = view.nodes(str(action.group.cluster)).get(action.instance_id)
            if listed is None:
                return None
            name = listed.name
        return drain.leaving_node(action.instance_id, name=name)

    def _lifecycle_state(self, action: TerminateAction, view: FleetView) -> str | None:
        member = view.member(action.group.auto_scaling_group_name, action.instance_id)
        if member is None or member.lifecycle_state not in LifecycleState:
            return None
        return member.lifecycle_state

    def _progress(
        self,
        action: TerminateAction,
        pods: Sequence[PodOnNode],
        now: datetime,
        policy: DrainPolicy,
    ) -> DrainProgress:
        refusals: Mapping[PodRef, str | None] = {
            PodRef(p.namespace, p.name): action.pdb_refusals[p.key]
            for p in pods
            if p.key in action.pdb_refusals
        }
        return drain_progress(
            (_decision_pod(p) for p in pods),
            policy,
            now,
            pdb_refusals=refusals,
        )

    def _drain_clock(self, action: TerminateAction, started_at: datetime) -> DrainClock:
        return DrainClock(
            started_at=started_at,
            heartbeat_timeout=timedelta(seconds=action.hook.heartbeat_timeout_seconds),
            last_heartbeat_at=action.last_heartbeat_at,
            policy=self._settings.policy,
        )

    def _pause(self, action: TerminateAction, result: LeaveResult) -> float:
        """Poll while evicted pods terminate; when only PDB refusals remain, wait for the first
        retry instead of asking the API every second."""
        poll = self._settings.poll_interval.total_seconds()
        if result.progress.blocked_by_pdb and len(result.progress.blocked_by_pdb) == len(
            result.progress.remaining
        ):
            now = self._clock.now()
            retries = [
                at
                for key, at in action.retry_at.items()
                if key in {str(ref) for ref in result.progress.blocked_by_pdb}
            ]
            if retries:
                return max(poll, (min(retries) - now).total_seconds())
        return poll

    def _mark_returned(
        self, action: TerminateAction, view: FleetView, now: datetime, log: dict[str, str | None]
    ) -> None:
        """Before the drain: the join-start stamp of its stay in the group is superseded, so a
        draw from a Running pool (LaunchTime unchanged) starts a join deadline of its own."""
        instance = view.instance(action.instance_id)
        if instance is not None and self._tags.mark_returned(instance, now, view):
            logger.info("instance returning to the warm pool", extra=log)

    # -- act on the lifecycle action --------------------------------------------------------

    def _heartbeat(self, action: TerminateAction, view: FleetView) -> bool:
        if not self._fleet.record_heartbeat(action, view):
            return False
        action.last_heartbeat_at = self._clock.now()
        return True

    def _complete(self, action: TerminateAction) -> bool:
        return self._fleet.complete(action, LifecycleActionResult.CONTINUE)


def _error_details(error: KubernetesError) -> dict[str, str | None]:
    """The keys a warning about a failed Kubernetes call logs."""
    return {"status": str(error.status), "error": excerpt(str(error))}


def _decision_pod(pod: PodOnNode) -> Pod:
    try:
        phase = PodPhase(pod.phase)
    except ValueError:
        phase = PodPhase.UNKNOWN
    return Pod(
        namespace=pod.namespace,
        name=pod.name,
        owner_kinds=pod.owner_kinds,
        is_mirror=pod.is_mirror,
        deletion_timestamp=pod.deletion_timestamp,
        has_emptydir=pod.has_emptydir,
        phase=phase,
    )
