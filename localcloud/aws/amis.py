"""Amazon's EKS-optimized Windows AMIs in moto's EC2 backend and their public SSM parameters in
moto's SSM backend, and "releasing" a new one the way AWS does: a new image, then the
``/aws/service/ami-windows-latest/...`` parameters point at it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.amis import Ami
from moto.ssm.models import Parameter, SimpleSystemManagerBackend, ssm_backends

from localcloud.aws.catalog import WindowsEksAmi, default_catalog


class AmiPublisher:
    """Publishes ``WindowsEksAmi`` images into one account/region of moto."""

    def __init__(self, *, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.images: list[WindowsEksAmi] = []

    @property
    def ec2(self) -> EC2Backend:
        return ec2_backends[self.account_id][self.region]

    @property
    def ssm(self) -> SimpleSystemManagerBackend:
        return ssm_backends[self.account_id][self.region]

    def publish_catalog(self, catalog: list[WindowsEksAmi] | None = None) -> None:
        for image in catalog or default_catalog():
            self.publish(image)

    def publish(self, image: WindowsEksAmi) -> WindowsEksAmi:
        """Register the image (owner amazon) and point its SSM parameters at it."""
        image = image if image.image_id else image.with_id()
        if image.image_id not in self.ec2.amis:
            self.ec2.amis[image.image_id] = Ami(self.ec2, **image.moto_image())
        self._put(f"{image.parameter_path}/image_id", image.image_id, data_type="aws:ec2:image")
        self._put(f"{image.parameter_path}/image_name", image.name)
        self._put(f"{image.parameter_path}/release_version", image.release_version)
        self._put(image.parameter_path, image.parameter_value())
        self.images.append(image)
        return image

    def release(
        self,
        *,
        kubernetes_version: str,
        windows_version: str = "2022",
        edition: str = "Core",
        release: dt.date | None = None,
    ) -> WindowsEksAmi:
        """AWS publishes a new monthly image for one flavour: returns it (with its image id)."""
        latest = self.latest(kubernetes_version, windows_version, edition)
        day = release or (
            latest.release + dt.timedelta(days=30) if latest else dt.date(2026, 10, 15)
        )
        image = WindowsEksAmi(windows_version, edition, kubernetes_version, day).with_id()
        if latest is not None and image.name == latest.name:
            image = replace(image, release=day + dt.timedelta(days=1)).with_id()
        return self.publish(image)

    def deregister(self, image_id: str) -> None:
        """EKS makes old Windows AMIs private after about four months: they vanish."""
        self.ec2.amis.pop(image_id, None)

    def latest(
        self, kubernetes_version: str, windows_version: str, edition: str
    ) -> WindowsEksAmi | None:
        matching = [
            i
            for i in self.images
            if (i.kubernetes_version, i.windows_version, i.edition)
            == (kubernetes_version, windows_version, edition)
        ]
        return max(matching, key=lambda i: i.release) if matching else None

    def _put(self, name: str, value: str, *, data_type: str = "text") -> None:
        # Public parameters are Amazon's: PutParameter on /aws/... is refused (moto does that
        # too), so they are written into the backend directly, as a new version.
        history = self.ssm._parameters[name]
        if history and history[-1].value == value:
            return
        history.append(
            # moto's models are not ABCs at runtime (its own SSM backend builds Parameter so);
            # only its annotations mark CloudFormation hooks abstract.
            Parameter(  # type: ignore[abstract]
                account_id=self.account_id,
                name=name,
                value=value,
                parameter_type="String",
                description=None,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=dt.datetime.now(dt.UTC),
                version=len(history) + 1,
                data_type=data_type,
                tier="Standard",
            )
        )
