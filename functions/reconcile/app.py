"""Scheduled reconciler: drives every pending launch and terminate action of every managed group
forward and repairs what drifted (services.reconcile)."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from winnodes import wiring
from winnodes.errors import InvalidInputError
from winnodes.models.events import parse_schedule_tick
from winnodes.observability import logger, metrics, rejected_event, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
# The report stays out of the trace: with an error per group and instance it can pass X-Ray's
# 64 KB segment limit, which would lose the whole trace. Each error is logged as it happens.
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        # A pass changes the cluster and the account: only a schedule tick starts one.
        parse_schedule_tick(event)
    except InvalidInputError as error:
        return rejected_event("not a schedule event", error.field, error.reason)
    time_left = timedelta(milliseconds=context.get_remaining_time_in_millis())
    report = wiring.reconcile_service().reconcile(time_left=time_left)
    return report.as_json()
