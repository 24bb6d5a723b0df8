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
