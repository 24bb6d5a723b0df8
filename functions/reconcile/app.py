"""Scheduled reconciler: drives every pending launch and terminate action of every managed group
forward and repairs what drifted (services.reconcile)."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from winnodes import wiring
from winnodes.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = wiring.reconcile_service().reconcile()
    return asdict(report)
