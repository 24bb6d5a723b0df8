"""Composition root: builds adapters from configuration. Entry points (CLI, Lambda handlers)
call these; nothing else constructs boto3 or Kubernetes clients. Services are built once per
container and reused by warm invocations."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from winnodes.adapters.autoscaling import AutoScalingGroups
from winnodes.adapters.aws import (
    autoscaling_client,
    aws_session,
    ec2_client,
    eks_client,
    iam_client,
    sts_client,
)
from winnodes.adapters.clock import SystemClock
from winnodes.adapters.ec2 import Ec2Instances
from winnodes.adapters.eks import EksAccessEntries, EksClusters
from winnodes.adapters.kube.cluster import KubeClusters
from winnodes.config import Settings, region_from_env
from winnodes.decisions.drain import DrainPolicy
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.ports import ClusterDirectory
from winnodes.services.fleet import Fleet
from winnodes.services.join import JoinService, JoinSettings
from winnodes.services.leave import LeaveService, LeaveSettings
from winnodes.services.lifecycle import LifecycleEvents
from winnodes.services.reconcile import ReconcileService


def cluster_directory(region: str | None = None) -> ClusterDirectory:
    return EksClusters(eks_client(aws_session(region or region_from_env(os.environ))))


@cache
def settings() -> Settings:
    return Settings.from_env(os.environ)


def _region(override: str | None) -> str | None:
    """The CLI's --region if given, else the environment's. Services are built once per
    region, so an override serves its own run and never leaks into a later one."""
    return override or settings().region


@dataclass(frozen=True)
class _Container:
    """What one region's functions use, built together once per container."""

    aws_clients: Mapping[str, Any]  # botocore clients by service name
    join: JoinService
    leave: LeaveService
    reconcile: ReconcileService
    lifecycle: LifecycleEvents


@cache
def _container(region: str | None) -> _Container:
    config = settings()
    session = aws_session(region)
    autoscaling, ec2, eks = autoscaling_client(session), ec2_client(session), eks_client(session)
    iam, sts = iam_client(session), sts_client(session)
    clock = SystemClock()
    kube_for = KubeClusters(sts, wall_clock=lambda: clock.now().timestamp())
    fleet = Fleet(
        autoscaling=AutoScalingGroups(autoscaling),
        compute=Ec2Instances(ec2, iam),
        clusters=EksClusters(eks),
        kube_for=kube_for,
    )
    join = JoinService(
        fleet=fleet,
        access_entries=EksAccessEntries(eks),
        clock=clock,
        settings=JoinSettings(
            join_deadline=config.join_deadline,
            wait_budget=config.join_wait_budget,
            poll_interval=config.join_poll_interval,
            extra_instance_tags=config.extra_instance_tags,
            smoke_test=SmokeTestPolicy(
                enabled=config.smoke_test_enabled,
                image=config.smoke_test_image,
                namespace=config.smoke_test_namespace,
            ),
            node_roles=config.node_roles,
        ),
        smoke_pods_for=kube_for.smoke_pods,
    )
    leave = LeaveService(
        fleet=fleet,
        drain_for=kube_for.drain,
        clock=clock,
        settings=LeaveSettings(
            policy=DrainPolicy(
                force=config.drain_force,
                delete_emptydir_data=config.drain_delete_emptydir_data,
                timeout=config.drain_deadline,
            ),
            wait_budget=config.drain_wait_budget,
        ),
    )
    return _Container(
        aws_clients={"autoscaling": autoscaling, "ec2": ec2, "eks": eks, "iam": iam, "sts": sts},
        join=join,
        leave=leave,
        reconcile=ReconcileService(fleet=fleet, join=join, leave=leave, clock=clock),
        lifecycle=LifecycleEvents(fleet=fleet, join=join, leave=leave, clock=clock),
    )


def aws_clients(region: str | None = None) -> Mapping[str, Any]:
    """The functions' AWS clients by service, built once per container. For observing their
    calls through botocore's events (`client.meta.events`), as benchmarks and tests do."""
    return _container(_region(region)).aws_clients


def join_service(region: str | None = None) -> JoinService:
    return _container(_region(region)).join


def leave_service(region: str | None = None) -> LeaveService:
    return _container(_region(region)).leave


def reconcile_service(region: str | None = None) -> ReconcileService:
    return _container(_region(region)).reconcile


def lifecycle_events(region: str | None = None) -> LifecycleEvents:
    return _container(_region(region)).lifecycle


def reset() -> None:
    """Forget every built service, as a new Lambda container would (tests change the
    environment between runs; a deployed function never needs this)."""
    settings.cache_clear()
    _container.cache_clear()
