"""boto3 clients, built in one place so every adapter maps the same setup errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import botocore.config
import botocore.exceptions

from winnodes.errors import AwsCredentialsError

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient

# Retries in standard mode back off on throttling, which bursts of lifecycle events provoke.
_CLIENT_CONFIG = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5})


def aws_session(region: str | None = None) -> boto3.session.Session:
    session = boto3.session.Session(region_name=region)
    if session.region_name is None:
        raise AwsCredentialsError("no AWS region: pass --region or set AWS_REGION")
    return session


def eks_client(session: boto3.session.Session) -> EKSClient:
    return session.client("eks", config=_CLIENT_CONFIG)


def credentials_error(error: botocore.exceptions.NoCredentialsError) -> AwsCredentialsError:
    return AwsCredentialsError(
        "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
        f"or run with an IAM role ({error})"
    )
