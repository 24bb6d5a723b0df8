"""Smoke-test settings from the environment: off by default, bad values refused by name."""

from __future__ import annotations

import pytest

from winnodes.config import Settings
from winnodes.errors import InvalidInputError


def test_the_smoke_test_is_off_by_default_with_the_default_namespace() -> None:
    settings = Settings.from_env({})
    assert settings.smoke_test_enabled is False
    assert settings.smoke_test_image is None
    assert settings.smoke_test_namespace == "eks-windows-nodes"


def test_the_smoke_test_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "SMOKE_TEST_ENABLED": "true",
            "SMOKE_TEST_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/smoke:ltsc2022",
            "SMOKE_TEST_NAMESPACE": "node-checks",
        }
    )
    assert settings.smoke_test_enabled is True
    assert (
        settings.smoke_test_image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/smoke:ltsc2022"
    )
    assert settings.smoke_test_namespace == "node-checks"


def test_empty_values_mean_the_defaults() -> None:
    # The template passes its parameters through: an unset image arrives as "".
    settings = Settings.from_env(
        {"SMOKE_TEST_ENABLED": "", "SMOKE_TEST_IMAGE": "", "SMOKE_TEST_NAMESPACE": ""}
    )
    assert settings == Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMOKE_TEST_ENABLED", "sometimes"),
        ("SMOKE_TEST_IMAGE", "nanoserver ltsc2022"),
        ("SMOKE_TEST_IMAGE", "Mcr.Microsoft.com/Windows/NanoServer"),
        ("SMOKE_TEST_NAMESPACE", "Node_Checks"),
        ("SMOKE_TEST_NAMESPACE", "-checks"),
        ("SMOKE_TEST_NAMESPACE", "n" * 64),
        ("SMOKE_TEST_NAMESPACE", "kube-system"),
        ("SMOKE_TEST_NAMESPACE", "kube-public"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        Settings.from_env({name: value})
    assert raised.value.field == name
