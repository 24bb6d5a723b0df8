"""In-process extensions of moto 5.2.5: new and corrected API actions on moto's own backend and
response classes. Installed once per process (``install``); each patched behaviour applies to
the account/region of the running ``AwsCloud`` and falls back to moto's own code elsewhere or
when no cloud runs, so other tests in the same process keep plain moto.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import InvalidInstanceIdError
from moto.ec2.models import EC2Backend
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.responses import launch_templates as lt_responses
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import parse_user_data
from moto.eks import responses as eks_responses
from moto.eks import urls as eks_urls
from moto.eks.responses import EKSResponse

from localcloud.aws.autoscaling import STATE_LOCK, TERMINATING, AsgEngine
from localcloud.aws.eks import EksState


@dataclass
class Active:
    engine: AsgEngine
    eks: EksState


ACTIVE: Active | None = None
_installed = False


def activate(active: Active | None) -> None:
    global ACTIVE  # noqa: PLW0603 - the process has one moto, hence one active cloud
    with STATE_LOCK:
        if active is not None and ACTIVE is not None:
            raise RuntimeError("another AwsCloud is running in this process (moto is global)")
        ACTIVE = active


def _engine_for(group: FakeAutoScalingGroup) -> AsgEngine | None:
    active = ACTIVE
    if active is not None and active.engine.owns(group):
        return active.engine
    return None


def _engine_for_backend(backend: AutoScalingBackend | EC2Backend) -> AsgEngine | None:
    """The running cloud's engine when `backend` (any service's) is its account and region."""
    active = ACTIVE
    if (
        active is not None
        and backend.account_id == active.engine.account_id
        and backend.region_name == active.engine.region
    ):
        return active.engine
    return None


def install() -> None:
    """Patch moto's classes (idempotent)."""
    global _installed  # noqa: PLW0603
    with STATE_LOCK:
        if _installed:
            return
        _patch_autoscaling()
        _patch_launch_templates()
        _patch_ec2_tags()
        _patch_eks()
        _installed = True


# -- EC2 Auto Scaling -------------------------------------------------------------------------


def _patch_autoscaling() -> None:
    response_cls = asg_responses.AutoScalingResponse
    original_call_action = response_cls.call_action

    @functools.wraps(original_call_action)
    def call_action(self: AutoScalingResponse) -> Any:
        with STATE_LOCK:
            return original_call_action(self)

    # A deliberate patch of moto's method (module docstring).
    response_cls.call_action = call_action  # type: ignore[method-assign]

    original_set_desired = FakeAutoScalingGroup.set_desired_capacity

    def set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
        engine = _engine_for(self)
        if engine is None:
            return original_set_desired(self, new_capacity)
        self.desired_capacity = self.min_size if new_capacity is None else new_capacity
        # While the group is being constructed it is not registered yet: its hooks (from
        # LifecycleHookSpecificationList) must exist before the first launch.
        engine.reconcile(self)
        return None

    # A deliberate patch of moto's method (module docstring).
    FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity  # type: ignore[method-assign]

    original_terminate = AutoScalingBackend.terminate_instance

    def terminate_instance(
        self: AutoScalingBackend, instance_id: str, should_decrement: bool
    ) -> Any:
        """TerminateInstanceInAutoScalingGroup runs the terminate hooks.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html"""
        engine = _engine_for_backend(self)
        if engine is None:
            return original_terminate(self, instance_id, should_decrement)
        from moto.autoscaling.models import TerminateInstanceActivity

        found = engine._state_of(instance_id)
        if found is None:
            raise ValidationError(
                f"Instance Id not found - No managed instance found for instance ID: {instance_id}"
            )
        group, state = found
        original_size = group.desired_capacity
        if should_decrement:
            if (group.desired_capacity or 0) - 1 < (group.min_size or 0):
                raise ValidationError(
                    f"Currently, desiredSize equals minSize ({group.min_size}). Terminating "
                    "instance without replacement will violate group's min size constraint. "
                    "Either set shouldDecrementDesiredCapacity flag to false or lower group's "
                    "min size."
                )
            group.desired_capacity = (group.desired_capacity or 0) - 1
        engine.begin_terminate(group, state, cause="user request")
        engine.reconcile(group)
        return TerminateInstanceActivity(state.instance, original_size or 0)

    # A deliberate patch of moto's method (module docstring).
    AutoScalingBackend.terminate_instance = terminate_instance  # type: ignore[method-assign]

    original_notify = AutoScalingBackend.notify_terminate_instances

    def notify_terminate_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
        """EC2 TerminateInstances on a group's instance: the instance is gone at once; the
        group's next health check terminates it through the group, terminate hooks included,
        and replaces it (``AsgEngine.terminated_by_ec2`` and ``AsgEngine.health_check``)."""
        engine = _engine_for_backend(self)
        if engine is None:
            return original_notify(self, instance_ids)
        with STATE_LOCK:  # EC2's responses are not serialized with the engine's ticker
            engine.terminated_by_ec2(instance_ids)
        return None

    # A deliberate patch of moto's method (module docstring).
    AutoScalingBackend.notify_terminate_instances = notify_terminate_instances  # type: ignore[method-assign]

    original_delete = AutoScalingBackend.delete_auto_scaling_group

    def delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
        """Deleting a group terminates its instances and drops outstanding lifecycle actions
        (ForceDelete semantics). https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteAutoScalingGroup.html"""
        engine = _engine_for_backend(self)
        if engine is None or group_name not in self.autoscaling_groups:
            return original_delete(self, group_name)
        group = self.autoscaling_groups[group_name]
        if group_name in engine.warm_pools:
            engine.delete_warm_pool(group_name)
        for state in list(group.instance_states):
            engine._cancel_actions(state.instance_id)
            if state.lifecycle_state != "Terminated":
                engine._finish_terminate(group, state)
        group.instance_states = []
        self.autoscaling_groups.pop(group_name, None)
        for key in [
            k for k, h in self.lifecycle_hooks.items() if h.auto_scaling_group_name == group_name
        ]:
            del self.lifecycle_hooks[key]
        engine.refreshes.pop(group_name, None)
        return None

    # A deliberate patch of moto's method (module docstring).
    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group  # type: ignore[method-assign]

    def launch_template(self: InstanceState) -> dict[str, Any] | None:
        """The version the instance was launched from (moto shows the group's default)."""
        group = self.auto_scaling_group
        if group is None or group.ec2_launch_template is None:
            return None
        engine = _engine_for(group)
        launched = engine.launched_from(self.instance_id) if engine is not None else None
        version = launched.version if launched is not None else None
        return {
            "LaunchTemplateId": group.ec2_launch_template.id,
            "LaunchTemplateName": group.ec2_launch_template.name,
            "Version": str(version or group.ec2_launch_template.default_version_number),
        }

    # moto's property, replaced on purpose by one that reads what the engine launched from.
    InstanceState.launch_template = property(launch_template)  # type: ignore[assignment]

    original_create_group = response_cls.create_auto_scaling_group

    def create_auto_scaling_group(self: AutoScalingResponse) -> Any:
        """Hooks in LifecycleHookSpecificationList exist before the first instance launches.
        https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html"""
        backend = self.autoscaling_backend
        engine = _engine_for_backend(backend)
        if engine is None:
            return original_create_group(self)
        specs = self._get_param("LifecycleHookSpecificationList", []) or []
        name = self._get_param("AutoScalingGroupName")
        if name in backend.autoscaling_groups:
            from moto.autoscaling.exceptions import AutoscalingClientError

            raise AutoscalingClientError(
                "AlreadyExists", f"AutoScalingGroup by this name already exists - {name}"
            )
        desired = self._get_int_param("DesiredCapacity")
        min_size = self._get_int_param("MinSize")
        max_size = self._get_int_param("MaxSize")
        if desired is not None and not (min_size or 0) <= desired <= (max_size or 0):
            raise ValidationError(
                f"Desired capacity:{desired} must be between the specified min size:{min_size} "
                f"and max size:{max_size}"
            )
        # The group is not registered while moto constructs it, so the engine launches nothing
        # until the hooks exist (below).
        result = original_create_group(self)
        for spec in specs:
            engine.put_hook(
                group_name=name,
                name=spec["LifecycleHookName"],
                transition=spec["LifecycleTransition"],
                heartbeat_timeout=spec.get("HeartbeatTimeout"),
                default_result=spec.get("DefaultResult"),
                metadata=spec.get("NotificationMetadata"),
                role_arn=spec.get("RoleARN"),
                target_arn=spec.get("NotificationTargetARN"),
            )
        engine.reconcile(backend.autoscaling_groups[name])
        return result

    # A deliberate patch of moto's method (module docstring).
    response_cls.create_auto_scaling_group = create_auto_scaling_group  # type: ignore[method-assign]

    original_put_hook = response_cls.put_lifecycle_hook

    def put_lifecycle_hook(self: AutoScalingResponse) -> Any:
        engine = _engine_for_backend(self.autoscaling_backend)
        if engine is None:
            return original_put_hook(self)
        engine.put_hook(
            group_name=self._get_param("AutoScalingGroupName"),
            name=self._get_param("LifecycleHookName"),
            transition=self._get_param("LifecycleTransition"),
            heartbeat_timeout=self._get_int_param("HeartbeatTimeout"),
            default_result=self._get_param("DefaultResult"),
            metadata=self._get_param("NotificationMetadata"),
            role_arn=self._get_param("RoleARN"),
            target_arn=self._get_param("NotificationTargetARN"),
        )
        return EmptyResult()

    # A deliberate patch of moto's method (module docstring).
    response_cls.put_lifecycle_hook = put_lifecycle_hook  # type: ignore[method-assign]

    original_delete_hook = response_cls.delete_lifecycle_hook

    def delete_lifecycle_hook(self: AutoScalingResponse) -> Any:
        engine = _engine_for_backend(self.autoscaling_backend)
        if engine is None:
            return original_delete_hook(self)
        engine.delete_hook(
            self._get_param("AutoScalingGroupName"), self._get_param("LifecycleHookName")
        )
        return EmptyResult()

    # A deliberate patch of moto's method (module docstring).
    response_cls.delete_lifecycle_hook = delete_lifecycle_hook  # type: ignore[method-assign]

    def _require_engine(self: AutoScalingResponse) -> AsgEngine:
        engine = _engine_for_backend(self.autoscaling_backend)
        if engine is None:
            raise NotImplementedError("needs a running localcloud.aws.AwsCloud")
        return engine

    def complete_lifecycle_action(self: AutoScalingResponse) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html"""
        engine = _require_engine(self)
        action = engine.find_action(
            group_name=self._get_param("AutoScalingGroupName"),
            hook_name=self._get_param("LifecycleHookName"),
            token=self._get_param("LifecycleActionToken"),
            instance_id=self._get_param("InstanceId"),
        )
        engine.complete(action, self._get_param("LifecycleActionResult"))
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RecordLifecycleActionHeartbeat.html"""
        engine = _require_engine(self)
        action = engine.find_action(
            group_name=self._get_param("AutoScalingGroupName"),
            hook_name=self._get_param("LifecycleHookName"),
            token=self._get_param("LifecycleActionToken"),
            instance_id=self._get_param("InstanceId"),
        )
        engine.heartbeat(action)
        return EmptyResult()

    def start_instance_refresh(self: AutoScalingResponse) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html"""
        engine = _require_engine(self)
        refresh = engine.start_refresh(
            self._get_param("AutoScalingGroupName"),
            strategy=self._get_param("Strategy"),
            preferences=self._get_param("Preferences"),
            desired_configuration=self._get_param("DesiredConfiguration"),
        )
        return ActionResult({"InstanceRefreshId": refresh.refresh_id})

    def describe_instance_refreshes(self: AutoScalingResponse) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeInstanceRefreshes.html"""
        engine = _require_engine(self)
        name = self._get_param("AutoScalingGroupName")
        if name not in engine.backend.autoscaling_groups:
            raise ValidationError(f"AutoScalingGroup name not found - {name}")
        ids = self._get_param("InstanceRefreshIds", []) or []
        refreshes = [
            r.describe() for r in engine.refreshes.get(name, []) if not ids or r.refresh_id in ids
        ]
        return ActionResult({"InstanceRefreshes": refreshes})

    def cancel_instance_refresh(self: AutoScalingResponse) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CancelInstanceRefresh.html"""
        engine = _require_engine(self)
        refresh = engine.cancel_refresh(self._get_param("AutoScalingGroupName"))
        return ActionResult({"InstanceRefreshId": refresh.refresh_id})

    def rollback_instance_refresh(self: AutoScalingResponse) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RollbackInstanceRefresh.html"""
        engine = _require_engine(self)
        refresh = engine.rollback_refresh(self._get_param("AutoScalingGroupName"))
        return ActionResult({"InstanceRefreshId": refresh.refresh_id})

    def put_warm_pool(self: Any) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html"""
        engine = _require_engine(self)
        engine.put_warm_pool(
            self._get_param("AutoScalingGroupName"),
            min_size=self._get_int_param("MinSize"),
            pool_state=self._get_param("PoolState"),
            max_group_prepared_capacity=self._get_int_param("MaxGroupPreparedCapacity"),
            instance_reuse_policy=self._get_param("InstanceReusePolicy"),
        )
        return EmptyResult()

    def describe_warm_pool(self: Any) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html"""
        engine = _require_engine(self)
        return ActionResult(
            engine.describe_warm_pool(
                self._get_param("AutoScalingGroupName"),
                max_records=self._get_int_param("MaxRecords"),
                next_token=self._get_param("NextToken"),
            )
        )

    def delete_warm_pool(self: Any) -> Any:
        """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteWarmPool.html"""
        engine = _require_engine(self)
        engine.delete_warm_pool(self._get_param("AutoScalingGroupName"))
        return EmptyResult()

    def warm_pool_size(self: FakeAutoScalingGroup) -> int | None:
        """DescribeAutoScalingGroups' WarmPoolSize: "The current size of the warm pool"
        (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AutoScalingGroup.html);
        absent for a group without one. Its instances are not in the group's `Instances`."""
        engine = _engine_for(self)
        return engine.warm_pool_size(self.name) if engine is not None else None

    FakeAutoScalingGroup.warm_pool_size = property(warm_pool_size)  # type: ignore[attr-defined]

    for method in (
        put_warm_pool,
        describe_warm_pool,
        delete_warm_pool,
        complete_lifecycle_action,
        record_lifecycle_action_heartbeat,
        start_instance_refresh,
        describe_instance_refreshes,
        cancel_instance_refresh,
        rollback_instance_refresh,
    ):
        setattr(response_cls, method.__name__, method)


# -- EC2 launch templates ---------------------------------------------------------------------


def _patch_ec2_tags() -> None:
    """moto accepts CreateTags (and DeleteTags) on an instance id it never launched. AWS answers
    InvalidInstanceID.NotFound, for the whole request
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html): the instance
    does not exist, or was launched so recently that the id has not propagated yet."""
    original = EC2Backend.do_resources_exist

    @functools.wraps(original)
    def do_resources_exist(self: EC2Backend, resource_ids: list[str]) -> bool:
        if _engine_for_backend(self) is not None:
            unknown = [
                resource_id
                for resource_id in resource_ids
                if resource_id.startswith("i-") and self.get_instance_by_id(resource_id) is None
            ]
            if unknown:
                raise InvalidInstanceIdError(unknown)
        return original(self, resource_ids)

    # A deliberate patch of moto's method (module docstring).
    EC2Backend.do_resources_exist = do_resources_exist  # type: ignore[method-assign]


def _patch_launch_templates() -> None:
    """moto bug: CreateLaunchTemplateVersion stores UserData as a plain string (CreateLaunchTemplate
    wraps it in Base64EncodedString), so launching from such a version fails an assertion in
    ``LaunchTemplateVersion.user_data``; and SourceVersion is ignored. AWS: the new version
    inherits the source version's parameters except those given in LaunchTemplateData.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplateVersion.html"""
    response_cls = lt_responses.LaunchTemplates

    def create_launch_template_version(self: LaunchTemplates) -> Any:
        name = self._get_param("LaunchTemplateName")
        tmpl_id = self._get_param("LaunchTemplateId")
        if tmpl_id:
            template: LaunchTemplate = self.ec2_backend.get_launch_template(tmpl_id)
        else:
            template = self.ec2_backend.get_launch_template_by_name(name)
        description = self._get_param("VersionDescription")
        data = dict(self._get_param("LaunchTemplateData", {}) or {})
        if "UserData" in data:
            data["UserData"] = parse_user_data(data["UserData"])
        source = self._get_param("SourceVersion")
        if source is not None:
            base = dict(template.get_version(source).data)
            base.update(data)
            data = base
        self.error_on_dryrun()
        version = template.create_version(data, description)
        result = {
            "LaunchTemplateVersion": {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersion": template.is_default(version),
                "LaunchTemplateData": _public_data(version.data),
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionDescription": version.description,
                "VersionNumber": version.number,
            },
        }
        return ActionResult(result)

    # A deliberate patch of moto's method (module docstring).
    response_cls.create_launch_template_version = create_launch_template_version  # type: ignore[method-assign]


def _public_data(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    user_data = out.get("UserData")
    if user_data is not None and not isinstance(user_data, str):
        out["UserData"] = (
            user_data.as_bytes().decode("ascii")
            if hasattr(user_data, "as_bytes")
            else str(user_data)
        )
    return out


# -- EKS --------------------------------------------------------------------------------------


def _eks_state(response: EKSResponse) -> EksState | None:
    active = ACTIVE
    if (
        active is not None
        and response.current_account == active.eks.account_id
        and response.region == active.eks.region
    ):
        return active.eks
    return None


def _patch_eks() -> None:
    eks_urls.url_paths.setdefault(
        "{0}/clusters/(?P<name>[^/]+)/access-entries$", eks_urls.response.dispatch
    )
    eks_urls.url_paths.setdefault(
        "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$",
        eks_urls.response.dispatch,
    )
    response_cls = eks_responses.EKSResponse

    original_create = response_cls.create_cluster

    def create_cluster(self: EKSResponse) -> Any:
        state = _eks_state(self)
        result = original_create(self)
        if state is not None:
            with STATE_LOCK:
                cluster = state.backend.clusters[self._get_param("name")]
                try:
                    state.decorate(cluster, self._get_param("accessConfig"))
                except Exception:
                    state.backend.clusters.pop(cluster.name, None)
                    raise
        return result

    # A deliberate patch of moto's method (module docstring).
    response_cls.create_cluster = create_cluster  # type: ignore[method-assign]

    original_delete = response_cls.delete_cluster

    def delete_cluster(self: EKSResponse) -> Any:
        state = _eks_state(self)
        result = original_delete(self)
        if state is not None:
            state.forget_cluster(self._get_param("name"))
        return result

    # A deliberate patch of moto's method (module docstring).
    response_cls.delete_cluster = delete_cluster  # type: ignore[method-assign]

    original_update = response_cls.update_cluster_config

    def update_cluster_config(self: EKSResponse) -> Any:
        state = _eks_state(self)
        access_config = self._get_param("accessConfig")
        if state is None or not access_config:
            return original_update(self)
        with STATE_LOCK:
            update = state.update_access_config(self._get_param("name"), access_config)
        return ActionResult({"update": update})

    # A deliberate patch of moto's method (module docstring).
    response_cls.update_cluster_config = update_cluster_config  # type: ignore[method-assign]

    def _state(self: EKSResponse) -> EksState:
        state = _eks_state(self)
        if state is None:
            raise NotImplementedError("needs a running localcloud.aws.AwsCloud")
        return state

    def create_access_entry(self: EKSResponse) -> Any:
        """https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessEntry.html"""
        state = _state(self)
        with STATE_LOCK:
            record = state.create_entry(
                self._get_param("name"),
                principal_arn=self._get_param("principalArn"),
                entry_type=self._get_param("type"),
                username=self._get_param("username"),
                kubernetes_groups=self._get_param("kubernetesGroups"),
                tags=self._get_param("tags"),
            )
        return ActionResult({"accessEntry": record.describe()})

    def describe_access_entry(self: EKSResponse) -> Any:
        """https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeAccessEntry.html"""
        state = _state(self)
        with STATE_LOCK:
            record = state.get_entry(self._get_param("name"), self._get_param("principalArn"))
        return ActionResult({"accessEntry": record.describe()})

    def list_access_entries(self: EKSResponse) -> Any:
        """https://docs.aws.amazon.com/eks/latest/APIReference/API_ListAccessEntries.html"""
        state = _state(self)
        with STATE_LOCK:
            arns = state.list_entries(self._get_param("name"))
        max_results = int(self._get_param("maxResults") or 100)
        start = int(self._get_param("nextToken") or 0)
        page = arns[start : start + max_results]
        token = str(start + max_results) if start + max_results < len(arns) else None
        return ActionResult({"accessEntries": page, "nextToken": token})

    def delete_access_entry(self: EKSResponse) -> Any:
        """https://docs.aws.amazon.com/eks/latest/APIReference/API_DeleteAccessEntry.html"""
        state = _state(self)
        with STATE_LOCK:
            state.delete_entry(self._get_param("name"), self._get_param("principalArn"))
        return ActionResult({})

    for method in (
        create_access_entry,
        describe_access_entry,
        list_access_entries,
        delete_access_entry,
    ):
        setattr(response_cls, method.__name__, method)


__all__ = ["ACTIVE", "TERMINATING", "Active", "activate", "install"]
