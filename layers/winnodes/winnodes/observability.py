"""One place owns the Powertools logger, metrics and tracer every module uses."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "eks-windows-nodes"
NAMESPACE = "EksWindowsNodes"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Only the libraries our calls go through: botocore (AWS) and http.client (the Kubernetes
# client's urllib3). Patching everything X-Ray supports imports each of them on cold start.
TRACED_MODULES = ("botocore", "httplib")
tracer = Tracer(service=SERVICE, patch_modules=TRACED_MODULES)
