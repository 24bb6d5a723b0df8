"""One place owns the Powertools logger, metrics and tracer every module uses."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "eks-windows-nodes"
NAMESPACE = "EksWindowsNodes"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
