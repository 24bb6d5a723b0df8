"""The simulated clock, rate schedules, the AMI catalog, and STS signature checking with
botocore's signer (cross-checked against the Kubernetes half's own verifier)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from localcloud.aws.catalog import AMAZON_OWNER_ID, WindowsEksAmi, default_catalog
from localcloud.aws.clock import SimClock
from localcloud.aws.events import parse_schedule
from localcloud.aws.identity import botocore_signature
from localcloud.kube.token import decode_token, presign_token, verify_signature


def test_frozen_clock_moves_only_when_advanced() -> None:
    clock = SimClock(time_scale=0.01)
    with clock.frozen():
        before = clock.now()
        clock.advance(30)
        assert clock.now() == before + 30
    assert clock.now() >= before + 30
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.real_seconds(300) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 days)", 172800),
    ],
)
def test_rate_schedules(expression: str, seconds: int) -> None:
    assert parse_schedule(expression) == seconds


@pytest.mark.parametrize(
    "expression", ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0 * * * ? *)"]
)
def test_bad_schedules(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(expression)


def test_catalog_names_parameters_and_ids() -> None:
    image = WindowsEksAmi("2022", "Core", "1.31", dt.date(2026, 10, 15)).with_id()
    assert image.name == "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.10.15"
    assert image.parameter_path == (
        "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31"
    )
    assert json.loads(image.parameter_value())["release_version"] == "1.31-2026.10.15"
    # The id follows from the name alone: a fixed value across runs and processes (golden), a
    # copy re-identified gets the same id, and another release date gets another one.
    assert image.image_id == "ami-136f836cd9935ed43"
    assert replace(image, image_id="ami-0000000000000000").with_id().image_id == image.image_id
    assert replace(image, release=dt.date(2026, 10, 16)).with_id().image_id != image.image_id
    assert image.moto_image()["owner_id"] == AMAZON_OWNER_ID
    catalog = default_catalog()
    assert len({i.image_id for i in catalog}) == len(catalog) == 12


def test_botocore_signature_agrees_with_the_kube_verifier() -> None:
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    token = presign_token(
        cluster_name="prod",
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret",
        session_token="session",
        host="127.0.0.1:5000",
        now=now,
    )
    request = decode_token(token)
    assert (
        botocore_signature(request, secret_access_key="secret", cluster_name="prod")
        == request.signature
    )
    assert verify_signature(request, secret_access_key="secret", cluster_name="prod")
    assert (
        botocore_signature(request, secret_access_key="secret", cluster_name="dev")
        != request.signature
    )
    assert (
        botocore_signature(request, secret_access_key="other", cluster_name="prod")
        != request.signature
    )
