"""Renders the PowerShell user data that joins a Windows instance to its EKS cluster."""

from __future__ import annotations

import base64
from typing import Final

from winnodes.errors import InvalidInputError
from winnodes.userdata.powershell import quote, quote_list
from winnodes.userdata.settings import BootstrapSettings

# Where the EKS-optimized Windows AMIs keep the bootstrap script (EKS user guide,
# eks-optimized-windows-ami.html, "Bootstrap script configuration parameters").
BOOTSTRAP_SCRIPT = r"$env:ProgramFiles\Amazon\EKS\Start-EKSBootstrap.ps1"
# "User data is limited to 16 KB, in raw form, before it is base64-encoded" (EC2 user guide,
# user-data.html): a launch template refuses more, far from where it was rendered.
USERDATA_LIMIT_BYTES: Final = 16 * 1024


def bootstrap_arguments(settings: BootstrapSettings) -> list[tuple[str, str]]:
    """(parameter, PowerShell literal) pairs, in the order the script documents them.

    No -ContainerRuntime: current AMIs removed it and fail when it is given."""
    arguments = [("EKSClusterName", quote(settings.cluster_name))]
    if settings.endpoint is not None and settings.ca_base64 is not None:
        arguments.append(("APIServerEndpoint", quote(settings.endpoint)))
        arguments.append(("Base64ClusterCA", quote(settings.ca_base64)))
    if settings.service_cidr is not None:
        arguments.append(("ServiceCIDR", quote(settings.service_cidr)))
    if settings.dns_cluster_ip is not None:
        arguments.append(("DNSClusterIP", quote(settings.dns_cluster_ip)))
    if settings.excluded_snat_cidrs:
        arguments.append(("ExcludedSnatCIDRs", quote_list(settings.excluded_snat_cidrs)))
    kubelet_args = kubelet_extra_args(settings)
    if kubelet_args:
        arguments.append(("KubeletExtraArgs", quote(kubelet_args)))
    if settings.kube_proxy_extra_args:
        arguments.append(("KubeProxyExtraArgs", quote(settings.kube_proxy_extra_args)))
    return arguments


def kubelet_extra_args(settings: BootstrapSettings) -> str:
    """Labels and taints become kubelet flags, ahead of the operator's own arguments."""
    parts = []
    if settings.node_labels:
        parts.append("--node-labels=" + ",".join(f"{k}={v}" for k, v in settings.node_labels))
    if settings.taints:
        parts.append("--register-with-taints=" + ",".join(str(t) for t in settings.taints))
    if settings.kubelet_extra_args:
        parts.append(settings.kubelet_extra_args)
    return " ".join(parts)


def render_userdata(settings: BootstrapSettings, *, wrapper: bool = True) -> str:
    """The PowerShell script; wrapped in <powershell> tags for EC2Launch unless `wrapper=False`."""
    call = " ".join(f"-{name} {literal}" for name, literal in bootstrap_arguments(settings))
    lines = [
        "# Joins this instance to its Amazon EKS cluster (rendered by eks-windows-nodes).",
        "$ErrorActionPreference = 'Stop'",
    ]
    if settings.pre_bootstrap:
        lines += ["", "# --- pre-bootstrap ---", settings.pre_bootstrap.rstrip("\n")]
    lines += [
        "",
        f'[string]$EKSBootstrapScriptFile = "{BOOTSTRAP_SCRIPT}"',
        "$global:LASTEXITCODE = 0",
        "try {",
        # Streams 3-6 (warning, verbose, debug, information) go to the EC2Launch log with output.
        f"    & $EKSBootstrapScriptFile {call} 3>&1 4>&1 5>&1 6>&1",
        "} catch {",
        '    Write-Output "EKS bootstrap failed: $_"',
        "    exit 1",
        "}",
        "if ($LASTEXITCODE -ne 0) {",
        '    Write-Output "EKS bootstrap failed with exit code $LASTEXITCODE"',
        "    exit $LASTEXITCODE",
        "}",
    ]
    if settings.post_bootstrap:
        lines += ["", "# --- post-bootstrap ---", settings.post_bootstrap.rstrip("\n")]
    body = "\n".join(lines) + "\n"
    wrapped = f"<powershell>\n{body}</powershell>\n"
    if (size := len(wrapped.encode("utf-8"))) > USERDATA_LIMIT_BYTES:
        raise InvalidInputError(
            _largest_option(settings),
            f"the user data would be {size} bytes; EC2 takes at most {USERDATA_LIMIT_BYTES}",
        )
    return wrapped if wrapper else body


def _largest_option(settings: BootstrapSettings) -> str:
    """The option to shorten: the one that takes most of the script (the others are bounded)."""
    sizes = {
        "pre-bootstrap": len(settings.pre_bootstrap or ""),
        "post-bootstrap": len(settings.post_bootstrap or ""),
        "kubelet-extra-args": len(settings.kubelet_extra_args or ""),
        "kube-proxy-extra-args": len(settings.kube_proxy_extra_args or ""),
        "node-labels": sum(len(k) + len(v) + 2 for k, v in settings.node_labels),
        "taints": sum(len(str(taint)) + 1 for taint in settings.taints),
        "excluded-snat-cidrs": len(quote_list(settings.excluded_snat_cidrs)),
    }
    return max(sizes, key=sizes.__getitem__)


def encode_userdata(userdata: str) -> str:
    """The base64 form a launch template's UserData takes."""
    return base64.b64encode(userdata.encode("utf-8")).decode("ascii")
