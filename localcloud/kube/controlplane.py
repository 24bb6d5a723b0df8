"""etcd, kube-apiserver and kube-controller-manager v1.20.2 as child processes of this process."""

from __future__ import annotations

import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from localcloud.kube.pki import RunPki
from localcloud.kube.processes import ManagedProcess, free_port, pid_alive, spawn

CONTROL_PLANE_VERSION = "v1.20.2"
BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "build-control-plane.sh"
SERVICE_CIDR = "10.100.0.0/16"
ADMIN_USER = "localcloud-admin"
_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")


class ControlPlaneError(RuntimeError):
    """A control-plane process did not start or become ready; the message holds its log tail."""


def cache_dir() -> Path:
    configured = os.environ.get("EKS_WINDOWS_NODES_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "eks-windows-nodes"


def binaries_dir() -> Path:
    return cache_dir() / f"control-plane-{CONTROL_PLANE_VERSION}" / "bin"


def binaries_present() -> bool:
    return all(os.access(binaries_dir() / name, os.X_OK) for name in _BINARIES)


def ensure_binaries(*, build: bool = True) -> Path:
    """The bin/ directory, building it first (~10 minutes, progress on stderr) when missing."""
    if binaries_present():
        return binaries_dir()
    if not build:
        raise ControlPlaneError(
            f"control-plane binaries missing in {binaries_dir()}; run `make control-plane`"
        )
    print(
        f"[localcloud] control plane not built yet: running {BUILD_SCRIPT} "
        "(about 10 minutes, once)",
        file=sys.stderr,
        flush=True,
    )
    env = {**os.environ, "EKS_WINDOWS_NODES_CACHE": str(cache_dir())}
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=None, env=env, check=False
    )
    if result.returncode != 0 or not binaries_present():
        raise ControlPlaneError(f"control-plane build failed (exit {result.returncode})")
    return binaries_dir()


@dataclass
class ControlPlane:
    """The running control plane. Build with ``ControlPlane.start``; ``stop`` is idempotent."""

    work_dir: Path
    pki: RunPki
    endpoint: str
    admin_token: str
    admin_kubeconfig: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    scratch_dirs: list[Path] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        *,
        work_dir: Path,
        pki: RunPki,
        webhook_url: str,
        ready_timeout: float = 60.0,
        attempts: int = 3,
    ) -> ControlPlane:
        bin_dir = ensure_binaries()
        admin_token = secrets.token_urlsafe(32)
        last_error: ControlPlaneError | None = None
        for attempt in range(attempts):
            plane = cls(
                work_dir=work_dir,
                pki=pki,
                endpoint="",
                admin_token=admin_token,
                admin_kubeconfig=work_dir / "admin.kubeconfig",
            )
            try:
                plane._launch(bin_dir, webhook_url, ready_timeout, attempt)
            except ControlPlaneError as exc:
                # Most likely a port taken between probing and binding: try fresh ports.
                plane.stop()
                last_error = exc
                continue
            return plane
        assert last_error is not None
        raise last_error

    def _launch(self, bin_dir: Path, webhook_url: str, ready_timeout: float, attempt: int) -> None:
        run = self.work_dir / f"attempt-{attempt}"
        logs = self.work_dir / "logs"
        run.mkdir(parents=True, exist_ok=True)
        etcd_data = _fast_tmp_dir(run)
        self.scratch_dirs.append(etcd_data)
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self.processes.append(
            spawn(
                "etcd",
                [
                    str(bin_dir / "etcd"),
                    "--name=localcloud",
                    f"--data-dir={etcd_data}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=localcloud={peer_url}",
                    "--initial-cluster-state=new",
                    "--snapshot-count=100000",
                    "--log-level=warn",
                    "--logger=zap",
                ],
                log=logs / "etcd.log",
            )
        )

        token_file = run / "tokens.csv"
        token_file.touch(mode=0o600)
        token_file.write_text(f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        webhook_config = run / "token-webhook.kubeconfig"
        webhook_config.write_text(
            _kubeconfig(server=webhook_url, ca_file=self.pki.ca_cert, user={}, name="token-webhook")
        )

        self.endpoint = f"https://127.0.0.1:{api_port}"
        self.processes.append(
            spawn(
                "kube-apiserver",
                [
                    str(bin_dir / "kube-apiserver"),
                    f"--etcd-servers={etcd_url}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    "--insecure-port=0",
                    f"--tls-cert-file={self.pki.apiserver.cert}",
                    f"--tls-private-key-file={self.pki.apiserver.key}",
                    f"--client-ca-file={self.pki.ca_cert}",
                    "--authorization-mode=Node,RBAC",
                    "--enable-admission-plugins=NodeRestriction",
                    f"--token-auth-file={token_file}",
                    f"--authentication-token-webhook-config-file={webhook_config}",
                    "--authentication-token-webhook-version=v1",
                    # EKS caches for minutes; tests flip mappings and want the answer now.
                    "--authentication-token-webhook-cache-ttl=1s",
                    f"--service-account-key-file={self.pki.service_account_pub}",
                    f"--service-account-signing-key-file={self.pki.service_account_key}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    # Endpoints validation refuses the 127.0.0.1 of the `kubernetes` Service.
                    "--endpoint-reconciler-type=none",
                    "--allow-privileged=true",
                    "--profiling=false",
                    "--v=1",
                ],
                log=logs / "kube-apiserver.log",
            )
        )
        self._write_admin_kubeconfig()
        self._wait_ready(ready_timeout)

        self.processes.append(
            spawn(
                "kube-controller-manager",
                [
                    str(bin_dir / "kube-controller-manager"),
                    f"--kubeconfig={self.admin_kubeconfig}",
                    "--controllers=*,-nodelifecycle",
                    "--use-service-account-credentials=false",
                    f"--service-account-private-key-file={self.pki.service_account_key}",
                    f"--root-ca-file={self.pki.ca_cert}",
                    "--leader-elect=false",
                    "--port=0",
                    "--secure-port=0",
                    "--profiling=false",
                    "--v=1",
                ],
                log=logs / "kube-controller-manager.log",
            )
        )
        time.sleep(0.2)
        for proc in self.processes:
            if not proc.alive():
                raise ControlPlaneError(f"{proc.name} exited:\n{proc.tail()}")

    def _write_admin_kubeconfig(self) -> None:
        self.admin_kubeconfig.touch(mode=0o600)
        self.admin_kubeconfig.write_text(
            _kubeconfig(
                server=self.endpoint,
                ca_file=self.pki.ca_cert,
                user={"token": self.admin_token},
                name="localcloud",
            )
        )

    def _wait_ready(self, timeout: float) -> None:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        request = urllib.request.Request(
            self.endpoint + "/readyz", headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.processes:
                if not proc.alive():
                    raise ControlPlaneError(f"{proc.name} exited:\n{proc.tail()}")
            try:
                with urllib.request.urlopen(request, context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError, ssl.SSLError):
                pass
            time.sleep(0.25)
        raise ControlPlaneError(
            f"kube-apiserver not ready after {timeout:.0f}s:\n{self.processes[-1].tail()}"
        )

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        for path in self.scratch_dirs:
            shutil.rmtree(path, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


# etcd preallocates two 64 MiB write-ahead log files; several clouds may run at once, and a
# container's /dev/shm is often only 64 MiB.
SHM_FREE_NEEDED = 1 << 30


def _fast_tmp_dir(run: Path, shm: Path = Path("/dev/shm")) -> Path:
    """etcd's data dir: in /dev/shm when writable and roomy (fsync is the slowest part of
    etcd), else in the run directory."""
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= SHM_FREE_NEEDED:
        _remove_orphaned_etcd_dirs(shm)
        path = shm / f"localcloud-etcd-{os.getpid()}-{secrets.token_hex(4)}"
        path.mkdir(mode=0o700)
        (run / "etcd-data").symlink_to(path)
        return path
    path = run / "etcd-data"
    path.mkdir(mode=0o700)
    return path


def _remove_orphaned_etcd_dirs(shm: Path) -> None:
    """Data dirs of runs that were SIGKILLed (their etcd died with them; the tmpfs stays)."""
    for path in shm.glob("localcloud-etcd-*-*"):
        owner = path.name.split("-")[2]
        if owner.isdigit() and not pid_alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)


def _kubeconfig(*, server: str, ca_file: Path, user: dict[str, str], name: str) -> str:
    import json

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    return json.dumps(config, indent=2) + "\n"
