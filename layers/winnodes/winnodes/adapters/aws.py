"""boto3 clients, built in one place so every adapter maps the same setup and call errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.exceptions

from winnodes.errors import AwsCredentialsError, AwsError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_eks import EKSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

# Retries in standard mode back off on throttling, which bursts of lifecycle events provoke.
_CLIENT_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)


def aws_session(region: str | None = None) -> boto3.session.Session:
    session = boto3.session.Session(region_name=region)
    if session.region_name is None:
        raise AwsCredentialsError("no AWS region: pass --region or set AWS_REGION")
    return session


def eks_client(session: boto3.session.Session) -> EKSClient:
    return session.client("eks", config=_CLIENT_CONFIG)


def autoscaling_client(session: boto3.session.Session) -> AutoScalingClient:
    return session.client("autoscaling", config=_CLIENT_CONFIG)


def ec2_client(session: boto3.session.Session) -> EC2Client:
    return session.client("ec2", config=_CLIENT_CONFIG)


def iam_client(session: boto3.session.Session) -> IAMClient:
    return session.client("iam", config=_CLIENT_CONFIG)


def sts_client(session: boto3.session.Session) -> STSClient:
    # Regional STS: the EKS token's presigned URL must name the region's endpoint.
    return session.client("sts", config=_CLIENT_CONFIG)


def credentials_error(error: botocore.exceptions.NoCredentialsError) -> AwsCredentialsError:
    return AwsCredentialsError(
        "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
        f"or run with an IAM role ({error})"
    )


def error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def aws_call[T](description: str, call: Callable[[], T]) -> T:
    """Runs one AWS call, turning botocore's failures into ours; ClientError passes through for
    the caller to map the codes it expects."""
    try:
        return call()
    except botocore.exceptions.NoCredentialsError as error:
        raise credentials_error(error) from error
    except botocore.exceptions.ClientError:
        raise
    except botocore.exceptions.BotoCoreError as error:
        raise AwsError(f"{description}: {error}") from error


def all_pages(description: str, paginator: Any, **arguments: Any) -> Iterator[Any]:
    """Every page of a paginated call; any failure, mid-way included, becomes an AwsError."""
    try:
        yield from paginator.paginate(**arguments)
    except botocore.exceptions.NoCredentialsError as error:
        raise credentials_error(error) from error
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise AwsError(f"{description} failed: {error}") from error
