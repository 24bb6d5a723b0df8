"""AWS clients, built in one place so every adapter maps the same setup and call errors.

Clients come from a botocore session, the engine boto3's clients are made by: importing boto3
would also import s3transfer and its thread pools, which these functions never use, at a cost of
tens of milliseconds on every cold start. The session reads the trimmed models the layer carries
(`botocore_data`) instead of botocore's own, which cuts client construction by most of its
time; without them (a source checkout before `make`) botocore's data serves as usual."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.parsers
import botocore.session

from winnodes.adapters.botocore_data import PACKAGED
from winnodes.errors import AwsCredentialsError, AwsError, excerpt

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_eks import EKSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

# Retries in standard mode back off on throttling, which bursts of lifecycle events provoke.
# The timeouts bound one call against an endpoint that accepts connections but does not answer
# (a misrouted VPC endpoint) to CALL_TIME_LIMIT, within services.fleet.STEP_RESERVE, so that an
# invocation reports the failing call instead of running into its own timeout. The APIs called
# answer in well under a second.
CONNECT_TIMEOUT: Final = 3
READ_TIMEOUT: Final = 12
ATTEMPTS: Final = 4  # the first try and three retries
# Standard mode waits rand(0, 1) x 2^i s (i = 0, 1, ...) before retry i + 1 of a throttled call.
_MOST_BACKOFF = sum(2**retry for retry in range(ATTEMPTS - 1))
CALL_TIME_LIMIT: Final = timedelta(
    seconds=ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + _MOST_BACKOFF
)
_CLIENT_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
)


class AwsSession:
    """One botocore session and its region; clients made from it share loaded models."""

    def __init__(self, region: str | None = None, *, data_dir: str | None = None) -> None:
        self._session = botocore.session.Session()
        data_dir = data_dir if data_dir is not None else _packaged_data_dir()
        if data_dir:
            loader = botocore.loaders.Loader(
                extra_search_paths=[data_dir], include_default_search_paths=False
            )
            self._session.register_component("data_loader", loader)
        with _setup_errors():
            self.region_name = self._resolve_region(region)

    def _resolve_region(self, region: str | None) -> str:
        # botocore reads AWS_DEFAULT_REGION and the profile but not AWS_REGION, which Lambda,
        # the AWS CLI and the other SDKs honour first: so do we.
        region = region or os.environ.get("AWS_REGION")
        if region:
            self._session.set_config_variable("region", region)
        resolved = self._session.get_config_variable("region")
        if not resolved:
            raise AwsCredentialsError("no AWS region: pass --region or set AWS_REGION")
        return str(resolved)

    def client(self, service: str) -> Any:
        with _setup_errors():
            client = self._session.create_client(
                service, region_name=self.region_name, config=_CLIENT_CONFIG
            )
            _check_endpoint(client.meta.endpoint_url)
        return client


@contextlib.contextmanager
def _setup_errors() -> Iterator[None]:
    """What the AWS configuration (profile, region, endpoint) can be wrong with, found while the
    session and its clients are made, as one line for the operator instead of a traceback."""
    try:
        yield
    except botocore.exceptions.ProfileNotFound as error:
        raise AwsCredentialsError(f"{error}: check AWS_PROFILE and the AWS config file") from None
    except botocore.exceptions.InvalidRegionError as error:
        # --region and the region variables are checked before; this one is the profile's.
        raise AwsCredentialsError(f"the region of the AWS config file: {error}") from None
    except botocore.exceptions.BotoCoreError as error:
        # Nothing is sent while clients are made: whatever botocore refuses here is a setting
        # (AWS_DEFAULTS_MODE, AWS_STS_REGIONAL_ENDPOINTS, a credential_process, ...).
        raise AwsCredentialsError(f"AWS configuration: {error}") from None
    except ValueError as error:
        # An endpoint URL botocore cannot use ("Invalid endpoint: <url>", "Invalid IPv6 URL"),
        # or one _check_endpoint refuses: nothing else of a client's making raises ValueError
        # (a bad region is an InvalidRegionError, a BotoCoreError, above).
        named = str(error) if str(error).startswith("Invalid endpoint") else f"endpoint: {error}"
        raise AwsCredentialsError(
            f"{named}: check AWS_ENDPOINT_URL and the endpoint_url of the AWS config file"
        ) from None


def _check_endpoint(url: str) -> None:
    """What botocore checks only once it signs the first request (the port, an address in
    brackets), checked when the client is made, so a typo is one line, not a traceback."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range or not a number raises
        if parts.netloc.startswith("["):
            ipaddress.ip_address(parts.hostname or "")
    except ValueError as error:
        raise ValueError(f"Invalid endpoint: {url} ({error})") from None


def _packaged_data_dir() -> str | None:
    return str(PACKAGED) if PACKAGED.is_dir() else None


def aws_session(region: str | None = None) -> AwsSession:
    return AwsSession(region)


def eks_client(session: AwsSession) -> EKSClient:
    return cast("EKSClient", session.client("eks"))


def autoscaling_client(session: AwsSession) -> AutoScalingClient:
    return cast("AutoScalingClient", session.client("autoscaling"))


def ec2_client(session: AwsSession) -> EC2Client:
    return cast("EC2Client", session.client("ec2"))


def iam_client(session: AwsSession) -> IAMClient:
    return cast("IAMClient", session.client("iam"))


def sts_client(session: AwsSession) -> STSClient:
    # Regional STS: the EKS token's presigned URL must name the region's endpoint.
    return cast("STSClient", session.client("sts"))


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
        raise AwsError(f"{description}: {excerpt(str(error))}") from error
    except (botocore.parsers.ResponseParserError, KeyError) as error:
        if not _answered_by_no_aws_api(error):
            raise  # a KeyError of ours: a bug, not an answer
        raise AwsError(f"{description}: {_not_aws(error)}") from error


def all_pages(description: str, paginator: Any, **arguments: Any) -> Iterator[Any]:
    """Every page of a paginated call; any failure, mid-way included, becomes an AwsError."""
    try:
        yield from paginator.paginate(**arguments)
    except botocore.exceptions.NoCredentialsError as error:
        raise credentials_error(error) from error
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise AwsError(f"{description} failed: {excerpt(str(error))}") from error
    except (botocore.parsers.ResponseParserError, KeyError) as error:
        if not _answered_by_no_aws_api(error):
            raise  # a KeyError of ours: a bug, not an answer
        raise AwsError(f"{description} failed: {_not_aws(error)}") from error


def _not_aws(error: Exception) -> str:
    """What answered is not an AWS API (a proxy's page, AWS_ENDPOINT_URL naming some other
    server). botocore says so with ResponseParserError, which is no BotoCoreError and quotes the
    whole page, when the page is no XML; when it is well-formed XML without the result element,
    with a bare KeyError from its parser."""
    found = f"no {error.args[0]} in it" if isinstance(error, KeyError) else str(error)
    return f"the endpoint's answer is not an AWS API response: {excerpt(found)}"


def _answered_by_no_aws_api(error: Exception) -> bool:
    """ResponseParserError always; a KeyError only when botocore's parser raised it."""
    if not isinstance(error, KeyError):
        return True
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    module = "" if traceback is None else str(traceback.tb_frame.f_globals.get("__name__", ""))
    return module.startswith("botocore.")
