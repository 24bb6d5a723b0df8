"""Windows flavours of the EKS-optimized AMIs and where AWS publishes them.

https://docs.aws.amazon.com/eks/latest/userguide/retrieve-windows-ami-id.html"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering

from winnodes.errors import InvalidInputError

_AMI_PARAMETER_ROOT = "/aws/service/ami-windows-latest"


@total_ordering
@dataclass(frozen=True, slots=True)
class KubernetesVersion:
    """A Kubernetes minor version as EKS names it (`1.31`)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, value: str) -> KubernetesVersion:
        match = (
            re.fullmatch(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})", value)
            if isinstance(value, str)
            else None
        )
        if match is None:
            raise InvalidInputError("kubernetes-version", f"{value!r} is not <major>.<minor>")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, KubernetesVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)


class WindowsRelease(StrEnum):
    WS2019 = "2019"
    WS2022 = "2022"
    WS2025 = "2025"


class WindowsEdition(StrEnum):
    CORE = "Core"
    FULL = "Full"


# EKS publishes Windows Server 2022 AMIs only from Kubernetes 1.24 on.
_MINIMUM_KUBERNETES = {WindowsRelease.WS2022: KubernetesVersion(1, 24)}


@dataclass(frozen=True, slots=True)
class WindowsFlavor:
    release: WindowsRelease
    edition: WindowsEdition

    @classmethod
    def parse(cls, value: str) -> WindowsFlavor:
        """`2022-Core`, `2019-full` (edition case-insensitive)."""
        match = (
            re.fullmatch(r"(\d{4})-(core|full)", value, re.IGNORECASE)
            if isinstance(value, str)
            else None
        )
        try:
            if match is None:
                raise ValueError
            return cls(WindowsRelease(match[1]), WindowsEdition(match[2].capitalize()))
        except ValueError:
            choices = ", ".join(f"{r}-{e}" for r in WindowsRelease for e in WindowsEdition)
            raise InvalidInputError(
                "windows-flavor", f"{value!r} is not one of {choices}"
            ) from None

    def __str__(self) -> str:
        return f"{self.release}-{self.edition}"

    def check_supports(self, kubernetes: KubernetesVersion) -> None:
        minimum = _MINIMUM_KUBERNETES.get(self.release)
        if minimum is not None and kubernetes < minimum:
            raise InvalidInputError(
                "kubernetes-version",
                f"Windows Server {self.release} needs Kubernetes >= {minimum}, got {kubernetes}",
            )

    def ami_name_prefix(self, kubernetes: KubernetesVersion) -> str:
        """`Windows_Server-2022-English-Core-EKS_Optimized-1.31`: the SSM parameter leaf and the
        start of the AMI name (DescribeImages filter `<prefix>-*`, owner `amazon`)."""
        self.check_supports(kubernetes)
        return f"Windows_Server-{self.release}-English-{self.edition}-EKS_Optimized-{kubernetes}"

    def ssm_parameter_name(self, kubernetes: KubernetesVersion) -> str:
        """Parent parameter; its value is JSON with `image_id`, `release_version`, ..."""
        return f"{_AMI_PARAMETER_ROOT}/{self.ami_name_prefix(kubernetes)}"

    def image_id_parameter_name(self, kubernetes: KubernetesVersion) -> str:
        return f"{self.ssm_parameter_name(kubernetes)}/image_id"
