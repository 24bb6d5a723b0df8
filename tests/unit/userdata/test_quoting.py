"""Quoting is a security boundary: whatever is accepted reaches Start-EKSBootstrap.ps1 exactly as
given, and nothing can end the quoted string, the bootstrap line or the <powershell> block."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.helpers.powershell import (
    SINGLE_QUOTE_CHARACTERS,
    bootstrap_call_arguments,
    read_verbatim_string,
)
from winnodes.errors import InvalidInputError
from winnodes.userdata import Taint, bootstrap_settings, encode_userdata, render_userdata
from winnodes.userdata.powershell import quote

CA = (Path(__file__).parents[2] / "golden" / "userdata" / "test-ca.b64").read_text().strip()
QUOTES = "".join(sorted(SINGLE_QUOTE_CHARACTERS))

cluster_names = st.from_regex(r"\A[0-9A-Za-z][A-Za-z0-9\-_]{0,99}\Z")
host_labels = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?\Z")
endpoints = st.builds(
    lambda labels, port: "https://" + ".".join(labels) + (f":{port}" if port else ""),
    st.lists(host_labels, min_size=1, max_size=5),
    st.one_of(st.none(), st.integers(1, 65535)),
)
service_cidrs = st.builds(
    lambda address, prefix: str(ipaddress.ip_network(f"{address}/{prefix}", strict=False)),
    st.ip_addresses(v=4),
    st.integers(8, 28),
)
label_names = st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?\Z")
label_keys = st.builds(
    lambda prefix, name: f"{prefix}/{name}" if prefix else name,
    st.one_of(st.none(), st.from_regex(r"\A[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}\Z")),
    label_names,
)
label_values = st.one_of(st.just(""), label_names)
# Free text biased towards the characters that matter: every quote character PowerShell knows.
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(QUOTES + '`$"<>;&|(){}- =/'), st.characters()),
    max_size=60,
)


@given(st.text(alphabet=st.one_of(st.sampled_from(QUOTES), st.characters())))
@example("'; Remove-Item C:\\ -Recurse; '")
@example("\u2019; whoami; \u2018")
def test_quote_reads_back_as_exactly_the_value(value: str) -> None:
    literal = quote(value)
    assert read_verbatim_string(literal, 0) == (value, len(literal))


@given(
    cluster=cluster_names,
    endpoint=endpoints,
    service_cidr=service_cidrs,
    labels=st.dictionaries(label_keys, label_values, max_size=3),
    taint_effect=st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
    kubelet_args=st.one_of(st.none(), hostile_text),
    kube_proxy_args=st.one_of(st.none(), hostile_text),
)
def test_rendered_arguments_are_exactly_the_values_given(
    cluster: str,
    endpoint: str,
    service_cidr: str,
    labels: dict[str, str],
    taint_effect: str,
    kubelet_args: str | None,
    kube_proxy_args: str | None,
) -> None:
    taint = Taint(key="os", value="windows", effect=taint_effect)
    try:
        settings = bootstrap_settings(
            cluster_name=cluster,
            endpoint=endpoint,
            ca_base64=CA,
            service_cidr=service_cidr,
            node_labels=tuple(labels.items()),
            taints=(taint,),
            kubelet_extra_args=kubelet_args,
            kube_proxy_extra_args=kube_proxy_args,
        )
    except InvalidInputError as error:
        # The only refusals allowed here are of the free text, and each for a stated reason.
        assert error.field in {"kubelet-extra-args", "kube-proxy-extra-args", "node-labels"}
        return
    script = render_userdata(settings)
    arguments = bootstrap_call_arguments(script)
    network = ipaddress.ip_network(service_cidr)
    expected_kubelet = " ".join(
        part
        for part in (
            "--node-labels=" + ",".join(f"{k}={v}" for k, v in labels.items()) if labels else "",
            f"--register-with-taints={taint}",
            kubelet_args or "",
        )
        if part
    )
    expected = {
        "EKSClusterName": [cluster],
        "APIServerEndpoint": [endpoint],
        "Base64ClusterCA": [CA],
        "ServiceCIDR": [service_cidr],
        "DNSClusterIP": [str(network.network_address + 10)],
        "KubeletExtraArgs": [expected_kubelet],
    }
    if kube_proxy_args:
        expected["KubeProxyExtraArgs"] = [kube_proxy_args]
    assert arguments == expected
    # Windows PowerShell 5.1 reads a script file without a byte order mark in the ANSI code page
    # (cp1252 on en-US Windows): read so, the bytes sent must still be the same call.
    sent = base64.b64decode(encode_userdata(script))
    assert bootstrap_call_arguments(sent.decode("cp1252", errors="replace")) == expected
    assert script.count("</powershell>") == 1
    assert script.endswith("</powershell>\n")


@given(hostile_text)
def test_free_text_is_refused_only_unless_printable_ascii_or_for_ec2launch_tags(text: str) -> None:
    printable_ascii = all(" " <= ch <= "~" for ch in text)
    try:
        bootstrap_settings(cluster_name="c", kubelet_extra_args=text)
    except InvalidInputError as error:
        assert error.field == "kubelet-extra-args"
        assert not printable_ascii or "<" in text
        return
    assert printable_ascii


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("--v=2\x1b[0m", "must be one line without control characters"),
        (
            "--v=2 \u00d1; Write-Output PWNED #",
            "U+00D1 at character 7 is not ASCII: Windows PowerShell may read user data in the ANSI "
            "code page, where it can end a quoted string; leave it out or write [char]0x00D1",
        ),
    ],
)
def test_argument_text_outside_printable_ascii_is_refused_saying_where(
    text: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        bootstrap_settings(cluster_name="c", kubelet_extra_args=text)
    assert (raised.value.field, raised.value.reason) == ("kubelet-extra-args", reason)


@pytest.mark.parametrize(
    "text",
    ["x</powershell>", "</PowerShell >", "<persist>true</persist>", "a\nb", "a\rb", "tab\there"],
)
def test_text_that_could_escape_the_script_is_refused(text: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        bootstrap_settings(cluster_name="c", kube_proxy_extra_args=text)
    assert raised.value.field == "kube-proxy-extra-args"


def test_kubelet_comparisons_with_less_than_are_accepted() -> None:
    settings = bootstrap_settings(
        cluster_name="c", kubelet_extra_args="--eviction-hard=memory.available<500Mi"
    )
    args = bootstrap_call_arguments(render_userdata(settings))
    assert args["KubeletExtraArgs"] == ["--eviction-hard=memory.available<500Mi"]


@given(st.lists(st.sampled_from(["10.0.0.0/8", "192.168.0.0/16", "100.64.0.0/10"]), min_size=1))
def test_excluded_snat_cidrs_render_as_an_array(cidrs: list[str]) -> None:
    settings = bootstrap_settings(cluster_name="c", excluded_snat_cidrs=tuple(cidrs))
    assert bootstrap_call_arguments(render_userdata(settings))["ExcludedSnatCIDRs"] == cidrs
