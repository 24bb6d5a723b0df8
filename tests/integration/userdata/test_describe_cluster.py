"""render-userdata without --endpoint/--ca reads them from eks:DescribeCluster, here moto's EKS
served over HTTP to the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from tests.helpers.golden import GOLDEN, assert_golden
from tests.helpers.powershell import bootstrap_call_arguments
from winnodes.adapters.botocore_data import PACKAGED

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient

pytestmark = pytest.mark.integration

CA = (GOLDEN / "userdata" / "test-ca.b64").read_text().strip()
REGION = "us-east-1"
WINNODES = Path(sys.executable).parent / "winnodes"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def cluster(moto_endpoint: str) -> str:
    _eks(moto_endpoint).create_cluster(
        name="prod-win",
        roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        kubernetesNetworkConfig={"serviceIpv4Cidr": "10.100.0.0/16"},
    )
    return "prod-win"


def _eks(moto_endpoint: str) -> EKSClient:
    return boto3.client(
        "eks",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _set_cluster_ca(name: str, data: str) -> None:
    # moto invents random bytes for the CA and ends the endpoint with "/"; real EKS returns
    # base64 of a PEM certificate and https://<id>.<suffix>.<region>.eks.amazonaws.com.
    cluster = get_backend("eks")[DEFAULT_ACCOUNT_ID][REGION].clusters[name]
    cluster.certificate_authority = {"data": data}
    cluster.endpoint = cluster.endpoint.rstrip("/")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean["HOME"] = str(Path(os.environ.get("TMPDIR", "/tmp")))  # no ~/.aws profile leaks in
    return subprocess.run(
        [str(WINNODES), "render-userdata", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**clean, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        | env,
        timeout=60,
    )


def test_endpoint_ca_and_service_cidr_come_from_describe_cluster(
    moto_endpoint: str, cluster: str
) -> None:
    _set_cluster_ca(cluster, CA)
    result = run(
        f"--cluster-name={cluster}",
        env={"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION, **CREDENTIALS},
    )
    assert result.returncode == 0, result.stderr
    arguments = bootstrap_call_arguments(result.stdout)
    expected_endpoint = _eks(moto_endpoint).describe_cluster(name=cluster)["cluster"]["endpoint"]
    assert arguments["APIServerEndpoint"] == [expected_endpoint]
    assert arguments["Base64ClusterCA"] == [CA]
    assert arguments["ServiceCIDR"] == ["10.100.0.0/16"]
    assert arguments["DNSClusterIP"] == ["10.100.0.10"]
    assert_golden(
        result.stdout.replace(expected_endpoint, "https://ENDPOINT"),
        "userdata/from-describe-cluster.ps1",
    )


def test_given_service_cidr_overrides_the_clusters(moto_endpoint: str, cluster: str) -> None:
    _set_cluster_ca(cluster, CA)
    result = run(
        f"--cluster-name={cluster}",
        "--service-cidr=172.20.0.0/16",
        env={"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION, **CREDENTIALS},
    )
    assert result.returncode == 0, result.stderr
    assert bootstrap_call_arguments(result.stdout)["DNSClusterIP"] == ["172.20.0.10"]


def test_unknown_cluster_is_a_clear_error(moto_endpoint: str, cluster: str) -> None:
    result = run(
        "--cluster-name=no-such-cluster",
        "--region",
        REGION,
        env={"AWS_ENDPOINT_URL": moto_endpoint, **CREDENTIALS},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "winnodes: error: EKS cluster 'no-such-cluster' not found in region us-east-1\n"
    )


def test_a_ca_that_is_not_a_pem_is_reported_as_the_clusters_fault(
    moto_endpoint: str, cluster: str
) -> None:
    _set_cluster_ca(cluster, "bm90IGEgY2VydA==")
    result = run(
        f"--cluster-name={cluster}",
        env={"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION, **CREDENTIALS},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "DescribeCluster prod-win returned an unusable ca" in result.stderr


def test_missing_region_is_a_clear_error(moto_endpoint: str) -> None:
    result = run("--cluster-name=prod-win", env={"AWS_ENDPOINT_URL": moto_endpoint, **CREDENTIALS})
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no AWS region" in result.stderr


def test_missing_credentials_are_a_clear_error(moto_endpoint: str) -> None:
    result = run(
        "--cluster-name=prod-win",
        env={
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_DEFAULT_REGION": REGION,
            # No instance metadata here: fail fast instead of waiting on 169.254.169.254.
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no AWS credentials found" in result.stderr


# A run by hand with the profiles engineers use: botocore's own providers assume the role
# through the trimmed botocore data the CLI reads (winnodes.adapters.botocore_data), which must
# carry their STS operations, or the run ends in an AttributeError inside botocore.
OPS_ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/windows-ops"


def _assumed_roles() -> list[str]:
    return [role.role_arn for role in get_backend("sts")[DEFAULT_ACCOUNT_ID]["aws"].assumed_roles]


def _renders_as_the_ops_role(moto_endpoint: str, cluster: str, credentials: dict[str, str]) -> None:
    """render-userdata reads DescribeCluster with these credential settings, having assumed
    OPS_ROLE once for it."""
    assert PACKAGED.is_dir(), "the trimmed botocore data is built by make before the tests"
    _set_cluster_ca(cluster, CA)
    before = _assumed_roles().count(OPS_ROLE)

    result = run(
        f"--cluster-name={cluster}",
        env={"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION, **credentials},
    )

    assert result.returncode == 0, result.stderr
    assert "Start-EKSBootstrap.ps1" in result.stdout
    assert _assumed_roles().count(OPS_ROLE) == before + 1


def test_a_profile_that_assumes_a_role_is_used(
    moto_endpoint: str, cluster: str, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        f"[profile ops]\nrole_arn = {OPS_ROLE}\nsource_profile = base\n"
    )
    credentials = {"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "ops"}
    _renders_as_the_ops_role(moto_endpoint, cluster, credentials)


def test_a_web_identity_token_is_exchanged_for_the_roles_credentials(
    moto_endpoint: str, cluster: str, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl")  # moto reads no claim of it
    credentials = {"AWS_ROLE_ARN": OPS_ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token)}
    _renders_as_the_ops_role(moto_endpoint, cluster, credentials)
