"""Validation of bootstrap settings: every refusal names the option at fault."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.errors import InvalidInputError
from winnodes.userdata import Taint, bootstrap_settings
from winnodes.userdata.settings import parse_cidr_list, parse_node_labels, parse_taints

CA = (Path(__file__).parents[2] / "golden" / "userdata" / "test-ca.b64").read_text().strip()
ENDPOINT = "https://ABCDEF0123456789.gr7.us-east-1.eks.amazonaws.com"


def refused(field: str, **kwargs: object) -> InvalidInputError:
    kwargs.setdefault("cluster_name", "prod")
    with pytest.raises(InvalidInputError) as raised:
        bootstrap_settings(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field, raised.value
    return raised.value


@pytest.mark.parametrize("name", ["", "-lead", "_lead", "has space", "dot.ted", "é", "a" * 101])
def test_cluster_names_outside_the_eks_rule_are_refused(name: str) -> None:
    refused("cluster-name", cluster_name=name)


@pytest.mark.parametrize("name", ["a", "0", "prod-win_2", "A" * 100])
def test_cluster_names_within_the_eks_rule_are_accepted(name: str) -> None:
    assert bootstrap_settings(cluster_name=name).cluster_name == name


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://example.com",
        "https://",
        "https://example.com/",
        "https://example.com/path",
        "https://example.com?x=1",
        "https://user@example.com",
        "https://example.com:0",
        "https://example.com:70000",
        "https://exa mple.com",
        "https://-bad.example.com",
        "https://[zz::1]",
        " https://example.com",
        "https://example.com\n",
    ],
)
def test_endpoint_must_be_https_with_a_host_and_nothing_else(endpoint: str) -> None:
    refused("endpoint", endpoint=endpoint, ca_base64=CA)


@pytest.mark.parametrize(
    "endpoint", [ENDPOINT, "https://127.0.0.1:6443", "https://[fd00::1]:443", "https://localhost"]
)
def test_valid_endpoints_are_accepted(endpoint: str) -> None:
    assert (
        bootstrap_settings(cluster_name="c", endpoint=endpoint, ca_base64=CA).endpoint == endpoint
    )


def test_endpoint_and_ca_go_together() -> None:
    refused("ca", endpoint=ENDPOINT)
    refused("endpoint", ca_base64=CA)


@pytest.mark.parametrize(
    "ca",
    [
        "not base64!",
        base64.b64encode(b"just text").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
        base64.b64encode(
            b"-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n"
        ).decode(),
        CA[:-8],
        CA[:40] + "\n" + CA[40:],
    ],
)
def test_ca_must_be_base64_of_a_pem_x509_certificate(ca: str) -> None:
    refused("ca", endpoint=ENDPOINT, ca_base64=ca)


def test_dns_cluster_ip_defaults_to_the_tenth_address_of_the_service_cidr() -> None:
    assert bootstrap_settings(cluster_name="c", service_cidr="172.20.0.0/16").dns_cluster_ip == (
        "172.20.0.10"
    )
    assert bootstrap_settings(cluster_name="c", service_cidr="10.100.0.0/16").dns_cluster_ip == (
        "10.100.0.10"
    )
    assert bootstrap_settings(cluster_name="c", service_cidr="fd00:10::/108").dns_cluster_ip == (
        "fd00:10::a"
    )


def test_explicit_dns_cluster_ip_must_lie_inside_the_service_cidr() -> None:
    error = refused("dns-cluster-ip", service_cidr="172.20.0.0/16", dns_cluster_ip="10.0.0.10")
    assert "172.20.0.0/16" in error.reason
    settings = bootstrap_settings(
        cluster_name="c", service_cidr="172.20.0.0/16", dns_cluster_ip="172.20.1.53"
    )
    assert settings.dns_cluster_ip == "172.20.1.53"


@pytest.mark.parametrize("cidr", ["172.20.0.1/16", "172.20.0.0/33", "nonsense", "10.0.0.0/29"])
def test_invalid_service_cidrs_are_refused(cidr: str) -> None:
    refused("service-cidr", service_cidr=cidr)


def test_invalid_dns_ip_and_snat_cidrs_are_refused() -> None:
    refused("dns-cluster-ip", dns_cluster_ip="300.1.1.1")
    refused("excluded-snat-cidrs", excluded_snat_cidrs=("10.0.0.0/8", "10.0.0.1/8"))
    with pytest.raises(InvalidInputError, match="excluded-snat-cidrs"):
        parse_cidr_list("10.0.0.0/8,bogus", field="excluded-snat-cidrs")


@pytest.mark.parametrize(
    "labels",
    [
        "novalue",
        "=v",
        "-bad=v",
        "k=-bad",
        "k=" + "v" * 64,
        "Bad_Prefix.example/k=v",
        "/k=v",
        "a=1,a=2",
        "kubernetes.io/role=windows",
        "node-role.kubernetes.io/worker=",
    ],
)
def test_node_labels_follow_kubernetes_syntax_and_kubelet_rules(labels: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        bootstrap_settings(cluster_name="c", node_labels=parse_node_labels(labels))
    assert raised.value.field == "node-labels"


def test_kubelet_may_set_its_own_label_namespaces() -> None:
    labels = parse_node_labels(
        "node.kubernetes.io/pool=win,kubelet.kubernetes.io/x=y,example.com/team=a,app="
    )
    assert bootstrap_settings(cluster_name="c", node_labels=labels).node_labels == labels


@pytest.mark.parametrize(
    "taints", ["os=windows", "os=windows:Sometimes", "-bad:NoSchedule", "k=bad value:NoExecute"]
)
def test_taints_follow_kubernetes_syntax(taints: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        bootstrap_settings(cluster_name="c", taints=parse_taints(taints))
    assert raised.value.field == "taints"


def test_taints_parse_with_and_without_values() -> None:
    assert parse_taints("os=windows:NoSchedule, dedicated:NoExecute") == (
        Taint("os", "windows", "NoSchedule"),
        Taint("dedicated", "", "NoExecute"),
    )


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"\A[a-z0-9]([-a-z0-9_.]{0,10}[a-z0-9])?\Z"),
            st.from_regex(r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?)?\Z"),
        ),
        max_size=5,
        unique_by=lambda kv: kv[0],
    )
)
def test_node_labels_parse_back_from_the_kubelet_syntax(labels: list[tuple[str, str]]) -> None:
    text = ",".join(f"{k}={v}" for k, v in labels)
    assert parse_node_labels(text) == tuple(labels)


@pytest.mark.parametrize("field", ["pre_bootstrap", "post_bootstrap"])
def test_snippets_may_not_close_the_powershell_block(field: str) -> None:
    error = refused(field.replace("_", "-"), **{field: "Write-Host hi\n</powershell>\n"})
    assert "EC2Launch" in error.reason


def test_snippets_are_otherwise_verbatim_powershell() -> None:
    snippet = "if ($x -lt 3) { Write-Host 'it''s fine' }\n"
    assert bootstrap_settings(cluster_name="c", pre_bootstrap=snippet).pre_bootstrap == snippet
