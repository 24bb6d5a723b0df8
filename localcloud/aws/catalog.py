"""Amazon's EKS-optimized Windows AMIs and their public SSM parameters, as data. Pure.

Names follow the published pattern ``Windows_Server-2022-English-Core-EKS_Optimized-1.31-<date>``
and the parameters ``/aws/service/ami-windows-latest/<family>-EKS_Optimized-<k8s>/image_id``
(https://docs.aws.amazon.com/eks/latest/userguide/retrieve-windows-ami-id.html); images are owned
by Amazon (owner id 801119661308, alias ``amazon``), platform ``windows``
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypedDict

AMAZON_OWNER_ID = "801119661308"
AMAZON_OWNER_ALIAS = "amazon"
SSM_ROOT = "/aws/service/ami-windows-latest"
DEFAULT_KUBERNETES_VERSIONS = ("1.29", "1.30", "1.31")
DEFAULT_FLAVOURS = (
    ("2019", "Core"),
    ("2019", "Full"),
    ("2022", "Core"),
    ("2022", "Full"),
)
DEFAULT_RELEASE = date(2026, 9, 10)


class MotoImage(TypedDict):
    """Keyword arguments of moto's ``Ami`` (also the shape of a ``MOTO_AMIS_PATH`` entry)."""

    ami_id: str
    name: str
    description: str
    owner_id: str
    owner_alias: str
    public: bool
    virtualization_type: str
    architecture: str
    state: str
    platform: str
    image_type: str
    image_location: str
    hypervisor: str
    root_device_type: str
    root_device_name: str
    sriov: str
    creation_date: datetime


@dataclass(frozen=True)
class WindowsEksAmi:
    windows_version: str  # "2019" | "2022" | "2025"
    edition: str  # "Core" | "Full"
    kubernetes_version: str  # "1.31"
    release: date
    image_id: str = ""

    @property
    def family(self) -> str:
        return f"Windows_Server-{self.windows_version}-English-{self.edition}"

    @property
    def parameter_path(self) -> str:
        """The parent parameter (its value is JSON); ``/image_id`` etc. are its children."""
        return f"{SSM_ROOT}/{self.family}-EKS_Optimized-{self.kubernetes_version}"

    @property
    def name(self) -> str:
        return f"{self.family}-EKS_Optimized-{self.kubernetes_version}-{self.release:%Y.%m.%d}"

    @property
    def release_version(self) -> str:
        return f"{self.kubernetes_version}-{self.release:%Y.%m.%d}"

    @property
    def description(self) -> str:
        return (
            f"Microsoft Windows Server {self.windows_version} {self.edition} optimized for "
            f"Amazon EKS Kubernetes {self.kubernetes_version}, released {self.release:%Y-%m-%d}"
        )

    def with_id(self) -> WindowsEksAmi:
        """A copy carrying its deterministic image id (same name → same id)."""
        digest = hashlib.sha256(self.name.encode()).hexdigest()[:17]
        return WindowsEksAmi(
            self.windows_version,
            self.edition,
            self.kubernetes_version,
            self.release,
            f"ami-{digest}",
        )

    def parameter_value(self) -> str:
        return json.dumps(
            {
                "image_id": self.image_id,
                "image_name": self.name,
                "image_version": self.release.strftime("%Y.%m.%d"),
                "release_version": self.release_version,
            },
            sort_keys=True,
        )

    def moto_image(self) -> MotoImage:
        """Keyword arguments of moto's ``Ami`` (also the shape of a ``MOTO_AMIS_PATH`` entry)."""
        return {
            "ami_id": self.image_id,
            "name": self.name,
            "description": self.description,
            "owner_id": AMAZON_OWNER_ID,
            "owner_alias": AMAZON_OWNER_ALIAS,
            "public": True,
            "virtualization_type": "hvm",
            "architecture": "x86_64",
            "state": "available",
            "platform": "windows",
            "image_type": "machine",
            "image_location": f"{AMAZON_OWNER_ALIAS}/{self.name}",
            "hypervisor": "xen",
            "root_device_type": "ebs",
            "root_device_name": "/dev/sda1",
            "sriov": "simple",
            "creation_date": datetime.combine(self.release, datetime.min.time(), UTC),
        }


def default_catalog(release: date = DEFAULT_RELEASE) -> list[WindowsEksAmi]:
    """One current image per Kubernetes version and flavour (2022 needs Kubernetes ≥ 1.24)."""
    return [
        WindowsEksAmi(windows, edition, k8s, release).with_id()
        for k8s in DEFAULT_KUBERNETES_VERSIONS
        for windows, edition in DEFAULT_FLAVOURS
    ]
