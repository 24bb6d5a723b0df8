"""One place owns the Powertools logger, metrics and tracer every module uses."""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

from winnodes import __version__
from winnodes.config import log_level_from_env
from winnodes.errors import ConfigurationError

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "eks-windows-nodes"
NAMESPACE = "EksWindowsNodes"


def _log_level() -> str | None:
    """The level of the environment; INFO for a name that is no level, which must not stop an
    import (`winnodes --help` among others): the CLI reports it before a command runs, and the
    functions where they read their other settings (Settings.from_env)."""
    try:
        return log_level_from_env(os.environ)
    except ConfigurationError:
        return "INFO"


# Libraries that log secrets at DEBUG: botocore the canonical request and signature of every
# call, enough to rebuild a presigned cluster token (cluster admin for 15 minutes, as the
# functions may write aws-auth), and the session token; the Kubernetes client and urllib3 whole
# response bodies, pod specs with their environment among them. Lambda's own log level
# (ApplicationLogLevel) sets the root logger's, so they are held at WARNING here, whatever
# either level says; POWERTOOLS_LOG_LEVEL sets only ours.
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "kubernetes", "aws_xray_sdk")
for _library in QUIET_LIBRARIES:
    logging.getLogger(_library).setLevel(logging.WARNING)

logger = Logger(service=SERVICE, level=_log_level(), version=__version__)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def rejected_event(message: str, field: str, reason: str, **log: str) -> dict[str, str]:
    """Bad input (safety rule 5), refused with nothing changed: logged, counted as
    EventRejected, and the handler's answer, returned rather than raised, as Lambda's retries
    of the same event would be refused again."""
    metrics.add_metric(name="EventRejected", unit="Count", value=1)
    logger.error(message, extra={"field": field, "reason": reason, **log})
    return {"status": "rejected", "field": field, "reason": reason}


# botocore alone: patching everything X-Ray supports imports each library on cold start. Its
# http.client patch would record nothing of the Kubernetes client's requests: it starts a
# subsegment in HTTPConnection._send_request, which urllib3 2 never calls.
TRACED_MODULES = ("botocore",)

if TYPE_CHECKING:
    tracer: Tracer  # built by __getattr__ below on first use


def __getattr__(name: str) -> object:
    """`tracer` is built when a module first imports it, as the Lambda handlers do, and not when
    this module is imported. Outside Lambda the X-Ray SDK builds a botocore client of its own as
    it loads, which reads the AWS profile: an unknown AWS_PROFILE would stop `winnodes --help`,
    and the CLI, which Powertools never traces outside Lambda anyway, has no use for it."""
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - see __getattr__

    return Tracer(service=SERVICE, patch_modules=TRACED_MODULES)
