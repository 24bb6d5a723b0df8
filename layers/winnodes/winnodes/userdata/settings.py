"""Validated bootstrap settings for a Windows node. Every check raises InvalidInputError naming
the option, so the CLI can print one line and the library can refuse before any side effect."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import ssl
import unicodedata
from dataclasses import dataclass

from winnodes.errors import InvalidInputError
from winnodes.models.identifiers import ClusterName

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# Kubernetes label syntax (k8s.io/apimachinery/pkg/util/validation: IsQualifiedName,
# IsValidLabelValue, IsDNS1123Subdomain).
_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

# The kubelet refuses to start when --node-labels carries a kubernetes.io / k8s.io label it may not
# set itself (pkg/kubelet/apis/well_known_labels.go, KubeletLabels and KubeletLabelNamespaces).
_KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    }
)
_KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")

# EC2Launch reads these tags out of user data; a value that contained one could end the script
# block early or switch on a behaviour nobody asked for (EC2Launch v2 user data reference).
_EC2LAUNCH_TAG = re.compile(
    r"<\s*/?\s*(powershell|script|persist|runAsLocalSystem|powershellArguments)", re.IGNORECASE
)
# The kubelet keeps the last --register-with-taints it is given, not their union (its
# RegisterWithTaintsVar.Set replaces the list, pkg/util/flag): taints of --taints, rendered
# first, would be dropped by one in the operator's arguments.
_REGISTER_WITH_TAINTS = re.compile(r"(?:^|\s)--register-with-taints(?:[=\s]|$)")
_ENDPOINT = re.compile(
    r"https://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?"
)
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_NO_IPV6 = "Windows nodes cannot use IPv6"
# What user data may hold besides printable ASCII: tabs and line ends, in snippets only.
_SNIPPET_WHITESPACE = frozenset("\t\n\r")


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        # kubelet --register-with-taints syntax: <key>=<value>:<effect>, value optional
        return (
            f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"
        )


@dataclass(frozen=True)
class BootstrapSettings:
    """Everything Start-EKSBootstrap.ps1 is called with; only built through `bootstrap_settings`."""

    cluster_name: str
    endpoint: str | None
    ca_base64: str | None
    service_cidr: str | None
    dns_cluster_ip: str | None
    node_labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    kubelet_extra_args: str | None = None
    kube_proxy_extra_args: str | None = None
    excluded_snat_cidrs: tuple[str, ...] = ()
    pre_bootstrap: str | None = None
    post_bootstrap: str | None = None


def bootstrap_settings(
    *,
    cluster_name: str,
    endpoint: str | None = None,
    ca_base64: str | None = None,
    service_cidr: str | None = None,
    dns_cluster_ip: str | None = None,
    node_labels: tuple[tuple[str, str], ...] = (),
    taints: tuple[Taint, ...] = (),
    kubelet_extra_args: str | None = None,
    kube_proxy_extra_args: str | None = None,
    excluded_snat_cidrs: tuple[str, ...] = (),
    pre_bootstrap: str | None = None,
    post_bootstrap: str | None = None,
) -> BootstrapSettings:
    """Validates every value and fills -DNSClusterIP from the service CIDR as EKS does."""
    ClusterName(cluster_name)
    if (endpoint is None) != (ca_base64 is None):
        # Start-EKSBootstrap.ps1 takes -APIServerEndpoint and -Base64ClusterCA only together.
        missing = "ca" if ca_base64 is None else "endpoint"
        raise InvalidInputError(missing, "--endpoint and --ca go together; give both or neither")
    if endpoint is not None:
        validate_endpoint(endpoint)
    if ca_base64 is not None:
        validate_ca(ca_base64)
    network = parse_network(service_cidr, field="service-cidr") if service_cidr else None
    if network is not None and network.num_addresses < 16:
        raise InvalidInputError("service-cidr", f"{service_cidr} is too small for a cluster DNS IP")
    if dns_cluster_ip is not None:
        dns_ip = parse_address(dns_cluster_ip, field="dns-cluster-ip")
        if network is not None and dns_ip not in network:
            raise InvalidInputError(
                "dns-cluster-ip", f"{dns_ip} is not inside --service-cidr {network}"
            )
        dns_cluster_ip = str(dns_ip)
    elif network is not None:
        dns_cluster_ip = str(default_dns_cluster_ip(network))
    for key, value in node_labels:
        validate_node_label(key, value)
    if len({key for key, _ in node_labels}) != len(node_labels):
        raise InvalidInputError("node-labels", "a label key is given more than once")
    for taint in taints:
        validate_taint(taint)
    # Rendered as parsed: `10.0.0.0/255.0.0.0` becomes the `10.0.0.0/8` Go's ParseCIDR takes.
    snat_networks = tuple(
        str(parse_network(cidr, field="excluded-snat-cidrs")) for cidr in excluded_snat_cidrs
    )
    validate_argument_text(kubelet_extra_args, field="kubelet-extra-args")
    if taints and _REGISTER_WITH_TAINTS.search(kubelet_extra_args or ""):
        raise InvalidInputError(
            "taints",
            "--kubelet-extra-args has --register-with-taints too, and the kubelet keeps only "
            "the last one: give the taints in one place",
        )
    validate_argument_text(kube_proxy_extra_args, field="kube-proxy-extra-args")
    validate_snippet(pre_bootstrap, field="pre-bootstrap")
    validate_snippet(post_bootstrap, field="post-bootstrap")
    return BootstrapSettings(
        cluster_name=cluster_name,
        endpoint=endpoint,
        ca_base64=ca_base64,
        service_cidr=None if network is None else str(network),
        dns_cluster_ip=dns_cluster_ip,
        node_labels=tuple(node_labels),
        taints=tuple(taints),
        kubelet_extra_args=kubelet_extra_args,
        kube_proxy_extra_args=kube_proxy_extra_args,
        excluded_snat_cidrs=snat_networks,
        pre_bootstrap=pre_bootstrap,
        post_bootstrap=post_bootstrap,
    )


def default_dns_cluster_ip(network: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """EKS puts CoreDNS on the tenth address of the service CIDR (172.20.0.0/16 -> 172.20.0.10)."""
    return network.network_address + 10


def validate_endpoint(endpoint: str) -> None:
    match = _ENDPOINT.fullmatch(endpoint)
    if match is None:
        raise InvalidInputError(
            "endpoint", "must be an https:// URL with a host (and optional port) and nothing else"
        )
    host = match["host"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise InvalidInputError("endpoint", f"{host} is not a valid IPv6 address") from None
    elif len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise InvalidInputError("endpoint", f"{host!r} is not a valid host name")
    if match["port"] is not None and not 0 < int(match["port"]) < 65536:
        raise InvalidInputError("endpoint", f"port {match['port']} is out of range")


def validate_ca(ca_base64: str) -> None:
    """The cluster CA as DescribeCluster returns it: base64 of a PEM X.509 certificate."""
    if not _BASE64.fullmatch(ca_base64):
        raise InvalidInputError("ca", "must be base64 (A-Z, a-z, 0-9, +, /, =) with no spaces")
    try:
        pem = base64.b64decode(ca_base64, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInputError("ca", "does not decode to a PEM certificate") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise InvalidInputError("ca", "does not decode to a PEM certificate")
    try:
        # OpenSSL parses the X.509 structure; a PEM armour around garbage is refused here.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise InvalidInputError("ca", "is PEM but not a valid X.509 certificate") from None


def parse_network(value: str, *, field: str) -> ipaddress.IPv4Network:
    """An IPv4 CIDR. Windows nodes cannot use IPv6 (EKS user guide, windows-support.html: "You
    can't use IPv6 with Windows nodes"), and Start-EKSBootstrap.ps1 documents IPv4 CIDRs."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise InvalidInputError(field, f"{value!r} is not a valid CIDR ({error})") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise InvalidInputError(field, f"{value!r} is IPv6; {_NO_IPV6}")
    return network


def parse_address(value: str, *, field: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidInputError(field, f"{value!r} is not a valid IP address") from None
    if not isinstance(address, ipaddress.IPv4Address):
        raise InvalidInputError(field, f"{value!r} is IPv6; {_NO_IPV6}")
    return address


def validate_qualified_name(key: str, *, field: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        raise InvalidInputError(field, f"{key!r}: the prefix must be a DNS subdomain")
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        raise InvalidInputError(
            field,
            f"{key!r}: the name must be 1-63 characters of A-Z, a-z, 0-9, '-', '_', '.', "
            "starting and ending with a letter or digit",
        )


def validate_label_value(value: str, *, key: str, field: str) -> None:
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        raise InvalidInputError(
            field,
            f"{key}: value {value!r} must be at most 63 characters of A-Z, a-z, 0-9, '-', '_', "
            "'.', starting and ending with a letter or digit",
        )


def validate_node_label(key: str, value: str) -> None:
    validate_qualified_name(key, field="node-labels")
    validate_label_value(value, key=key, field="node-labels")
    prefix = key.rpartition("/")[0]
    restricted = any(
        prefix == domain or prefix.endswith("." + domain) for domain in ("kubernetes.io", "k8s.io")
    )
    allowed = key in _KUBELET_LABELS or any(
        prefix == ns or prefix.endswith("." + ns) for ns in _KUBELET_LABEL_NAMESPACES
    )
    if restricted and not allowed:
        raise InvalidInputError(
            "node-labels",
            f"{key}: the kubelet may not set this kubernetes.io/k8s.io label and refuses to start",
        )


def validate_taint(taint: Taint) -> None:
    validate_qualified_name(taint.key, field="taints")
    validate_label_value(taint.value, key=taint.key, field="taints")
    if taint.effect not in TAINT_EFFECTS:
        raise InvalidInputError(
            "taints",
            f"{taint.key}: effect {taint.effect!r} is not one of {', '.join(TAINT_EFFECTS)}",
        )


def validate_argument_text(value: str | None, *, field: str) -> None:
    """Free-form arguments for the kubelet or kube-proxy, passed as one quoted string."""
    if value is None:
        return
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise InvalidInputError(field, "must be one line without control characters")
    _refuse_non_ascii(value, field=field)
    if _EC2LAUNCH_TAG.search(value):
        raise InvalidInputError(
            field, "must not contain an EC2Launch user-data tag such as <powershell>"
        )


def validate_snippet(script: str | None, *, field: str) -> None:
    """Operator PowerShell placed before or after the bootstrap call, verbatim."""
    if script is None:
        return
    if "\x00" in script:
        raise InvalidInputError(field, "contains a NUL character")
    _refuse_non_ascii(script, field=field)
    if _EC2LAUNCH_TAG.search(script):
        raise InvalidInputError(
            field, "must not contain an EC2Launch user-data tag such as </powershell>"
        )


def _refuse_non_ascii(text: str, *, field: str) -> None:
    """User data must be ASCII. Windows PowerShell 5.1 reads a script file without a byte order
    mark in the ANSI code page, where the UTF-8 bytes of a character such as `Ñ` read as `Ã‘`:
    a typographic quote that ends the string it was in (PowerShell Language Specification 3.0,
    2.3.5.2), so the rest of the value would run as code. [char]0x00D1 is the portable way."""
    for line_number, line in enumerate(text.split("\n"), start=1):
        for column, ch in enumerate(line, start=1):
            if " " <= ch <= "~" or ch in _SNIPPET_WHITESPACE:
                continue
            where = (
                f"line {line_number}, column {column}" if "\n" in text else f"character {column}"
            )
            if ch.isascii():
                raise InvalidInputError(
                    field, f"has a control character U+{ord(ch):04X} at {where}"
                )
            raise InvalidInputError(
                field,
                f"U+{ord(ch):04X} at {where} is not ASCII: Windows PowerShell may read user data "
                f"in the ANSI code page, where it can end a quoted string; leave it out or write "
                f"[char]0x{ord(ch):04X}",
            )


def parse_node_labels(text: str) -> tuple[tuple[str, str], ...]:
    """`k=v,k2=v2` as the kubelet's --node-labels takes it."""
    labels = []
    for item in _split_list(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInputError("node-labels", f"{item!r} is not key=value")
        labels.append((key, value))
    return tuple(labels)


def parse_taints(text: str) -> tuple[Taint, ...]:
    """`key=value:Effect,key2:Effect` as the kubelet's --register-with-taints takes it."""
    taints = []
    for item in _split_list(text):
        spec, sep, effect = item.rpartition(":")
        if not sep:
            raise InvalidInputError("taints", f"{item!r} is not key[=value]:Effect")
        key, _, value = spec.partition("=")
        taints.append(Taint(key=key, value=value, effect=effect))
    return tuple(taints)


def parse_cidr_list(text: str, *, field: str) -> tuple[str, ...]:
    """The CIDRs in canonical form, or refused naming the first bad one."""
    return tuple(str(parse_network(item, field=field)) for item in _split_list(text))


def _split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
