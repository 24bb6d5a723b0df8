"""Fixtures for tests against the local cloud's real kube-apiserver.

One control plane per session (``kube``); each test gets its own namespace and its own
simulated nodes (labelled with the test's group, so tests do not schedule onto each other's).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest
from kubernetes.client import CoreV1Api

from localcloud.kube import (
    DEFAULT_ACCOUNT_ID,
    IdentityRegistry,
    InMemoryAccessEntries,
    KubeCloud,
    SimulatedNode,
    Timing,
)
from localcloud.kube.clients import raw_json
from localcloud.kube.waiting import wait_until

TEST_GROUP_LABEL = "localcloud.test/group"


@pytest.fixture(scope="session")
def identity_registry() -> IdentityRegistry:
    return IdentityRegistry()


@pytest.fixture(scope="session")
def access_entries() -> InMemoryAccessEntries:
    return InMemoryAccessEntries()


@pytest.fixture(scope="session")
def kube(
    identity_registry: IdentityRegistry, access_entries: InMemoryAccessEntries
) -> Iterator[KubeCloud]:
    with KubeCloud(
        identity_source=identity_registry, access_entries=access_entries, timing=Timing.fast()
    ) as cloud:
        yield cloud


@pytest.fixture
def core(kube: KubeCloud) -> CoreV1Api:
    return kube.core_v1()


@pytest.fixture
def namespace(core: CoreV1Api) -> Iterator[str]:
    """A fresh namespace whose default service account can already mount its token."""
    name = f"t-{secrets.token_hex(4)}"
    raw_json(core.create_namespace, {"metadata": {"name": name}})

    def account_ready() -> bool:
        account = raw_json(core.read_namespaced_service_account, "default", name)
        return bool(account.get("secrets"))

    wait_until(account_ready, timeout=30, message=f"service account default in {name}")
    yield name
    raw_json(core.delete_namespace, name)


@dataclass(frozen=True)
class NodeIdentity:
    instance_id: str
    private_dns_name: str
    role_name: str

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{self.role_name}"


def new_node_identity(role_name: str | None = None) -> NodeIdentity:
    octets = secrets.token_bytes(3)
    return NodeIdentity(
        instance_id="i-0" + secrets.token_hex(8),
        private_dns_name=f"ip-10-{octets[0]}-{octets[1]}-{octets[2]}.ec2.internal",
        role_name=role_name or f"win-node-{secrets.token_hex(3)}",
    )


class WindowsNodeFactory(Protocol):
    def __call__(
        self,
        *,
        role_name: str | None = None,
        authorize: bool = True,
        wait: bool = True,
        az: str = "us-east-1a",
    ) -> SimulatedNode: ...


@pytest.fixture
def windows_node(
    kube: KubeCloud,
    identity_registry: IdentityRegistry,
    access_entries: InMemoryAccessEntries,
    namespace: str,
) -> Iterator[WindowsNodeFactory]:
    """Start simulated Windows nodes for this test: ``windows_node(role_name=..., authorize=True)``.

    ``authorize=True`` adds an EC2_WINDOWS access entry for the node's role first and waits
    until the node is Ready. Nodes carry ``localcloud.test/group=<namespace>``.
    """
    started: list[SimulatedNode] = []

    def start(
        *,
        role_name: str | None = None,
        authorize: bool = True,
        wait: bool = True,
        az: str = "us-east-1a",
    ) -> SimulatedNode:
        identity = new_node_identity(role_name)
        creds = identity_registry.add_instance_role(
            account_id=DEFAULT_ACCOUNT_ID,
            role_name=identity.role_name,
            instance_id=identity.instance_id,
            private_dns_name=identity.private_dns_name,
        )
        if authorize:
            access_entries.add_windows_node_role(kube.cluster_name, identity.role_arn)
        node = kube.nodes.start(
            instance_id=identity.instance_id,
            private_dns_name=identity.private_dns_name,
            az=az,
            instance_type="m5.large",
            token_provider=identity_registry.token_provider(creds, cluster_name=kube.cluster_name),
            labels={TEST_GROUP_LABEL: namespace},
        )
        started.append(node)
        if authorize and wait:
            assert node.wait_ready(30), f"{node.name} not Ready: {node.registration_failures}"
        return node

    yield start
    for node in started:
        kube.nodes.stop(node.spec.instance_id, delete_node=True)
