"""EC2 Auto Scaling as our product sees it: lifecycle hooks that fire, lifecycle actions, and
instance refresh, grafted onto moto's autoscaling backend in-process.

moto 5.2.5 launches and terminates instances synchronously and never enters a wait state; it has
no CompleteLifecycleAction, RecordLifecycleActionHeartbeat or instance refresh. ``AsgEngine``
takes over capacity management for the groups of one account and region: every launch and
termination goes through the group's lifecycle hooks, publishes the EventBridge event, and waits
for the action to complete (or time out). Instance refresh replaces instances through the same
path. Behaviour follows the AWS documentation cited at each rule.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import (
    ASG_NAME_TAG,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    LifecycleHook,
    autoscaling_backends,
)
from moto.ec2.models.instances import Instance

from localcloud.aws.clock import SimClock

log = logging.getLogger("localcloud.aws.autoscaling")

# One lock for all simulated AWS state touched by the engine: moto's server handles requests on
# many threads, the engine's ticker runs on its own.
STATE_LOCK = threading.RLock()

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html
ACTIVE_STATES = frozenset({"Pending", "Pending:Wait", "Pending:Proceed", "InService"})
TRANSITIONAL_STATES = frozenset(
    {
        "Pending",
        "Pending:Wait",
        "Pending:Proceed",
        "Terminating",
        "Terminating:Wait",
        "Terminating:Proceed",
    }
)
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutLifecycleHook.html:
# HeartbeatTimeout 30..7200 s; the global timeout is min(100 × heartbeat, 172800 s).
MIN_HEARTBEAT, MAX_HEARTBEAT, MAX_GLOBAL_TIMEOUT = 30, 7200, 172800
# `Origin` / `Destination` of lifecycle events.
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html
EC2, GROUP, WARM_POOL = "EC2", "AutoScalingGroup", "WarmPool"
# Warm pool: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html
POOL_STATES = frozenset({"Stopped", "Running", "Hibernated"})
# An instance of the pool that finished its launch into it, ready to be drawn on scale-out.
WARMED_STATES = frozenset({"Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated"})
# DescribeWarmPool's MaxRecords: "The maximum value is 50."
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html
MAX_WARM_POOL_RECORDS = 50
# How long a terminated instance stays visible in DescribeAutoScalingInstances (simulated s).
TERMINATED_VISIBLE_FOR = 30.0

LaunchCallback = Callable[[FakeAutoScalingGroup, Instance], None]
TerminateCallback = Callable[[Instance], None]
EventPublisher = Callable[[dict[str, Any]], None]


class LocalLifecycleHook(LifecycleHook):
    """moto's lifecycle hook with the NotificationMetadata PutLifecycleHook was given (moto
    drops it); DescribeLifecycleHooks reports it and the hook's events carry it."""

    def __init__(
        self,
        name: str,
        group_name: str,
        transition: str,
        heartbeat_timeout: int,
        default_result: str,
        *,
        metadata: str | None,
    ) -> None:
        super().__init__(name, group_name, transition, heartbeat_timeout, default_result)
        self.notification_metadata = metadata


@dataclass(frozen=True)
class LaunchedFrom:
    """The launch template and resolved version an instance was launched from (none for a
    launch configuration)."""

    template_id: str | None
    version: int | None


class ActiveInstanceRefreshNotFound(AutoscalingClientError):
    code = "ActiveInstanceRefreshNotFound"


class InstanceRefreshInProgress(AutoscalingClientError):
    code = "InstanceRefreshInProgress"


class IrreversibleInstanceRefresh(AutoscalingClientError):
    code = "IrreversibleInstanceRefresh"


@dataclass(frozen=True)
class Completion:
    """A CompleteLifecycleAction call that took effect, and when (time.monotonic(), the clock
    the simulated kubelets note their Ready with): what tests order against."""

    instance_id: str
    transition: str
    result: str
    at: float


@dataclass
class LifecycleAction:
    token: str
    group_name: str
    hook_name: str
    instance_id: str
    transition: str
    heartbeat_timeout: int
    default_result: str
    started: float
    heartbeat_deadline: float
    global_deadline: float
    # Where the instance comes from and goes to (the event's Origin and Destination).
    origin: str = "EC2"
    destination: str = "AutoScalingGroup"
    result: str | None = None


@dataclass
class LaunchSpec:
    """Which launch template version new instances use (or the group's launch configuration)."""

    template_id: str | None
    version: str | None  # as requested: "3", "$Latest", "$Default"

    def as_dict(self, group: FakeAutoScalingGroup) -> dict[str, Any] | None:
        if self.template_id is None:
            return None
        template = group.ec2_backend.get_launch_template(self.template_id)
        return {
            "LaunchTemplateId": template.id,
            "LaunchTemplateName": template.name,
            "Version": self.version or "$Default",
        }


@dataclass
class RefreshPhase:
    spec: LaunchSpec
    to_replace: list[str]
    total: int
    surge: int = 0
    checkpoints_done: set[float] = field(default_factory=set)
    checkpoint_until: float | None = None
    started: float = 0.0


@dataclass
class InstanceRefresh:
    refresh_id: str
    group_name: str
    status: str
    preferences: dict[str, Any]
    desired_configuration: dict[str, Any] | None
    strategy: str
    start_time: datetime
    original_spec: LaunchSpec
    phase: RefreshPhase
    status_reason: str = ""
    end_time: datetime | None = None
    rollback: dict[str, Any] | None = None
    rollback_phase: RefreshPhase | None = None
    launched: set[str] = field(default_factory=set)
    cancel_requested: bool = False

    @property
    def active(self) -> bool:
        return self.status in ("Pending", "InProgress", "Cancelling", "RollbackInProgress")

    def describe(self) -> dict[str, Any]:
        done = self.phase.total - len(self.phase.to_replace)
        percentage = 100 if self.phase.total == 0 else int(done * 100 / self.phase.total)
        if self.status == "Successful":
            percentage = 100
        out: dict[str, Any] = {
            "InstanceRefreshId": self.refresh_id,
            "AutoScalingGroupName": self.group_name,
            "Status": self.status,
            "StatusReason": self.status_reason or None,
            "StartTime": self.start_time,
            "EndTime": self.end_time,
            "PercentageComplete": percentage,
            "InstancesToUpdate": len(self.phase.to_replace),
            "ProgressDetails": {
                "LivePoolProgress": {
                    "PercentageComplete": percentage,
                    "InstancesToUpdate": len(self.phase.to_replace),
                }
            },
            "Preferences": self.preferences,
            "Strategy": self.strategy,
        }
        if self.desired_configuration:
            out["DesiredConfiguration"] = self.desired_configuration
        if self.rollback is not None and self.rollback_phase is not None:
            rb = self.rollback_phase
            rb_done = rb.total - len(rb.to_replace)
            rb_pct = 100 if rb.total == 0 else int(rb_done * 100 / rb.total)
            out["RollbackDetails"] = {
                **self.rollback,
                "PercentageCompleteOnRollback": rb_pct,
                "InstancesToUpdateOnRollback": len(rb.to_replace),
                "ProgressDetailsOnRollback": {
                    "LivePoolProgress": {
                        "PercentageComplete": rb_pct,
                        "InstancesToUpdate": len(rb.to_replace),
                    }
                },
            }
        return out


@dataclass
class WarmPool:
    """A group's warm pool: PutWarmPool's settings and the instances in it (which
    DescribeAutoScalingGroups does not list; DescribeWarmPool does: "The instances that are
    currently in the warm pool").
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html"""

    min_size: int = 0
    pool_state: str = "Stopped"
    max_group_prepared_capacity: int | None = None
    reuse_on_scale_in: bool = False
    instances: list[InstanceState] = field(default_factory=list)

    def configuration(self) -> dict[str, Any]:
        out: dict[str, Any] = {"MinSize": self.min_size, "PoolState": self.pool_state}
        if self.max_group_prepared_capacity is not None:
            out["MaxGroupPreparedCapacity"] = self.max_group_prepared_capacity
        out["InstanceReusePolicy"] = {"ReuseOnScaleIn": self.reuse_on_scale_in}
        return out

    def size(self, group: FakeAutoScalingGroup) -> int:
        """How many instances the pool keeps: "If a value for MaxGroupPreparedCapacity is not
        specified, Amazon EC2 Auto Scaling launches and maintains the difference between the
        group's maximum capacity and its desired capacity", never fewer than MinSize
        (API_PutWarmPool; -1 means "not specified")."""
        prepared = self.max_group_prepared_capacity
        if prepared is None or prepared < 0:
            prepared = group.max_size or 0
        return max(self.min_size, prepared - (group.desired_capacity or 0), 0)


class InvalidNextToken(AutoscalingClientError):
    code = "InvalidNextToken"


@dataclass(frozen=True)
class CapacitySample:
    """Group capacity after a change, for tests: InService and all non-terminated instances."""

    at: float
    group: str
    desired: int
    in_service: int
    total: int


class AsgEngine:
    """Capacity, lifecycle hooks and instance refresh for one account/region's groups."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        clock: SimClock,
        publish: EventPublisher,
        on_launch: LaunchCallback | None = None,
        on_terminate: TerminateCallback | None = None,
        on_stop: TerminateCallback | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.clock = clock
        self.publish = publish
        self.on_launch = on_launch
        self.on_terminate = on_terminate
        # EC2 stops an instance (a warm pool in state Stopped); a start boots it (on_launch).
        self.on_stop = on_stop
        self.warm_pools: dict[str, WarmPool] = {}
        self.actions: dict[str, LifecycleAction] = {}
        self.completions: list[Completion] = []
        self.hook_metadata: dict[tuple[str, str], str | None] = {}
        self.refreshes: dict[str, list[InstanceRefresh]] = {}
        self.capacity_log: list[CapacitySample] = []
        self._launch_seq: dict[str, int] = {}
        self._launched_from: dict[str, LaunchedFrom] = {}
        self._in_service_at: dict[str, float] = {}
        self._terminated_at: dict[str, float] = {}
        self._seq = 0

    @property
    def backend(self) -> AutoScalingBackend:
        return autoscaling_backends[self.account_id][self.region]

    def owns(self, group: FakeAutoScalingGroup) -> bool:
        return group.account_id == self.account_id and group.region == self.region

    def launched_from(self, instance_id: str) -> LaunchedFrom | None:
        """What this engine launched the instance from; None for instances it did not launch."""
        return self._launched_from.get(instance_id)

    def _launched_version(self, instance_id: str) -> int | None:
        launched = self._launched_from.get(instance_id)
        return launched.version if launched is not None else None

    # -- hooks ------------------------------------------------------------------------------

    def hooks(self, group_name: str, transition: str) -> list[LifecycleHook]:
        return [
            h
            for h in self.backend.lifecycle_hooks.values()
            if h.auto_scaling_group_name == group_name and h.lifecycle_transition == transition
        ]

    def put_hook(
        self,
        *,
        group_name: str,
        name: str,
        transition: str | None,
        heartbeat_timeout: int | None,
        default_result: str | None,
        metadata: str | None,
        role_arn: str | None = None,
        target_arn: str | None = None,
    ) -> LifecycleHook:
        """PutLifecycleHook, validated like
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutLifecycleHook.html"""
        if group_name not in self.backend.autoscaling_groups:
            raise ValidationError(f"Group {group_name} not found")
        existing = self.backend.lifecycle_hooks.get(f"{group_name}_{name}")
        if not transition:
            if existing is None:
                raise ValidationError("LifecycleTransition is required for a new lifecycle hook")
            transition = existing.lifecycle_transition
        if transition is None or transition not in (LAUNCHING, TERMINATING):
            raise ValidationError(f"Invalid lifecycle transition: {transition}")
        heartbeat = heartbeat_timeout or (existing.heartbeat_timeout if existing else 3600)
        if not MIN_HEARTBEAT <= heartbeat <= MAX_HEARTBEAT:
            raise ValidationError(
                f"Heartbeat timeout must be between {MIN_HEARTBEAT} and {MAX_HEARTBEAT} seconds"
            )
        result = default_result or (existing.default_result if existing else "ABANDON")
        if result not in ("CONTINUE", "ABANDON"):
            raise ValidationError(f"Invalid default result: {result}")
        hook = LocalLifecycleHook(
            name, group_name, transition, heartbeat, result, metadata=metadata
        )
        self.backend.lifecycle_hooks[f"{group_name}_{name}"] = hook
        hook.global_timeout = min(100 * heartbeat, MAX_GLOBAL_TIMEOUT)
        if role_arn:
            hook.role_arn = role_arn
        if target_arn:
            hook.notification_target_arn = target_arn
        else:
            # moto declares both as str; None leaves them out of DescribeLifecycleHooks.
            hook.notification_target_arn = None  # type: ignore[assignment]
            hook.role_arn = role_arn  # type: ignore[assignment]
        self.hook_metadata[(group_name, name)] = metadata
        return hook

    # -- capacity -------------------------------------------------------------------------------

    def reconcile(self, group: FakeAutoScalingGroup) -> None:
        """Launch or terminate until the active instances match desired (+ refresh surge)."""
        if group.name not in self.backend.autoscaling_groups:
            return
        refresh = self.active_refresh(group.name)
        surge = refresh.current_phase_surge() if refresh else 0
        target = (group.desired_capacity or 0) + surge
        active = [s for s in group.instance_states if s.lifecycle_state in ACTIVE_STATES]
        if len(active) < target:
            count = target - len(active)
            if refresh is None:
                # "Whenever your application needs to scale out, the Auto Scaling group can
                # draw on the warm pool to meet its new desired capacity" (User Guide,
                # ec2-auto-scaling-warm-pools.html); launches from EC2
                # only what the pool cannot give (warm-pool-instance-lifecycle.html: "If the
                # demand on your application depletes the warm pool, Amazon EC2 Auto Scaling
                # can launch instances directly into the Auto Scaling group").
                count -= self._draw_from_pool(group, count)
            else:
                # During a refresh MaxHealthyPercentage caps every instance the group has,
                # terminating ones included: with 100 %, replacements launch only after the old
                # instances are gone. https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html
                max_pct = float(refresh.preferences.get("MaxHealthyPercentage", 100))
                cap = math.floor((group.desired_capacity or 0) * max_pct / 100)
                present = sum(1 for s in group.instance_states if s.lifecycle_state != "Terminated")
                count = min(count, max(0, cap - present))
            if count:
                self.launch(group, count, self.launch_spec(group))
        elif len(active) > target:
            for state in self.scale_in_order(group, active)[: len(active) - target]:
                if refresh is None and self._may_return_to_pool(group, state):
                    self._return_to_pool(group, state)
                else:
                    self.begin_terminate(group, state, cause="scale in")
        self._keep_pool_size(group)
        self.sample(group)

    def launch_spec(self, group: FakeAutoScalingGroup) -> LaunchSpec:
        refresh = self.active_refresh(group.name)
        if refresh is not None:
            return refresh.current_phase().spec
        return self.group_spec(group)

    @staticmethod
    def group_spec(group: FakeAutoScalingGroup) -> LaunchSpec:
        if group.ec2_launch_template is None:
            return LaunchSpec(None, None)
        return LaunchSpec(group.ec2_launch_template.id, group.launch_template_version)

    def scale_in_order(
        self, group: FakeAutoScalingGroup, active: list[InstanceState]
    ) -> list[InstanceState]:
        """Default termination policy, simplified: AZ with most instances, then instances not
        on the current launch template version, then the oldest.
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-termination-policies.html"""
        candidates = [s for s in active if not s.protected_from_scale_in]
        per_az: dict[str | None, int] = {}
        for s in active:
            per_az[s.availability_zone] = per_az.get(s.availability_zone, 0) + 1
        current = self.resolved_version(self.group_spec(group), group)
        return sorted(
            candidates,
            key=lambda s: (
                -per_az[s.availability_zone],
                self._launched_version(s.instance_id) == current,
                self._launch_seq.get(s.instance_id, 0),
            ),
        )

    @staticmethod
    def resolved_version(spec: LaunchSpec, group: FakeAutoScalingGroup) -> int | None:
        if spec.template_id is None:
            return None
        template = group.ec2_backend.get_launch_template(spec.template_id)
        return template.get_version(spec.version or "$Default").number

    def launch(self, group: FakeAutoScalingGroup, count: int, spec: LaunchSpec) -> list[str]:
        launched = []
        for _ in range(count):
            state = self._run_instance(group, spec, lifecycle_state="Pending")
            group.instance_states.append(state)
            launched.append(state.instance_id)
            refresh = self.active_refresh(group.name)
            if refresh is not None:
                refresh.launched.add(state.instance_id)
            self._boot(group, state.instance)
            self._enter_group(group, state, origin=EC2)
        return launched

    def _enter_group(
        self, group: FakeAutoScalingGroup, state: InstanceState, *, origin: str
    ) -> None:
        """Pending → Pending:Wait while launch hooks run, else InService."""
        hooks = self.hooks(group.name, LAUNCHING)
        if hooks:
            state.lifecycle_state = "Pending:Wait"
            for hook in hooks:
                self._start_action(group, state, hook, LAUNCHING, origin=origin, destination=GROUP)
        else:
            self._enter_service(state)

    def _boot(self, group: FakeAutoScalingGroup, instance: Instance) -> None:
        if self.on_launch is not None:
            try:
                self.on_launch(group, instance)
            except Exception:
                log.exception("boot simulation failed for %s", instance.id)

    def _run_instance(
        self, group: FakeAutoScalingGroup, spec: LaunchSpec, *, lifecycle_state: str
    ) -> InstanceState:
        ec2 = group.ec2_backend
        if spec.template_id is not None:
            template = ec2.get_launch_template(spec.template_id)
            version = template.get_version(spec.version or "$Default")
            image_id, user_data = version.image_id, version.user_data
            instance_type = version.instance_type or "m5.large"
            security_groups = version.security_groups
            profile = version.data.get("IamInstanceProfile") or {}
            launch_template = {"LaunchTemplateId": template.id, "Version": str(version.number)}
            extra_tags = dict(version.instance_tags)
            version_number: int | None = version.number
        else:
            config = group.launch_config
            image_id, user_data = config.image_id, config.user_data
            instance_type, security_groups = config.instance_type, config.security_groups
            profile = _instance_profile(config.iam_instance_profile)
            launch_template, extra_tags, version_number = None, {}, None
        tags = group.get_propagated_tags()
        tags[ASG_NAME_TAG] = group.name
        tags.update(extra_tags)
        az, subnet_id = self._placement(group)
        reservation = ec2.run_instances(
            image_id,
            1,
            user_data,
            security_groups,
            instance_type=instance_type,
            tags={"instance": dict(tags)},
            placement=az,
            launch_config=group.launch_config,
            launch_template=launch_template,
            is_instance_type_default=False,
            subnet_id=subnet_id,
            region_name=self.region,
            iam_instance_profile=profile or None,
        )
        instance = reservation.instances[0]
        self._launched_from[instance.id] = LaunchedFrom(spec.template_id, version_number)
        if profile:
            try:
                ec2.associate_iam_instance_profile(
                    instance.id,
                    iam_instance_profile_name=profile.get("Name"),
                    iam_instance_profile_arn=profile.get("Arn"),
                )
            except Exception as exc:  # noqa: BLE001 - unknown profile: the instance has no role
                log.info("instance %s: profile %s not associated: %s", instance.id, profile, exc)
        self._seq += 1
        self._launch_seq[instance.id] = self._seq
        return InstanceState(
            instance,
            lifecycle_state=lifecycle_state,
            protected_from_scale_in=group.new_instances_protected_from_scale_in,
            autoscaling_group=group,
        )

    def _placement(self, group: FakeAutoScalingGroup) -> tuple[str, str | None]:
        """AZ with the fewest active instances (AZ rebalancing), and its subnet."""
        subnets: dict[str, str | None] = {}
        if group.vpc_zone_identifier:
            for subnet_id in group.vpc_zone_identifier.split(","):
                subnet = group.ec2_backend.get_subnet(subnet_id.strip())
                subnets.setdefault(subnet.availability_zone, subnet.id)
        else:
            subnets = dict.fromkeys(group.availability_zones)
        counts = dict.fromkeys(subnets, 0)
        for s in group.instance_states:
            if s.lifecycle_state in ACTIVE_STATES and s.availability_zone in counts:
                counts[s.availability_zone] += 1
        az = min(sorted(counts), key=lambda z: counts[z])
        return az, subnets[az]

    def _enter_service(self, state: InstanceState) -> None:
        state.lifecycle_state = "InService"
        self._in_service_at[state.instance_id] = self.clock.now()

    def begin_terminate(
        self, group: FakeAutoScalingGroup, state: InstanceState, *, cause: str
    ) -> None:
        """Start terminating: Terminating:Wait while terminate hooks run, else at once.
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html"""
        if state.lifecycle_state.startswith("Terminat"):
            return
        self._cancel_actions(state.instance_id)
        hooks = self.hooks(group.name, TERMINATING)
        log.debug("terminating %s (%s)", state.instance_id, cause)
        if hooks:
            state.lifecycle_state = "Terminating:Wait"
            for hook in hooks:
                self._start_action(group, state, hook, TERMINATING, origin=GROUP, destination=EC2)
        else:
            self._finish_terminate(group, state)

    def _finish_terminate(
        self, group: FakeAutoScalingGroup, state: InstanceState, *, pool: WarmPool | None = None
    ) -> None:
        holding = self._pool_holding(state.instance_id)
        pool = pool or (holding[1] if holding else None)
        warmed = pool is not None and state in pool.instances
        state.lifecycle_state = "Warmed:Terminating:Proceed" if warmed else "Terminating:Proceed"
        instance = state.instance
        if instance.state != "terminated":
            group.ec2_backend.terminate_instances([instance.id])
        if warmed and pool is not None:
            # Out of the pool at once: DescribeWarmPool lists the instances in it.
            state.lifecycle_state = "Warmed:Terminated"
            pool.instances.remove(state)
        else:
            state.lifecycle_state = "Terminated"
        self._terminated_at[instance.id] = self.clock.now()
        if self.on_terminate is not None:
            try:
                self.on_terminate(instance)
            except Exception:
                log.exception("stopping the node of %s failed", instance.id)

    # -- lifecycle actions ------------------------------------------------------------------

    def _start_action(
        self,
        group: FakeAutoScalingGroup,
        state: InstanceState,
        hook: LifecycleHook,
        transition: str,
        *,
        origin: str,
        destination: str,
    ) -> None:
        now = self.clock.now()
        heartbeat = int(hook.heartbeat_timeout)
        action = LifecycleAction(
            token=str(uuid.uuid4()),
            group_name=group.name,
            hook_name=hook.name,
            instance_id=state.instance_id,
            transition=transition,
            heartbeat_timeout=heartbeat,
            default_result=hook.default_result,
            started=now,
            heartbeat_deadline=now + heartbeat,
            global_deadline=now + min(100 * heartbeat, MAX_GLOBAL_TIMEOUT),
            origin=origin,
            destination=destination,
        )
        self.actions[action.token] = action
        self.publish(self._event(group, action, hook))

    def _event(
        self, group: FakeAutoScalingGroup, action: LifecycleAction, hook: LifecycleHook
    ) -> dict[str, Any]:
        """The EventBridge event of a lifecycle action.
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html#lifecycle-hooks-notification-messages
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html"""
        launching = action.transition == LAUNCHING
        detail = {
            "LifecycleActionToken": action.token,
            "AutoScalingGroupName": group.name,
            "LifecycleHookName": hook.name,
            "EC2InstanceId": action.instance_id,
            "LifecycleTransition": action.transition,
            "Origin": action.origin,
            "Destination": action.destination,
        }
        metadata = hook.notification_metadata if isinstance(hook, LocalLifecycleHook) else None
        if metadata is not None:
            detail["NotificationMetadata"] = metadata
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": (
                "EC2 Instance-launch Lifecycle Action"
                if launching
                else "EC2 Instance-terminate Lifecycle Action"
            ),
            "source": "aws.autoscaling",
            "account": self.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [group.arn],
            "detail": detail,
        }

    def find_action(
        self,
        *,
        group_name: str,
        hook_name: str,
        token: str | None,
        instance_id: str | None,
    ) -> LifecycleAction:
        """The pending action a Complete/Heartbeat call names; the errors AWS gives otherwise.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html"""
        if not token and not instance_id:
            raise ValidationError("Either LifecycleActionToken or InstanceId must be specified.")
        if f"{group_name}_{hook_name}" not in self.backend.lifecycle_hooks:
            raise ValidationError(
                f"No Lifecycle Hook found with name {hook_name} for group {group_name}"
            )
        for action in self.actions.values():
            if action.result is not None:
                continue
            if action.group_name != group_name or action.hook_name != hook_name:
                continue
            if (token and action.token == token) or (
                not token and action.instance_id == instance_id
            ):
                if token and instance_id and action.instance_id != instance_id:
                    break
                return action
        if token:
            raise ValidationError(f"No active Lifecycle Action found with token {token}")
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")

    def complete(self, action: LifecycleAction, result: str) -> None:
        if result not in ("CONTINUE", "ABANDON"):
            raise ValidationError(
                f"Invalid LifecycleActionResult: {result}. Valid values are CONTINUE and ABANDON"
            )
        action.result = result
        self.completions.append(
            Completion(action.instance_id, action.transition, result, time.monotonic())
        )
        self._settle(action.instance_id)

    def delete_hook(self, group_name: str, name: str) -> None:
        """DeleteLifecycleHook: "If there are any outstanding lifecycle actions, they are
        completed first (ABANDON for launching instances, CONTINUE for terminating instances)"
        (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteLifecycleHook.html)."""
        outstanding = [
            a
            for a in self.actions.values()
            if a.result is None and a.group_name == group_name and a.hook_name == name
        ]
        for action in outstanding:
            action.result = "ABANDON" if action.transition == LAUNCHING else "CONTINUE"
        self.backend.lifecycle_hooks.pop(f"{group_name}_{name}", None)
        for action in outstanding:
            self._settle(action.instance_id)

    def heartbeat(self, action: LifecycleAction) -> None:
        """Restart the heartbeat timeout, never past the global timeout.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RecordLifecycleActionHeartbeat.html"""
        action.heartbeat_deadline = min(
            self.clock.now() + action.heartbeat_timeout, action.global_deadline
        )

    def _cancel_actions(self, instance_id: str) -> None:
        for token in [t for t, a in self.actions.items() if a.instance_id == instance_id]:
            del self.actions[token]

    def _settle(self, instance_id: str) -> None:
        """All of an instance's actions are done: proceed (or abandon) with its transition."""
        actions = [a for a in self.actions.values() if a.instance_id == instance_id]
        abandoned = any(a.result == "ABANDON" for a in actions)
        returning = any(a.transition == TERMINATING for a in actions)
        # ABANDON ends the transition at once (launch: the instance is terminated; terminate:
        # the remaining hooks are skipped); CONTINUE waits for the instance's other hooks.
        # https://docs.aws.amazon.com/autoscaling/ec2/userguide/completing-lifecycle-hooks.html
        if not abandoned and any(a.result is None for a in actions):
            return
        self._cancel_actions(instance_id)
        found = self._state_of(instance_id)
        if found is None:
            return
        group, state = found
        if state.lifecycle_state == "Pending:Wait":
            if abandoned:
                self._launch_failed(group, state)
            else:
                state.lifecycle_state = "Pending:Proceed"
                self._enter_service(state)
        elif state.lifecycle_state == "Warmed:Pending:Wait" and returning:
            # A return to the pool (terminate hooks): CONTINUE and ABANDON both let it go on,
            # as both let a terminating instance terminate ("For an instance that is
            # terminating, both ABANDON and CONTINUE let the instance terminate", User Guide,
            # completing-lifecycle-hooks.html); here it goes on into the pool, stopped or
            # running per PoolState. A pool deleted meanwhile leaves nowhere to go: terminated.
            pool = self.warm_pools.get(group.name)
            if pool is None:
                self._finish_terminate(group, state)
            else:
                self._warm(group, pool, state)
        elif state.lifecycle_state == "Warmed:Pending:Wait":
            pool = self.warm_pools.get(group.name)
            if abandoned or pool is None:
                # ABANDON of a launch into the pool terminates it; the pool is refilled.
                self._finish_terminate(group, state)
            else:
                self._warm(group, pool, state)
        elif state.lifecycle_state == "Terminating:Wait":
            self._finish_terminate(group, state)
        self.reconcile(group)

    def _launch_failed(self, group: FakeAutoScalingGroup, state: InstanceState) -> None:
        """ABANDON during launch: the instance is terminated (without terminate hooks here) and
        replaced. https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html"""
        refresh = self.active_refresh(group.name)
        self._finish_terminate(group, state)
        if refresh is not None and state.instance_id in refresh.launched:
            self.refresh_replacement_failed(group, refresh, state.instance_id)

    def _state_of(self, instance_id: str) -> tuple[FakeAutoScalingGroup, InstanceState] | None:
        """The instance's group and state, in the group or in its warm pool."""
        for group in self.backend.autoscaling_groups.values():
            pool = self.warm_pools.get(group.name)
            for state in [*group.instance_states, *(pool.instances if pool else [])]:
                if state.instance_id == instance_id:
                    return group, state
        return None

    # -- warm pool ----------------------------------------------------------------------------

    def put_warm_pool(
        self,
        group_name: str,
        *,
        min_size: int | None,
        pool_state: str | None,
        max_group_prepared_capacity: int | None,
        instance_reuse_policy: dict[str, Any] | None,
    ) -> WarmPool:
        """PutWarmPool: creates or updates the pool, which then fills to its size.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html"""
        group = self.backend.autoscaling_groups.get(group_name)
        if group is None:
            raise ValidationError(f"AutoScalingGroup name not found - {group_name}")
        if min_size is not None and min_size < 0:
            raise ValidationError("MinSize must be greater than or equal to 0")
        if max_group_prepared_capacity is not None and max_group_prepared_capacity < -1:
            raise ValidationError("MaxGroupPreparedCapacity must be greater than or equal to -1")
        if pool_state is not None and pool_state not in POOL_STATES:
            raise ValidationError(f"Invalid PoolState: {pool_state}")
        pool = self.warm_pools.setdefault(group_name, WarmPool())
        if min_size is not None:
            pool.min_size = min_size
        if pool_state is not None:
            pool.pool_state = pool_state
        if max_group_prepared_capacity is not None:
            pool.max_group_prepared_capacity = max_group_prepared_capacity
        if instance_reuse_policy is not None:
            pool.reuse_on_scale_in = _true(instance_reuse_policy.get("ReuseOnScaleIn"))
        # moto's own record, which DescribeAutoScalingGroups reports as WarmPoolConfiguration.
        group.put_warm_pool(
            max_group_prepared_capacity=pool.max_group_prepared_capacity,
            min_size=pool.min_size,
            pool_state=pool.pool_state,
            instance_reuse_policy={"ReuseOnScaleIn": pool.reuse_on_scale_in},
        )
        self.reconcile(group)
        return pool

    def delete_warm_pool(self, group_name: str) -> None:
        """DeleteWarmPool: the pool's instances are terminated. AWS shows the pool as
        PendingDelete until they are gone; here they go at once.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteWarmPool.html"""
        group = self.backend.autoscaling_groups.get(group_name)
        if group is None:
            raise ValidationError(f"AutoScalingGroup name not found - {group_name}")
        pool = self.warm_pools.pop(group_name, None)
        group.warm_pool = None
        for state in list(pool.instances if pool else []):
            self._cancel_actions(state.instance_id)
            self._finish_terminate(group, state, pool=pool)

    def describe_warm_pool(
        self, group_name: str, *, max_records: int | None, next_token: str | None
    ) -> dict[str, Any]:
        """DescribeWarmPool, paginated: at most MaxRecords (≤ 50) instances per page.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html"""
        group = self.backend.autoscaling_groups.get(group_name)
        if group is None:
            raise ValidationError(f"AutoScalingGroup name not found - {group_name}")
        limit = MAX_WARM_POOL_RECORDS if max_records is None else max_records
        if not 1 <= limit <= MAX_WARM_POOL_RECORDS:
            raise ValidationError(f"MaxRecords must be between 1 and {MAX_WARM_POOL_RECORDS}")
        pool = self.warm_pools.get(group_name)
        if pool is None:
            return {"Instances": []}
        start = 0
        if next_token:
            if not next_token.isdigit():
                raise InvalidNextToken("The token is not valid.")
            start = int(next_token)
        members = pool.instances[start : start + limit]
        out: dict[str, Any] = {
            "WarmPoolConfiguration": pool.configuration(),
            "Instances": [_describe_member(group, s) for s in members],
        }
        if start + limit < len(pool.instances):
            out["NextToken"] = str(start + limit)
        return out

    def warm_pool_size(self, group_name: str) -> int | None:
        pool = self.warm_pools.get(group_name)
        return None if pool is None else len(pool.instances)

    def _keep_pool_size(self, group: FakeAutoScalingGroup) -> None:
        """Fill the pool to its size, or terminate its surplus (ready instances, oldest first)."""
        pool = self.warm_pools.get(group.name)
        if pool is None:
            return
        missing = pool.size(group) - len(pool.instances)
        for _ in range(missing):
            self._launch_into_pool(group, pool)
        if missing < 0:
            ready = [s for s in pool.instances if s.lifecycle_state in WARMED_STATES]
            ready.sort(key=lambda s: self._launch_seq.get(s.instance_id, 0))
            for state in ready[:-missing]:
                self._finish_terminate(group, state, pool=pool)

    def _launch_into_pool(self, group: FakeAutoScalingGroup, pool: WarmPool) -> None:
        """Warmed:Pending, then Warmed:Pending:Wait while launch hooks run (the event says
        Origin EC2, Destination WarmPool), then the pool state. "When you add a launch lifecycle
        hook, Amazon EC2 Auto Scaling pauses an instance that transitions to the
        Warmed:Pending:Wait state and the Pending:Wait state."
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html"""
        state = self._run_instance(group, self.group_spec(group), lifecycle_state="Warmed:Pending")
        pool.instances.append(state)
        self._boot(group, state.instance)
        hooks = self.hooks(group.name, LAUNCHING)
        if hooks:
            state.lifecycle_state = "Warmed:Pending:Wait"
            for hook in hooks:
                self._start_action(group, state, hook, LAUNCHING, origin=EC2, destination=WARM_POOL)
        else:
            self._warm(group, pool, state)

    def _warm(self, group: FakeAutoScalingGroup, pool: WarmPool, state: InstanceState) -> None:
        """Its launch into the pool done: Warmed:Running, or stopped (Warmed:Stopped; a
        Hibernated pool is played as stopped, without the memory image)."""
        state.lifecycle_state = "Warmed:Pending:Proceed"
        if pool.pool_state != "Running":
            group.ec2_backend.stop_instances([state.instance_id])
            if self.on_stop is not None:
                try:
                    self.on_stop(state.instance)
                except Exception:
                    log.exception("stopping the node of %s failed", state.instance_id)
        state.lifecycle_state = f"Warmed:{pool.pool_state}"

    def _may_return_to_pool(self, group: FakeAutoScalingGroup, state: InstanceState) -> bool:
        """A scale-in returns an InService instance to the warm pool instead of terminating it
        when the pool's InstanceReusePolicy says ReuseOnScaleIn ("Specifies whether instances in
        the Auto Scaling group can be returned to the warm pool on scale in",
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceReusePolicy.html).
        Only a scale-in: an instance refresh or a health-check replacement terminates. The
        pool's size is kept here: an instance that does not fit (MinSize and
        MaxGroupPreparedCapacity leave no room) is terminated instead; AWS does not document
        that case, this is the stand-in's choice."""
        pool = self.warm_pools.get(group.name)
        if pool is None or not pool.reuse_on_scale_in or state.lifecycle_state != "InService":
            return False
        return len(pool.instances) < pool.size(group)

    def _return_to_pool(self, group: FakeAutoScalingGroup, state: InstanceState) -> None:
        """InService → Warmed:Pending:Wait, held by the group's terminate hooks, whose event says
        Origin AutoScalingGroup, Destination WarmPool: "if you specified an instance reuse
        policy to return instances to the warm pool on scale in instead of terminating them,
        instances returning to the warm pool pause at Warmed:Pending:Wait for the
        EC2_INSTANCE_TERMINATING lifecycle action"
        (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html;
        the event: warm-pools-eventbridge-events.html). Without terminate hooks it is warmed at
        once (Warmed:Stopped, or Warmed:Running per PoolState)."""
        pool = self.warm_pools[group.name]
        self._cancel_actions(state.instance_id)
        group.instance_states.remove(state)
        pool.instances.append(state)
        log.debug("returning %s to the warm pool (scale in)", state.instance_id)
        hooks = self.hooks(group.name, TERMINATING)
        if hooks:
            state.lifecycle_state = "Warmed:Pending:Wait"
            for hook in hooks:
                self._start_action(
                    group, state, hook, TERMINATING, origin=GROUP, destination=WARM_POOL
                )
        else:
            self._warm(group, pool, state)

    def _draw_from_pool(self, group: FakeAutoScalingGroup, count: int) -> int:
        """Up to `count` ready pool instances join the group: Pending, started when stopped
        (EC2's LaunchTime is "The time that the instance was last launched", so a start renews
        it; https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html), then
        Pending:Wait with Origin WarmPool, Destination AutoScalingGroup. An instance kept
        running keeps its LaunchTime. Returns how many joined."""
        pool = self.warm_pools.get(group.name)
        if pool is None or count <= 0:
            return 0
        ready = [s for s in pool.instances if s.lifecycle_state in WARMED_STATES]
        ready.sort(key=lambda s: self._launch_seq.get(s.instance_id, 0))
        drawn = ready[:count]
        for state in drawn:
            pool.instances.remove(state)
            state.lifecycle_state = "Pending"
            group.instance_states.append(state)
            instance = state.instance
            if instance.state != "running":
                group.ec2_backend.start_instances([instance.id])
                instance.launch_time = datetime.now(UTC).replace(tzinfo=None)
                self._boot(group, instance)
            self._enter_group(group, state, origin=WARM_POOL)
        return len(drawn)

    def _pool_holding(self, instance_id: str) -> tuple[str, WarmPool] | None:
        for name, pool in self.warm_pools.items():
            if any(s.instance_id == instance_id for s in pool.instances):
                return name, pool
        return None

    # -- health -----------------------------------------------------------------------------

    def terminated_by_ec2(self, instance_ids: list[str]) -> None:
        """EC2 TerminateInstances (an operator, a Spot interruption) of instances this engine
        launched: the machines are gone at once, so their kubelets stop now; the group notices
        an InService one on its next health check (``health_check``, each tick), not here. One
        already in Terminating:Wait stays there: its lifecycle actions must still be completed
        or time out. One still launching (Pending, Pending:Wait) ends at once, as before: its
        launch actions are dropped and the group replaces it."""
        for instance_id in instance_ids:
            found = self._state_of(instance_id)
            if found is None:
                continue
            group, state = found
            if self.on_terminate is not None:
                try:
                    self.on_terminate(state.instance)
                except Exception:
                    log.exception("stopping the node of %s failed", instance_id)
            if state.lifecycle_state.startswith(("Pending", "Warmed:")):
                self._cancel_actions(instance_id)
                self._finish_terminate(group, state)
                self.reconcile(group)

    def health_check(self, group: FakeAutoScalingGroup) -> None:
        """Amazon EC2 health checks: an InService instance whose EC2 state is no longer
        `running` (shutting-down, terminated, stopping, stopped) is marked Unhealthy at once and
        terminated through the group, with its terminate lifecycle hooks
        (Terminating:Wait and the event, as for a scale-in); ``reconcile`` then launches its
        replacement to keep desired capacity. AWS: "if Amazon EC2 Auto Scaling detects that an
        instance is no longer in the running state, this situation is treated as an immediate
        failure ... it immediately marks the instance as unhealthy and replaces it" and "When
        Amazon EC2 Auto Scaling determines that an InService instance is unhealthy, it
        terminates the instance while it launches a new replacement instance"
        (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html);
        and for Spot Instances "when a Spot Instance terminates, you must still complete the
        lifecycle action" (Amazon EC2 Auto Scaling User Guide, lifecycle hooks, "Spot Instances";
        awsdocs/amazon-ec2-auto-scaling-user-guide, doc_source/lifecycle-hooks.md). Only the EC2
        state is checked: no status checks, ELB or custom health (SetInstanceHealth is moto's:
        it records, nothing replaces)."""
        for state in list(group.instance_states):
            if state.lifecycle_state != "InService":
                continue
            ec2_state = state.instance.state
            if ec2_state in ("pending", "running"):
                continue
            state.health_status = "Unhealthy"
            self.begin_terminate(group, state, cause=f"health check: instance {ec2_state}")

    # -- time -------------------------------------------------------------------------------

    def tick(self) -> None:
        """Expire heartbeats, forget terminated instances, check health, advance refreshes."""
        now = self.clock.now()
        for action in list(self.actions.values()):
            if action.result is None and (
                now >= action.heartbeat_deadline or now >= action.global_deadline
            ):
                # The heartbeat (or global) timeout applies the hook's DefaultResult.
                # https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html
                action.result = action.default_result
                self._settle(action.instance_id)
        for group in list(self.backend.autoscaling_groups.values()):
            if not self.owns(group):
                continue
            kept = []
            for state in group.instance_states:
                gone_at = self._terminated_at.get(state.instance_id)
                if (
                    state.lifecycle_state == "Terminated"
                    and gone_at is not None
                    and now - gone_at >= TERMINATED_VISIBLE_FOR
                ):
                    continue
                kept.append(state)
            group.instance_states = kept
            self.health_check(group)
            refresh = self.active_refresh(group.name)
            if refresh is not None:
                self.step_refresh(group, refresh)
            self.reconcile(group)

    def sample(self, group: FakeAutoScalingGroup) -> None:
        states = [s.lifecycle_state for s in group.instance_states]
        sample = CapacitySample(
            at=self.clock.now(),
            group=group.name,
            desired=group.desired_capacity or 0,
            in_service=states.count("InService"),
            total=sum(1 for s in states if s != "Terminated"),
        )
        last = next((s for s in reversed(self.capacity_log) if s.group == group.name), None)
        if last is None or (last.desired, last.in_service, last.total) != (
            sample.desired,
            sample.in_service,
            sample.total,
        ):
            self.capacity_log.append(sample)

    # -- instance refresh ---------------------------------------------------------------------

    def active_refresh(self, group_name: str) -> _RefreshView | None:
        for refresh in self.refreshes.get(group_name, []):
            if refresh.active:
                return _RefreshView(refresh)
        return None

    def start_refresh(
        self,
        group_name: str,
        *,
        strategy: str | None,
        preferences: dict[str, Any] | None,
        desired_configuration: dict[str, Any] | None,
    ) -> InstanceRefresh:
        """StartInstanceRefresh.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html"""
        group = self.backend.autoscaling_groups.get(group_name)
        if group is None:
            raise ValidationError(f"AutoScalingGroup name not found - {group_name}")
        if self.active_refresh(group_name) is not None:
            raise InstanceRefreshInProgress(
                "An Instance Refresh is already in progress and blocks the execution of this "
                "Instance Refresh."
            )
        if (strategy or "Rolling") != "Rolling":
            raise ValidationError(f"Unsupported strategy {strategy}")
        prefs = dict(preferences or {})
        min_healthy = int(prefs.get("MinHealthyPercentage", 90))
        max_healthy = int(prefs.get("MaxHealthyPercentage", 100))
        if not 0 <= min_healthy <= 100:
            raise ValidationError("MinHealthyPercentage must be between 0 and 100")
        if not 100 <= max_healthy <= 200:
            raise ValidationError("MaxHealthyPercentage must be between 100 and 200")
        if max_healthy - min_healthy > 100:
            raise ValidationError(
                "The difference between MaxHealthyPercentage and MinHealthyPercentage must be "
                "less than or equal to 100"
            )
        if min_healthy == 100 and max_healthy == 100:
            raise ValidationError(
                "MinHealthyPercentage and MaxHealthyPercentage cannot both be 100"
            )
        checkpoints = [float(p) for p in prefs.get("CheckpointPercentages") or []]
        if checkpoints != sorted(checkpoints) or any(not 0 < p <= 100 for p in checkpoints):
            raise ValidationError("CheckpointPercentages must be ascending values in (0, 100]")
        original = self.group_spec(group)
        spec = original
        if desired_configuration:
            lt = desired_configuration.get("LaunchTemplate")
            if not lt:
                raise ValidationError("Only a LaunchTemplate DesiredConfiguration is supported")
            template = (
                group.ec2_backend.get_launch_template(lt["LaunchTemplateId"])
                if lt.get("LaunchTemplateId")
                else group.ec2_backend.get_launch_template_by_name(lt["LaunchTemplateName"])
            )
            template.get_version(lt.get("Version") or "$Default")  # must exist
            spec = LaunchSpec(template.id, lt.get("Version") or "$Default")
        if prefs.get("AutoRollback"):
            # https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html:
            # not with $Latest/$Default, which cannot be restored.
            for candidate in (spec, original):
                if candidate.template_id is None or not str(candidate.version or "").isdigit():
                    raise ValidationError(
                        "AutoRollback requires the Auto Scaling group and the desired "
                        "configuration to use a specific launch template version, not $Latest "
                        "or $Default."
                    )
        prefs.setdefault("MinHealthyPercentage", min_healthy)
        prefs.setdefault("MaxHealthyPercentage", max_healthy)
        prefs.setdefault("SkipMatching", False)
        prefs.setdefault("AutoRollback", False)
        prefs.setdefault("ScaleInProtectedInstances", "Ignore")
        prefs.setdefault("StandbyInstances", "Ignore")
        to_replace = self._to_replace(group, spec, skip_matching=bool(prefs["SkipMatching"]))
        refresh = InstanceRefresh(
            refresh_id=str(uuid.uuid4()),
            group_name=group_name,
            status="InProgress",
            preferences=prefs,
            desired_configuration=desired_configuration,
            strategy="Rolling",
            start_time=datetime.now(UTC),
            original_spec=original,
            phase=RefreshPhase(
                spec=spec, to_replace=to_replace, total=len(to_replace), started=self.clock.now()
            ),
        )
        self.refreshes.setdefault(group_name, []).insert(0, refresh)
        self.step_refresh(group, _RefreshView(refresh))
        return refresh

    def _to_replace(
        self, group: FakeAutoScalingGroup, spec: LaunchSpec, *, skip_matching: bool
    ) -> list[str]:
        wanted = self.resolved_version(spec, group)
        ids = []
        for state in group.instance_states:
            if state.lifecycle_state not in ACTIVE_STATES:
                continue
            launched_from = self.launched_from(state.instance_id)
            same = (
                launched_from is not None
                and launched_from.version == wanted
                and wanted is not None
                and launched_from.template_id == spec.template_id
            )
            if skip_matching and same:
                continue
            ids.append(state.instance_id)
        return ids

    def step_refresh(self, group: FakeAutoScalingGroup, view: _RefreshView) -> None:  # noqa: PLR0911
        refresh = view.refresh
        phase = view.current_phase()
        now = self.clock.now()
        if refresh.status == "Cancelling":
            if not any(s.lifecycle_state in TRANSITIONAL_STATES for s in group.instance_states):
                phase.surge = 0
                self._end(refresh, "Cancelled", "Instance refresh was cancelled.")
            return
        states = {s.instance_id: s for s in group.instance_states}
        phase.to_replace = [
            i
            for i in phase.to_replace
            if i in states and states[i].lifecycle_state in ACTIVE_STATES
        ]
        if any(s.lifecycle_state in TRANSITIONAL_STATES for s in group.instance_states):
            return
        warmup = float(refresh.preferences.get("InstanceWarmup") or 0)
        # InstanceWarmup counts from InService: until then the instance is not healthy yet.
        if any(
            now < self._in_service_at.get(i, 0) + warmup
            for i in refresh.launched
            if i in states and states[i].lifecycle_state == "InService"
        ):
            return
        done = phase.total - len(phase.to_replace)
        percentage = 100.0 if phase.total == 0 else done * 100.0 / phase.total
        if phase.checkpoint_until is not None:
            if now < phase.checkpoint_until:
                return
            phase.checkpoint_until = None
            refresh.status_reason = ""
        if refresh.status == "InProgress":
            delay = float(refresh.preferences.get("CheckpointDelay") or 3600)
            for value in refresh.preferences.get("CheckpointPercentages") or []:
                checkpoint = float(value)
                if (
                    checkpoint < 100
                    and percentage >= checkpoint
                    and checkpoint not in phase.checkpoints_done
                ):
                    # https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-adding-checkpoints-instance-refresh.html
                    phase.checkpoints_done.add(checkpoint)
                    phase.checkpoint_until = now + delay
                    refresh.status_reason = (
                        f"Waiting for checkpoint delay: {int(percentage)}% of the instances "
                        "have been replaced."
                    )
                    return
        if not phase.to_replace:
            phase.surge = 0
            if refresh.status == "RollbackInProgress":
                self._end(refresh, "RollbackSuccessful", "Rollback completed successfully.")
            else:
                self._apply_desired(group, refresh)
                self._end(refresh, "Successful", "")
            return
        desired = group.desired_capacity or 0
        min_healthy_pct = float(refresh.preferences.get("MinHealthyPercentage", 90))
        max_healthy_pct = float(refresh.preferences.get("MaxHealthyPercentage", 100))
        in_service = [s for s in group.instance_states if s.lifecycle_state == "InService"]
        remaining = [states[i] for i in phase.to_replace]
        if max_healthy_pct > 100:
            # Launch before terminating: up to MaxHealthyPercentage of desired capacity.
            if phase.surge:
                victims = remaining[: phase.surge]
                phase.surge = 0
                for state in victims:
                    self.begin_terminate(group, state, cause="instance refresh")
                return
            max_total = math.floor(desired * max_healthy_pct / 100)
            phase.surge = max(1, min(len(remaining), max_total - desired))
            self.reconcile(group)  # launches the surge with the refresh's launch spec
            return
        # Terminate first, keeping MinHealthyPercentage of desired capacity InService (rounded
        # up); at least one instance at a time.
        min_healthy = math.ceil(desired * min_healthy_pct / 100)
        batch = max(1, min(len(remaining), len(in_service) - min_healthy))
        for state in remaining[:batch]:
            self.begin_terminate(group, state, cause="instance refresh")

    def refresh_replacement_failed(
        self, group: FakeAutoScalingGroup, view: _RefreshView, instance_id: str
    ) -> None:
        """A replacement failed to launch (launch action ABANDONed): roll back when asked to,
        else fail. https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html"""
        refresh = view.refresh
        if refresh.status != "InProgress":
            return
        reason = f"Instance {instance_id} failed to launch: lifecycle action ABANDONed."
        if refresh.preferences.get("AutoRollback"):
            self.begin_rollback(group, refresh, reason)
        else:
            refresh.phase.surge = 0
            self._end(refresh, "Failed", reason)

    def begin_rollback(
        self, group: FakeAutoScalingGroup, refresh: InstanceRefresh, reason: str
    ) -> None:
        original = refresh.original_spec
        refresh.phase.surge = 0
        to_replace = self._to_replace(group, original, skip_matching=True)
        refresh.status = "RollbackInProgress"
        refresh.status_reason = reason
        refresh.rollback = {"RollbackReason": reason, "RollbackStartTime": datetime.now(UTC)}
        refresh.rollback_phase = RefreshPhase(
            spec=original, to_replace=to_replace, total=len(to_replace), started=self.clock.now()
        )

    def cancel_refresh(self, group_name: str) -> InstanceRefresh:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CancelInstanceRefresh.html"""
        view = self.active_refresh(group_name)
        if view is None or view.refresh.status == "Cancelling":
            raise ActiveInstanceRefreshNotFound(
                f"No in progress or pending Instance Refresh found for Auto Scaling group "
                f"{group_name}"
            )
        view.refresh.status = "Cancelling"
        view.refresh.cancel_requested = True
        return view.refresh

    def rollback_refresh(self, group_name: str) -> InstanceRefresh:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RollbackInstanceRefresh.html"""
        view = self.active_refresh(group_name)
        if view is None or view.refresh.status != "InProgress":
            raise ActiveInstanceRefreshNotFound(
                f"No in progress or pending Instance Refresh found for Auto Scaling group "
                f"{group_name}"
            )
        refresh = view.refresh
        if (
            refresh.desired_configuration is None
            or not str(refresh.original_spec.version or "").isdigit()
        ):
            raise IrreversibleInstanceRefresh(
                "The instance refresh cannot be rolled back: it has no DesiredConfiguration or "
                "the previous launch template version is $Latest or $Default."
            )
        group = self.backend.autoscaling_groups[group_name]
        self.begin_rollback(group, refresh, "Rollback requested by the user.")
        return refresh

    def _apply_desired(self, group: FakeAutoScalingGroup, refresh: InstanceRefresh) -> None:
        """A successful refresh writes its DesiredConfiguration into the group."""
        lt = refresh.phase.spec
        if not refresh.desired_configuration or lt.template_id is None:
            return
        template = group.ec2_backend.get_launch_template(lt.template_id)
        group._set_launch_configuration(
            "", {"LaunchTemplateId": template.id, "Version": lt.version}, None
        )

    def _end(self, refresh: InstanceRefresh, status: str, reason: str) -> None:
        refresh.status = status
        refresh.status_reason = reason
        refresh.end_time = datetime.now(UTC)


def _instance_profile(name_or_arn: str | None) -> dict[str, str]:
    """A launch configuration's IamInstanceProfile, "the name or the Amazon Resource Name (ARN)
    of the instance profile" (API_CreateLaunchConfiguration), as RunInstances takes it."""
    if not name_or_arn:
        return {}
    return {"Arn": name_or_arn} if name_or_arn.startswith("arn:") else {"Name": name_or_arn}


class _RefreshView:
    """The active refresh and its current phase (forward, or rollback)."""

    def __init__(self, refresh: InstanceRefresh) -> None:
        self.refresh = refresh

    def current_phase(self) -> RefreshPhase:
        if self.refresh.status == "RollbackInProgress" and self.refresh.rollback_phase:
            return self.refresh.rollback_phase
        return self.refresh.phase

    def current_phase_surge(self) -> int:
        return self.current_phase().surge

    @property
    def launched(self) -> set[str]:
        return self.refresh.launched

    @property
    def status(self) -> str:
        return self.refresh.status

    @property
    def preferences(self) -> dict[str, Any]:
        return self.refresh.preferences


def _true(value: Any) -> bool:
    """A boolean as the query protocol sends it ("true") or as a JSON value."""
    return value is True or str(value).lower() == "true"


def _describe_member(group: FakeAutoScalingGroup, state: InstanceState) -> dict[str, Any]:
    """An instance of DescribeWarmPool's `Instances`.
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Instance.html"""
    out: dict[str, Any] = {
        "InstanceId": state.instance_id,
        "InstanceType": state.instance_type,
        "AvailabilityZone": state.availability_zone,
        "LifecycleState": state.lifecycle_state,
        "HealthStatus": state.health_status,
        "ProtectedFromScaleIn": bool(state.protected_from_scale_in),
    }
    launch_template = state.launch_template
    if launch_template is not None:
        out["LaunchTemplate"] = launch_template
    return out
