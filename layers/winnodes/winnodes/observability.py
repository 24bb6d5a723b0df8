"""One place owns the Powertools logger, metrics and tracer every module uses."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "eks-windows-nodes"
NAMESPACE = "EksWindowsNodes"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Only the libraries our calls go through: botocore (AWS) and http.client (the Kubernetes
# client's urllib3). Patching everything X-Ray supports imports each of them on cold start.
TRACED_MODULES = ("botocore", "httplib")

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
