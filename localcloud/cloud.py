"""The whole local cloud: the Kubernetes half, plus the AWS half when ``localcloud.aws`` exists.

The AWS half plugs in through ``AwsHalf`` (below): ``localcloud.aws`` exports a class
``AwsCloud`` taking the keyword arguments of ``AwsCloudOptions``; it starts before the Kubernetes
half (its identity and access-entry sources feed the token webhook) and is attached to it once
the API server runs (cluster endpoint and CA for DescribeCluster, kubelets for booted instances).
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from localcloud.kube import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLUSTER_NAME,
    AccessEntrySource,
    IdentitySource,
    KubeCloud,
    Timing,
)
from localcloud.running import Running


@dataclass(frozen=True)
class AwsCloudOptions:
    cluster_name: str
    region: str
    account_id: str
    timing: Timing
    work_dir: Path


class AwsHalf(Protocol):
    """What ``localcloud.aws.AwsCloud(**options)`` must offer."""

    identity_source: IdentitySource
    access_entries: AccessEntrySource
    allowed_sts_hosts: frozenset[str]

    def start(self) -> object: ...

    def attach(self, kube: KubeCloud) -> None:
        """Kubernetes is up: publish ``kube.endpoint``/``kube.ca_data`` in EKS and start
        ``kube.nodes.start(...)`` for booted instances (``kube.nodes.stop`` on termination)."""
        ...

    def env(self) -> Mapping[str, str]:
        """``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, dummy credentials, ..."""
        ...

    def stop(self) -> None: ...


def load_aws_half() -> type | None:
    """``localcloud.aws.AwsCloud`` when the AWS half is installed and complete, else None."""
    try:
        module = importlib.import_module("localcloud.aws")
    except ImportError:
        return None
    aws_cloud = getattr(module, "AwsCloud", None)
    return aws_cloud if isinstance(aws_cloud, type) else None


class LocalCloud(Running):
    def __init__(
        self,
        *,
        cluster_name: str = DEFAULT_CLUSTER_NAME,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        timing: Timing | None = None,
        work_dir: Path | None = None,
        with_aws: bool | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        self.region = region
        self.account_id = account_id
        self.timing = timing or Timing()
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="localcloud-"))
        self.with_aws = with_aws
        self.aws: AwsHalf | None = None
        self.kube: KubeCloud | None = None

    def start(self) -> LocalCloud:
        try:
            identity_source: IdentitySource | None = None
            access_entries: AccessEntrySource | None = None
            allowed_hosts: frozenset[str] = frozenset()
            aws_cloud = load_aws_half() if self.with_aws is not False else None
            if self.with_aws and aws_cloud is None:
                raise RuntimeError("localcloud.aws.AwsCloud is not available")
            if aws_cloud is not None:
                options = AwsCloudOptions(
                    cluster_name=self.cluster_name,
                    region=self.region,
                    account_id=self.account_id,
                    timing=self.timing,
                    work_dir=self.work_dir / "aws",
                )
                self.aws = aws_cloud(**vars(options))
                self.aws.start()
                identity_source = self.aws.identity_source
                access_entries = self.aws.access_entries
                allowed_hosts = self.aws.allowed_sts_hosts
            self.kube = KubeCloud(
                cluster_name=self.cluster_name,
                region=self.region,
                identity_source=identity_source,
                access_entries=access_entries,
                allowed_sts_hosts=allowed_hosts,
                timing=self.timing,
                work_dir=self.work_dir / "kube",
            ).start()
            if self.aws is not None:
                self.aws.attach(self.kube)
        except BaseException:
            self.stop()
            raise
        return self

    def env(self) -> dict[str, str]:
        """Environment for tools and the product's CLI pointed at this local cloud."""
        if self.kube is None:
            raise RuntimeError("local cloud not started")
        env = {
            "KUBECONFIG": str(self.kube.admin_kubeconfig),
            "EKS_CLUSTER_NAME": self.cluster_name,
            "LOCALCLOUD_KUBE_ENDPOINT": self.kube.endpoint,
            "LOCALCLOUD_KUBE_CA_FILE": str(self.kube.ca_file),
        }
        if self.aws is not None:
            env.update(self.aws.env())
        return env

    @property
    def pids(self) -> list[int]:
        return self.kube.pids if self.kube else []

    def stop(self) -> None:
        if self.kube is not None:
            self.kube.stop()
            self.kube = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
