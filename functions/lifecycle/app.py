"""Auto Scaling lifecycle actions delivered by EventBridge (launch: join the node)."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from winnodes import wiring
from winnodes.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    time_left = timedelta(milliseconds=context.get_remaining_time_in_millis())
    return wiring.lifecycle_events().handle(event, time_left=time_left)
