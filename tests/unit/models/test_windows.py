"""Windows flavours map to the public SSM parameters EKS publishes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.errors import InvalidInputError
from winnodes.models.windows import (
    KubernetesVersion,
    WindowsEdition,
    WindowsFlavor,
    WindowsRelease,
)

K8S_131 = KubernetesVersion.parse("1.31")


def test_ssm_parameter_names() -> None:
    flavor = WindowsFlavor.parse("2022-Core")
    assert flavor.ssm_parameter_name(K8S_131) == (
        "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31"
    )
    assert flavor.image_id_parameter_name(K8S_131) == (
        "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
    )
    assert WindowsFlavor.parse("2019-full").ami_name_prefix(KubernetesVersion(1, 23)) == (
        "Windows_Server-2019-English-Full-EKS_Optimized-1.23"
    )


@given(release=st.sampled_from(WindowsRelease), edition=st.sampled_from(WindowsEdition))
def test_flavor_text_round_trips(release: WindowsRelease, edition: WindowsEdition) -> None:
    flavor = WindowsFlavor(release, edition)
    assert WindowsFlavor.parse(str(flavor)) == flavor
    assert f"-{release}-English-{edition}-" in flavor.ssm_parameter_name(K8S_131)


def test_windows_server_2022_needs_kubernetes_1_24() -> None:
    flavor = WindowsFlavor(WindowsRelease.WS2022, WindowsEdition.FULL)
    with pytest.raises(InvalidInputError) as raised:
        flavor.ssm_parameter_name(KubernetesVersion(1, 23))
    assert raised.value.field == "kubernetes-version"
    assert "1.24" in raised.value.reason
    flavor.check_supports(KubernetesVersion(1, 24))
    WindowsFlavor(WindowsRelease.WS2019, WindowsEdition.CORE).check_supports(
        KubernetesVersion(1, 23)
    )


@pytest.mark.parametrize("value", ["", "2016-Core", "2022", "2022-Nano", "Core-2022", "2022_Core"])
def test_unknown_flavors_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        WindowsFlavor.parse(value)
    assert raised.value.field == "windows-flavor"


def test_kubernetes_versions_compare_numerically() -> None:
    assert KubernetesVersion.parse("1.9") < KubernetesVersion.parse("1.24")
    assert str(KubernetesVersion.parse("1.30")) == "1.30"
    with pytest.raises(InvalidInputError):
        KubernetesVersion.parse("1.30.2")


VERSION_PARTS = st.integers(0, 999)


@given(VERSION_PARTS, VERSION_PARTS)
def test_a_major_minor_version_parses_to_its_numbers_and_prints_back(
    major: int, minor: int
) -> None:
    version = KubernetesVersion.parse(f"{major}.{minor}")
    assert (version.major, version.minor) == (major, minor)
    assert str(version) == f"{major}.{minor}"


@given(VERSION_PARTS, VERSION_PARTS, VERSION_PARTS, VERSION_PARTS)
def test_versions_order_by_major_then_minor_as_numbers(a: int, b: int, c: int, d: int) -> None:
    first, second = KubernetesVersion.parse(f"{a}.{b}"), KubernetesVersion.parse(f"{c}.{d}")
    assert (first < second) is ((a, b) < (c, d))
    assert (first == second) is ((a, b) == (c, d))


@st.composite
def spoiled_versions(draw: st.DrawFn) -> str:
    """`major.minor` with one mistake: what EKS never names a version."""
    major, minor = draw(VERSION_PARTS), draw(VERSION_PARTS)
    spoil = draw(
        st.sampled_from(
            ["v", "patch", "long", "space", "separator", "missing", "letter", "newline", "sign"]
        )
    )
    match spoil:
        case "v":
            return f"v{major}.{minor}"
        case "patch":
            return f"{major}.{minor}.{draw(VERSION_PARTS)}"
        case "long":  # four digits
            return f"{major}.{draw(st.integers(1000, 99999))}"
        case "space":
            return draw(
                st.sampled_from([f" {major}.{minor}", f"{major}.{minor} ", f"{major}. {minor}"])
            )
        case "separator":
            return f"{major}{draw(st.sampled_from([',', '-', '_', '', '..']))}{minor}"
        case "missing":
            return draw(st.sampled_from([f"{major}.", f".{minor}", f"{major}", ""]))
        case "letter":
            return f"{major}.{minor}{draw(st.sampled_from(['a', '-eks', 'x']))}"
        case "newline":
            return f"{major}.{minor}\n"
        case _:
            return f"{draw(st.sampled_from(['-', '+']))}{major}.{minor}"


@given(spoiled_versions())
def test_anything_but_major_dot_minor_is_refused(text: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        KubernetesVersion.parse(text)
    assert raised.value.field == "kubernetes-version"


@pytest.mark.parametrize("text", ["01.31", "1.031", "\uff11.\uff13\uff11", "\u0661.\u0663\u0661"])
def test_leading_zeros_and_non_ascii_digits_are_refused(text: str) -> None:
    # EKS names versions with plain ASCII digits; `\d` alone would take "１.３１" as 1.31.
    with pytest.raises(InvalidInputError):
        KubernetesVersion.parse(text)
