"""Validation of bootstrap settings: every refusal names the option at fault."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path
from typing import TypedDict, Unpack

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.helpers.powershell import bootstrap_call_arguments
from winnodes.errors import InvalidInputError
from winnodes.userdata import (
    BootstrapSettings,
    Taint,
    bootstrap_settings,
    encode_userdata,
    render_userdata,
)
from winnodes.userdata.render import USERDATA_LIMIT_BYTES
from winnodes.userdata.settings import parse_cidr_list, parse_node_labels, parse_taints

CA = (Path(__file__).parents[2] / "golden" / "userdata" / "test-ca.b64").read_text().strip()
ENDPOINT = "https://ABCDEF0123456789.gr7.us-east-1.eks.amazonaws.com"


class _Settings(TypedDict, total=False):
    """The keyword arguments of bootstrap_settings but the cluster name."""

    endpoint: str | None
    ca_base64: str | None
    service_cidr: str | None
    dns_cluster_ip: str | None
    node_labels: tuple[tuple[str, str], ...]
    taints: tuple[Taint, ...]
    kubelet_extra_args: str | None
    kube_proxy_extra_args: str | None
    excluded_snat_cidrs: tuple[str, ...]
    pre_bootstrap: str | None
    post_bootstrap: str | None


def refused(
    field: str, *, cluster_name: str = "prod", **kwargs: Unpack[_Settings]
) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as raised:
        bootstrap_settings(cluster_name=cluster_name, **kwargs)
    assert raised.value.field == field, raised.value
    return raised.value


def test_the_cluster_name_is_checked_with_the_eks_rule() -> None:
    # The rule itself is specified in tests/unit/models/test_identifiers.py.
    refused("cluster-name", cluster_name="dot.ted")
    assert bootstrap_settings(cluster_name="prod-win_2").cluster_name == "prod-win_2"


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


# EKS user guide, windows-support.html: "You can't use IPv6 with Windows nodes". A zone ID
# (`%...`) is IPv6 only, and would carry any text into the script as part of an address.
@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("service-cidr", {"service_cidr": "fd00:10::/108"}),
        ("dns-cluster-ip", {"dns_cluster_ip": "fd00:10::a"}),
        ("dns-cluster-ip", {"dns_cluster_ip": "fe80::a%1;Write-Output PWNED;#"}),
        ("excluded-snat-cidrs", {"excluded_snat_cidrs": ("10.0.0.0/8", "fd00::/8")}),
        ("excluded-snat-cidrs", {"excluded_snat_cidrs": ("fd00::%<persist>true/8",)}),
    ],
)
def test_ipv6_addresses_are_refused_naming_the_option(field: str, given: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError) as raised:
        bootstrap_settings(cluster_name="c", **given)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert raised.value.reason.endswith("is IPv6; Windows nodes cannot use IPv6")


def test_cidrs_are_rendered_in_cidr_notation() -> None:
    # Go's net.ParseCIDR, which the node's components use, takes only the prefix length.
    settings = bootstrap_settings(
        cluster_name="c",
        service_cidr="172.20.0.0/255.255.0.0",
        excluded_snat_cidrs=("10.0.0.0/0.255.255.255", "192.168.0.0/16"),
    )
    assert settings.service_cidr == "172.20.0.0/16"
    assert settings.dns_cluster_ip == "172.20.0.10"
    assert settings.excluded_snat_cidrs == ("10.0.0.0/8", "192.168.0.0/16")


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


# Kubernetes syntax (k8s.io/apimachinery validation): a qualified name as key, a label value.
LABEL_NAMES = st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?\Z")
QUALIFIED_NAMES = st.builds(
    lambda prefix, name: f"{prefix}/{name}" if prefix else name,
    st.none() | st.from_regex(r"\A[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}\Z"),
    LABEL_NAMES,
)
TAINTS = st.builds(
    Taint,
    key=QUALIFIED_NAMES,
    value=st.just("") | LABEL_NAMES,
    effect=st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
)
SEPARATORS = st.sampled_from([",", ", ", " , ", ",,"])  # as people type lists, doubled commas too


@given(st.lists(TAINTS, max_size=4), SEPARATORS)
def test_taints_parse_back_from_the_kubelet_syntax_they_print_as(
    taints: list[Taint], separator: str
) -> None:
    text = separator.join(str(taint) for taint in taints)
    assert parse_taints(text) == tuple(taints)
    assert bootstrap_settings(cluster_name="c", taints=parse_taints(text)).taints == tuple(taints)


@given(st.text(alphabet=st.sampled_from("ab=:, -N"), max_size=30))
@example("k=:NoSchedule")  # an empty value prints without the `=`
@example("a:b:NoSchedule")  # the effect is after the last colon
def test_parsed_taints_print_as_text_that_parses_to_them_again(text: str) -> None:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if any(":" not in item for item in items):
        with pytest.raises(InvalidInputError) as raised:
            parse_taints(text)
        assert raised.value.field == "taints"
        return
    taints = parse_taints(text)
    assert len(taints) == len(items)
    assert parse_taints(",".join(str(taint) for taint in taints)) == taints
    for item, taint in zip(items, taints, strict=True):
        # The effect follows the last colon. Printed back, a taint is the item it came from; only
        # an empty value loses its `=`.
        spec, _, effect = item.rpartition(":")
        assert taint.effect == effect
        assert str(taint) == (spec if taint.value else spec.replace("=", "", 1)) + ":" + effect


NETWORKS = st.one_of(
    st.builds(
        lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
        st.ip_addresses(v=4),
        st.integers(0, 32),
    ),
    st.builds(
        lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
        st.ip_addresses(v=6),
        st.integers(0, 128),
    ),
)


@st.composite
def cidr_items(draw: st.DrawFn) -> tuple[str, str | None]:
    """A CIDR as someone would write it, maybe spoiled, and the form it is accepted in (None:
    it must be refused). IPv6 is refused: Windows nodes cannot use it."""
    network = draw(NETWORKS)
    canonical = str(network) if network.version == 4 else None
    match draw(
        st.sampled_from(["as-is", "as-is", "upper", "netmask", "host-bits", "prefix", "no-prefix"])
    ):
        case "as-is":
            return str(network), canonical
        case "upper":
            return str(network).upper(), canonical
        case "netmask" if network.version == 4:
            return f"{network.network_address}/{network.netmask}", canonical
        case "host-bits" if network.num_addresses > 1:  # an address inside, not the network
            return f"{network.network_address + 1}/{network.prefixlen}", None
        case "prefix":
            return f"{network.network_address}/{network.max_prefixlen + 1}", None
        case "no-prefix":
            return f"{network.network_address}/", None
    return str(network), canonical


@given(st.lists(cidr_items(), max_size=4), SEPARATORS)
def test_a_cidr_list_is_the_cidrs_in_cidr_notation_or_refused_naming_the_first_bad_one(
    items: list[tuple[str, str | None]], separator: str
) -> None:
    text = separator.join(cidr for cidr, _ in items)
    bad = [cidr for cidr, accepted in items if accepted is None]
    if bad:
        with pytest.raises(InvalidInputError) as raised:
            parse_cidr_list(text, field="excluded-snat-cidrs")
        assert raised.value.field == "excluded-snat-cidrs"
        assert repr(bad[0]) in raised.value.reason
    else:
        assert parse_cidr_list(text, field="excluded-snat-cidrs") == tuple(
            accepted for _, accepted in items
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
    closing = "Write-Host hi\n</powershell>\n"
    pre, post = (closing, None) if field == "pre_bootstrap" else (None, closing)
    error = refused(field.replace("_", "-"), pre_bootstrap=pre, post_bootstrap=post)
    assert "EC2Launch" in error.reason


def test_snippets_are_otherwise_verbatim_powershell() -> None:
    snippet = "if ($x -lt 3) { Write-Host 'it''s fine' }\n"
    assert bootstrap_settings(cluster_name="c", pre_bootstrap=snippet).pre_bootstrap == snippet


# A URL port is a 16-bit TCP port, 1-65535 (RFC 3986 section 3.2.3 leaves the range to the
# scheme; TCP's port field is 16 bits and 0 is reserved).
@pytest.mark.parametrize("port", ["1", "443", "6443", "65535"])
def test_an_endpoint_port_from_1_to_65535_is_kept(port: str) -> None:
    endpoint = f"https://example.com:{port}"
    settings = bootstrap_settings(cluster_name="c", endpoint=endpoint, ca_base64=CA)
    assert settings.endpoint == endpoint


@pytest.mark.parametrize("port", ["0", "00000", "65536", "99999"])
def test_an_endpoint_port_outside_1_to_65535_is_refused_naming_it(port: str) -> None:
    error = refused("endpoint", endpoint=f"https://example.com:{port}", ca_base64=CA)
    assert error.reason == f"port {port} is out of range"


@pytest.mark.parametrize("port", ["", "100000", "0443x", "-1"])
def test_an_endpoint_port_that_is_not_1_to_5_digits_is_not_a_url_we_take(port: str) -> None:
    error = refused("endpoint", endpoint=f"https://example.com:{port}", ca_base64=CA)
    assert error.reason == (
        "must be an https:// URL with a host (and optional port) and nothing else"
    )


# A DNS name is at most 253 characters written out, each label 1-63 (RFC 1035 section 2.3.4;
# RFC 1123 section 2.1 lets a label start with a digit).
HOST_253 = ".".join(["a" * 63] * 3 + ["b" * 61])


@pytest.mark.parametrize(
    "host", [HOST_253, "a" * 63 + ".com", "0", "a-b.example.com", "ABC.Example.COM"]
)
def test_an_endpoint_host_within_the_dns_limits_is_kept(host: str) -> None:
    endpoint = f"https://{host}:443"
    settings = bootstrap_settings(cluster_name="c", endpoint=endpoint, ca_base64=CA)
    assert settings.endpoint == endpoint


@pytest.mark.parametrize(
    "host", [HOST_253 + "b", "a" * 64 + ".com", "a-.example.com", "a..b", "example.com."]
)
def test_an_endpoint_host_beyond_the_dns_limits_is_refused_naming_it(host: str) -> None:
    error = refused("endpoint", endpoint=f"https://{host}", ca_base64=CA)
    assert error.reason == f"{host!r} is not a valid host name"


def test_an_ipv6_endpoint_must_be_a_valid_address_in_brackets() -> None:
    error = refused("endpoint", endpoint="https://[fd00::1::2]:443", ca_base64=CA)
    assert error.reason == "[fd00::1::2] is not a valid IPv6 address"
    endpoint = "https://[::ffff:10.0.0.1]:65535"
    assert bootstrap_settings(cluster_name="c", endpoint=endpoint, ca_base64=CA).endpoint == (
        endpoint
    )


# Every string option, the value it is valid with, and the option a refusal names.
VALID_TEXT = {
    "cluster_name": ("prod", "cluster-name"),
    "endpoint": (ENDPOINT, "endpoint"),
    "ca_base64": (CA, "ca"),
    "service_cidr": ("172.20.0.0/16", "service-cidr"),
    "dns_cluster_ip": ("172.20.0.53", "dns-cluster-ip"),
    "label_key": ("example.com/team", "node-labels"),
    "label_value": ("win", "node-labels"),
    "taint_key": ("os", "taints"),
    "taint_value": ("windows", "taints"),
    "taint_effect": ("NoSchedule", "taints"),
    "snat_cidr": ("10.0.0.0/8", "excluded-snat-cidrs"),
    "kubelet_extra_args": ("--v=2", "kubelet-extra-args"),
    "kube_proxy_extra_args": ("--v=2", "kube-proxy-extra-args"),
    "pre_bootstrap": ("Write-Host before\n", "pre-bootstrap"),
    "post_bootstrap": ("Write-Host after\n", "post-bootstrap"),
}


def settings_from(text: dict[str, str]) -> BootstrapSettings:
    return bootstrap_settings(
        cluster_name=text["cluster_name"],
        endpoint=text["endpoint"],
        ca_base64=text["ca_base64"],
        service_cidr=text["service_cidr"],
        dns_cluster_ip=text["dns_cluster_ip"],
        node_labels=((text["label_key"], text["label_value"]),),
        taints=(Taint(text["taint_key"], text["taint_value"], text["taint_effect"]),),
        excluded_snat_cidrs=(text["snat_cidr"],),
        kubelet_extra_args=text["kubelet_extra_args"],
        kube_proxy_extra_args=text["kube_proxy_extra_args"],
        pre_bootstrap=text["pre_bootstrap"],
        post_bootstrap=text["post_bootstrap"],
    )


def test_the_valid_text_of_every_option_renders() -> None:
    settings = settings_from({name: value for name, (value, _) in VALID_TEXT.items()})
    assert "Write-Host after" in render_userdata(settings)


# A NUL ends a string for Windows APIs, and a lone surrogate (U+D800-U+DFFF) is not text at all:
# UTF-8, which user data is sent as, cannot encode it (RFC 3629 section 3). Both must be refused
# by validation, naming the option, rather than rendered or left to fail at encoding.
NOT_TEXT = st.just("\x00") | st.integers(0xD800, 0xDFFF).map(chr)


@given(name=st.sampled_from(sorted(VALID_TEXT)), bad=NOT_TEXT, data=st.data())
def test_a_nul_or_lone_surrogate_anywhere_in_any_option_is_refused_naming_it(
    name: str, bad: str, data: st.DataObject
) -> None:
    text = {option: value for option, (value, _) in VALID_TEXT.items()}
    at = data.draw(st.integers(0, len(text[name])), label="at")
    text[name] = text[name][:at] + bad + text[name][at:]
    with pytest.raises(InvalidInputError) as raised:
        settings_from(text)
    assert raised.value.field == VALID_TEXT[name][1]


NOT_ASCII = (
    "U+{code} at {where} is not ASCII: Windows PowerShell may read user data in the ANSI code "
    "page, where it can end a quoted string; leave it out or write [char]0x{code}"
)


@pytest.mark.parametrize("field", ["pre_bootstrap", "post_bootstrap"])
@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("Write-Host a\x00b\n", "contains a NUL character"),
        ("\x00", "contains a NUL character"),
        ("Write-Host '\ud800'\n", NOT_ASCII.format(code="D800", where="line 1, column 13")),
        ("\udfff", NOT_ASCII.format(code="DFFF", where="character 1")),
        # A pair of surrogate code points is still two lone surrogates in a Python string.
        ("\ud83d\ude00", NOT_ASCII.format(code="D83D", where="character 1")),
        ("# Z\u00fcrich\r\n", NOT_ASCII.format(code="00FC", where="line 1, column 4")),
        (
            "$a = 1\nWrite-Output 'joined \u2713'\n",
            NOT_ASCII.format(code="2713", where="line 2, column 22"),
        ),
        ("Write-Host a\x1bb\n", "has a control character U+001B at line 1, column 13"),
    ],
)
def test_a_snippet_that_is_not_ascii_text_is_refused_naming_it(
    field: str, snippet: str, reason: str
) -> None:
    pre, post = (snippet, None) if field == "pre_bootstrap" else (None, snippet)
    error = refused(field.replace("_", "-"), pre_bootstrap=pre, post_bootstrap=post)
    assert error.reason == reason


@pytest.mark.parametrize("text", ["--v=2\x00", "\ud800", "--node-ip=\udc00"])
def test_argument_text_with_a_nul_or_lone_surrogate_is_refused_naming_it(text: str) -> None:
    error = refused("kubelet-extra-args", kubelet_extra_args=text)
    assert error.reason == "must be one line without control characters"


ANY_TEXT = st.text(alphabet=st.characters() | NOT_TEXT | st.sampled_from("\n\r\t<>'"), max_size=40)


@pytest.mark.parametrize("option", ["kube_proxy_extra_args", "post_bootstrap"])
@given(text=ANY_TEXT)
@example(text="0'0")  # a quote is doubled in a PowerShell literal: not verbatim in the script
@example(text="")
def test_whatever_is_accepted_renders_to_utf8_user_data_that_carries_it(
    option: str, text: str
) -> None:
    try:
        if option == "post_bootstrap":
            settings = bootstrap_settings(cluster_name="c", post_bootstrap=text)
        else:
            settings = bootstrap_settings(cluster_name="c", kube_proxy_extra_args=text)
    except InvalidInputError as error:
        assert error.field == option.replace("_", "-")
        return
    script = render_userdata(settings)
    assert script.isascii()  # read the same in any code page Windows PowerShell may use
    assert base64.b64decode(encode_userdata(script)).decode("utf-8") == script
    if option == "post_bootstrap":
        assert text.rstrip("\n") in script  # a snippet goes in verbatim
    else:
        # An argument goes in as a PowerShell string literal: read back, it is the text given.
        given = bootstrap_call_arguments(script).get("KubeProxyExtraArgs")
        assert given == ([text] if text else None)  # none given, none passed on


# Label syntax: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
# A value is empty or at most 63 characters, beginning and ending with an alphanumeric, with
# dashes, underscores, dots and alphanumerics between. A key is an optional DNS-subdomain prefix
# (at most 253 characters) and `/`, then a name with the value's rules but 1-63 characters.
NAME_RULE = (
    "the name must be 1-63 characters of A-Z, a-z, 0-9, '-', '_', '.', "
    "starting and ending with a letter or digit"
)
PREFIX_253 = ".".join(["a" * 63] * 3 + ["b" * 61])


def value_rule(key: str, value: str) -> str:
    return (
        f"{key}: value {value!r} must be at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.', "
        "starting and ending with a letter or digit"
    )


@pytest.mark.parametrize(
    "value", ["", "a", "Z9", "ab", "a-b", "a_b", "a.b", "a-_.z", "v" * 63, "0" + "-" * 61 + "0"]
)
def test_a_label_value_of_at_most_63_characters_alphanumeric_at_both_ends_is_kept(
    value: str,
) -> None:
    labels = (("team", value),)
    assert bootstrap_settings(cluster_name="c", node_labels=labels).node_labels == labels


@pytest.mark.parametrize(
    "value", ["v" * 64, "-a", "a-", "_a", "a_", ".a", "a.", "-", "a b", "a/b", "é", "a:b"]
)
def test_a_label_value_beyond_the_kubernetes_rule_is_refused_naming_it(value: str) -> None:
    error = refused("node-labels", node_labels=(("team", value),))
    assert error.reason == value_rule("team", value)


@pytest.mark.parametrize(
    "key",
    ["a", "k" * 63, "a-_.z", f"{PREFIX_253}/k", "example.com/" + "k" * 63, "a-b.c0/x", "0/x"],
)
def test_a_label_key_with_a_dns_subdomain_prefix_and_a_63_character_name_is_kept(
    key: str,
) -> None:
    labels = ((key, "v"),)
    assert bootstrap_settings(cluster_name="c", node_labels=labels).node_labels == labels


@pytest.mark.parametrize("key", ["k" * 64, "example.com/" + "k" * 64, "-k", "k-", "k_", ".k", "a/"])
def test_a_label_key_name_beyond_the_kubernetes_rule_is_refused_naming_it(key: str) -> None:
    error = refused("node-labels", node_labels=((key, "v"),))
    assert error.reason == f"{key!r}: {NAME_RULE}"


@pytest.mark.parametrize(
    "key",
    [
        f"{PREFIX_253}b/k",
        "Example.com/k",
        "ex_ample.com/k",
        "-a.com/k",
        "a-.com/k",
        "a.-b.com/k",
        "a.b-.com/k",
        "a.B.com/k",
        "a..com/k",
        ".a.com/k",
        "a.com./k",
        "a/b/c",
        "/k",
    ],
)
def test_a_label_key_prefix_that_is_not_a_dns_subdomain_is_refused_naming_it(key: str) -> None:
    error = refused("node-labels", node_labels=((key, "v"),))
    assert error.reason == f"{key!r}: the prefix must be a DNS subdomain"


@pytest.mark.parametrize(
    ("key", "value"),
    [("k" * 64, "v"), ("k", "v" * 64), ("-k", "v"), ("k", "v-"), ("Bad.io/k", "v")],
)
def test_taint_keys_and_values_follow_the_label_rules_naming_taints(key: str, value: str) -> None:
    error = refused("taints", taints=(Taint(key, value, "NoSchedule"),))
    assert str(key) in error.reason


# The kubelet refuses a kubernetes.io or k8s.io label (prefix equal to, or a subdomain of,
# either) unless it is one of its own: https://kubernetes.io/docs/reference/labels-annotations-taints/
# and https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/ (--node-labels).
@pytest.mark.parametrize(
    "key",
    [
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "kubernetes.io/hostname",
        "node.kubernetes.io/instance-type",
        "node.kubernetes.io/windows-build",
        "kubelet.kubernetes.io/anything",
        "pool.node.kubernetes.io/x",
        "a.kubelet.kubernetes.io/x",
        "notkubernetes.io/x",
        "k8s.io.example.com/x",
        "mynode.kubernetes.io.example/x",
    ],
)
def test_kubelet_labels_and_labels_outside_kubernetes_io_are_kept(key: str) -> None:
    labels = ((key, "us-east-1a"),)
    assert bootstrap_settings(cluster_name="c", node_labels=labels).node_labels == labels


@pytest.mark.parametrize(
    "key",
    [
        "kubernetes.io/x",
        "k8s.io/x",
        "sub.k8s.io/x",
        "node-role.kubernetes.io/worker",
        "topology.kubernetes.io/zonex",
        "topology.kubernetes.io/rack",
        "mynode.kubernetes.io/x",
        "node.k8s.io/x",
    ],
)
def test_other_kubernetes_io_and_k8s_io_labels_are_refused_naming_them(key: str) -> None:
    error = refused("node-labels", node_labels=((key, "v"),))
    assert error.reason == (
        f"{key}: the kubelet may not set this kubernetes.io/k8s.io label and refuses to start"
    )


def test_a_label_key_given_twice_is_refused_even_with_the_same_value() -> None:
    error = refused("node-labels", node_labels=(("team", "a"), ("team", "a")))
    assert error.reason == "a label key is given more than once"


@given(LABEL_NAMES, st.integers(1, 63))
def test_any_label_name_up_to_63_characters_is_a_key_and_a_value_longer_is_neither(
    name: str, length: int
) -> None:
    fitted = (name * 63)[:length].rstrip("-_.") or "a"
    labels = ((fitted, fitted),)
    assert bootstrap_settings(cluster_name="c", node_labels=labels).node_labels == labels
    longer = fitted + "x" * (64 - len(fitted))
    refused("node-labels", node_labels=((longer, "v"),))
    refused("node-labels", node_labels=(("k", longer),))


@pytest.mark.parametrize(
    ("given", "option"),
    [
        ({"pre_bootstrap": "# " + "x" * 16_000 + "\n"}, "pre-bootstrap"),
        (
            {"pre_bootstrap": "# a\n", "post_bootstrap": "# " + "x" * 16_000 + "\n"},
            "post-bootstrap",
        ),
        ({"kubelet_extra_args": "--v=2 " * 2_700}, "kubelet-extra-args"),
        (
            {"node_labels": tuple((f"example.com/label-{i}", "v" * 60) for i in range(200))},
            "node-labels",
        ),
        ({"taints": tuple(Taint(f"k{i}", "v" * 60, "NoSchedule") for i in range(250))}, "taints"),
    ],
)
def test_user_data_over_ec2s_16_kb_is_refused_naming_the_longest_option(
    given: _Settings, option: str
) -> None:
    settings = bootstrap_settings(cluster_name="c", **given)
    with pytest.raises(InvalidInputError) as raised:
        render_userdata(settings, wrapper=False)
    assert raised.value.field == option
    assert raised.value.reason.endswith("bytes; EC2 takes at most 16384")


def test_user_data_of_exactly_16_kb_renders() -> None:
    short = render_userdata(bootstrap_settings(cluster_name="c", pre_bootstrap="#\n"))
    room = USERDATA_LIMIT_BYTES - len(short.encode())
    script = render_userdata(bootstrap_settings(cluster_name="c", pre_bootstrap="#" * (room + 1)))
    assert len(script.encode()) == USERDATA_LIMIT_BYTES


@pytest.mark.parametrize(
    "extra",
    ["--register-with-taints=a=b:NoSchedule", "--v=2 --register-with-taints a=b:NoExecute"],
)
def test_taints_given_twice_are_refused_as_the_kubelet_would_keep_one(extra: str) -> None:
    taints = parse_taints("os=windows:NoSchedule")
    error = refused("taints", taints=taints, kubelet_extra_args=extra)
    assert "--register-with-taints" in error.reason


def test_taints_in_the_kubelet_arguments_alone_are_the_operators_to_give() -> None:
    settings = bootstrap_settings(
        cluster_name="prod", kubelet_extra_args="--register-with-taints=a=b:NoSchedule"
    )
    assert settings.kubelet_extra_args == "--register-with-taints=a=b:NoSchedule"
    assert bootstrap_settings(
        cluster_name="prod", taints=parse_taints("a=b:NoSchedule"), kubelet_extra_args="--v=2"
    ).taints
