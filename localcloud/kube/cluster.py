"""The Kubernetes half of the local cloud: control plane + token webhook + simulators."""

from __future__ import annotations

import atexit
import base64
import json
import logging
import shutil
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from kubernetes.client import ApiClient, CoreV1Api

from localcloud.kube.clients import ApiException, admin_configuration, raw_json
from localcloud.kube.controlplane import ControlPlane
from localcloud.kube.identity import (
    AccessEntrySource,
    IdentityRegistry,
    IdentitySource,
    InMemoryAccessEntries,
)
from localcloud.kube.kubelet import NodeFleet
from localcloud.kube.mapping import AuthenticationMode
from localcloud.kube.pki import RunPki, create_pki
from localcloud.kube.scheduler import Scheduler
from localcloud.kube.timing import Timing
from localcloud.kube.webhook import EksAuthenticator, TokenWebhookServer
from localcloud.running import Running

log = logging.getLogger("localcloud.kube")

DEFAULT_CLUSTER_NAME = "localcloud"
DEFAULT_ACCOUNT_ID = "123456789012"


def progress(message: str) -> None:
    print(f"[localcloud] {message}", file=sys.stderr, flush=True)


class KubeCloud(Running):
    """A private EKS cluster, locally: real kube-apiserver/controller-manager v1.20.2, EKS-style
    IAM authentication through ``identity_source`` and ``access_entries``, kubelet and scheduler
    stand-ins. Use as a context manager or call ``start``/``stop``.
    """

    def __init__(
        self,
        *,
        cluster_name: str = DEFAULT_CLUSTER_NAME,
        region: str = "us-east-1",
        identity_source: IdentitySource | None = None,
        access_entries: AccessEntrySource | None = None,
        authentication_mode: AuthenticationMode = AuthenticationMode.API_AND_CONFIG_MAP,
        allowed_sts_hosts: frozenset[str] = frozenset(),
        timing: Timing | None = None,
        work_dir: Path | None = None,
        scheduler: bool = True,
    ) -> None:
        self.cluster_name = cluster_name
        self.region = region
        self.identity_source: IdentitySource = identity_source or IdentityRegistry(region=region)
        self.access_entries: AccessEntrySource = access_entries or InMemoryAccessEntries()
        self.timing = timing or Timing()
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="localcloud-kube-"))
        self.authenticator = EksAuthenticator(
            cluster_name=cluster_name,
            identity_source=self.identity_source,
            access_entries=self.access_entries,
            aws_auth=self._read_aws_auth,
            mode=authentication_mode,
            allowed_sts_hosts=allowed_sts_hosts,
        )
        self._with_scheduler = scheduler
        self._pki: RunPki | None = None
        self._plane: ControlPlane | None = None
        self._webhook: TokenWebhookServer | None = None
        self._scheduler: Scheduler | None = None
        self._admin_api: CoreV1Api | None = None
        self.nodes = NodeFleet(
            endpoint=lambda: self.endpoint,
            ca_file=lambda: self.ca_file,
            timing=self.timing,
            delete_node=self._delete_node,
            node_lost=self._node_lost,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> KubeCloud:
        began = time.monotonic()
        atexit.register(self.stop)
        try:
            self._pki = create_pki(self.work_dir / "pki")
            self._webhook = TokenWebhookServer(self.authenticator, tls=self._pki.webhook)
            self._webhook.start()
            progress(f"starting etcd, kube-apiserver, kube-controller-manager in {self.work_dir}")
            self._plane = ControlPlane.start(
                work_dir=self.work_dir, pki=self._pki, webhook_url=self._webhook.url
            )
            self._bootstrap_rbac()
            if self._with_scheduler:
                self._scheduler = Scheduler(self.core_v1(), timing=self.timing).start()
        except BaseException:
            self.stop()
            raise
        progress(f"Kubernetes API ready at {self.endpoint} ({time.monotonic() - began:.1f}s)")
        return self

    def stop(self) -> None:
        """Stop simulators, control plane and webhook. Idempotent."""
        atexit.unregister(self.stop)
        self.nodes.stop_all()
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        if self._plane is not None:
            self._plane.stop()
            self._plane = None
        if self._webhook is not None:
            self._webhook.stop()
            self._webhook = None
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- what callers need -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._plane is not None

    @property
    def endpoint(self) -> str:
        """``https://127.0.0.1:<port>``: the cluster endpoint for DescribeCluster."""
        return self._require_plane().endpoint

    @property
    def ca_file(self) -> Path:
        if self._pki is None:
            raise RuntimeError("local cloud not started")
        return self._pki.ca_cert

    @property
    def ca_pem(self) -> bytes:
        return self.ca_file.read_bytes()

    @property
    def ca_data(self) -> str:
        """Base64 of the CA PEM: ``certificateAuthority.data`` of DescribeCluster."""
        return base64.b64encode(self.ca_pem).decode()

    @property
    def admin_token(self) -> str:
        return self._require_plane().admin_token

    @property
    def admin_kubeconfig(self) -> Path:
        return self._require_plane().admin_kubeconfig

    @property
    def pids(self) -> list[int]:
        return self._plane.pids if self._plane else []

    def api_client(self, *, token: str | None = None) -> ApiClient:
        """An official-client ApiClient; admin unless ``token`` (e.g. a k8s-aws-v1 token)."""
        return ApiClient(
            admin_configuration(
                endpoint=self.endpoint, ca_file=self.ca_file, token=token or self.admin_token
            )
        )

    def core_v1(self) -> CoreV1Api:
        if self._admin_api is None:
            self._admin_api = CoreV1Api(self.api_client())
        return self._admin_api

    def kubeconfig_for_token(self, path: Path, token: str) -> Path:
        """A kubeconfig (e.g. for kubectl) that authenticates with ``token``."""
        path.touch(mode=0o600)
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": self.cluster_name,
                            "cluster": {
                                "server": self.endpoint,
                                "certificate-authority-data": self.ca_data,
                            },
                        }
                    ],
                    "users": [{"name": "user", "user": {"token": token}}],
                    "contexts": [
                        {
                            "name": self.cluster_name,
                            "context": {"cluster": self.cluster_name, "user": "user"},
                        }
                    ],
                    "current-context": self.cluster_name,
                },
                indent=2,
            )
        )
        return path

    # -- internals ---------------------------------------------------------------------------

    def _require_plane(self) -> ControlPlane:
        if self._plane is None:
            raise RuntimeError("local cloud not started")
        return self._plane

    def _read_aws_auth(self) -> Mapping[str, str] | None:
        """kube-system/aws-auth's data, read fresh for every token review (as EKS does)."""
        if self._plane is None or self._pki is None:
            return None
        request = urllib.request.Request(
            f"{self._plane.endpoint}/api/v1/namespaces/kube-system/configmaps/aws-auth",
            headers={"Authorization": f"Bearer {self._plane.admin_token}"},
        )
        context = ssl.create_default_context(cafile=str(self._pki.ca_cert))
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                return json.loads(response.read()).get("data") or {}
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def _bootstrap_rbac(self) -> None:
        """What EKS creates in every cluster that matters here: kube-proxy on Windows nodes
        authenticates as the node with group eks:kube-proxy-windows."""
        from kubernetes.client import RbacAuthorizationV1Api

        rbac = RbacAuthorizationV1Api(self.api_client())
        body = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "eks:kube-proxy-windows"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:node-proxier",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": "eks:kube-proxy-windows",
                }
            ],
        }
        try:
            raw_json(rbac.create_cluster_role_binding, body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _delete_node(self, name: str) -> None:
        try:
            raw_json(self.core_v1().delete_node, name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _node_lost(self, name: str, instance_id: str) -> None:
        """What the node lifecycle controller writes when a kubelet stops posting status
        (pkg/controller/nodelifecycle, tryUpdateNodeHealth, v1.20): every condition Unknown,
        reason NodeStatusUnknown, "Kubelet stopped posting node status.", the last heartbeat
        kept. Only for the instance's own Node: another instance may reuse the name."""
        core = self.core_v1()
        try:
            node = raw_json(core.read_node, name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        provider_id = (node.get("spec") or {}).get("providerID") or ""
        if provider_id.rsplit("/", 1)[-1] != instance_id:
            return
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        conditions = [
            c
            if c.get("status") == "Unknown"
            else {
                **c,
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastTransitionTime": now,
            }
            for c in (node.get("status") or {}).get("conditions") or []
        ]
        try:
            raw_json(core.patch_node_status, name, {"status": {"conditions": conditions}})
        except ApiException as exc:
            if exc.status != 404:
                raise
