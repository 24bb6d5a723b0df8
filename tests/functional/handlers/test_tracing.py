"""In Lambda the handlers' Tracer is on, patches botocore before any client is made, and records
the AWS calls our clients make as subsegments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]

PROBE = """
import sys
sys.path[:0] = ["functions/{name}", "layers/winnodes"]
import app
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
from winnodes.observability import tracer
print(tracer.disabled, sorted(_PATCHED_MODULES))
"""


# A call from one of our clients inside a traced method, to a port nobody listens on; what the
# X-Ray SDK emits is collected instead of sent to the daemon. In Lambda, _X_AMZN_TRACE_ID carries
# the invocation's trace header (sampled here), which the SDK's Lambda context reads.
CALL_PROBE = """
import sys
sys.path[:0] = ["functions/lifecycle", "layers/winnodes"]
import app
from aws_xray_sdk.core import xray_recorder
from winnodes.adapters import aws
from winnodes.observability import tracer

emitted = []
xray_recorder.emitter.send_entity = lambda entity: emitted.append(entity.to_dict())

@tracer.capture_method
def describe():
    eks = aws.eks_client(aws.aws_session())
    try:
        eks.describe_cluster(name="tracing-probe")
    except Exception as error:
        print(type(error).__name__)

describe()
call = next(entity for entity in emitted if entity["name"] == "eks")
print(call["namespace"], call["aws"]["operation"], call["aws"]["region"])
"""


SAMPLED_TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _lambda_env(name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    return env | {"LAMBDA_TASK_ROOT": f"functions/{name}", "AWS_REGION": "us-east-1"}


def _run(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", ["lifecycle", "reconcile"])
def test_the_handler_module_traces_botocore_in_lambda(name: str) -> None:
    assert _run(PROBE.format(name=name), _lambda_env(name)) == "False ['botocore']\n"


def test_an_aws_call_of_our_clients_is_recorded_as_a_subsegment() -> None:
    env = _lambda_env("lifecycle") | {
        "_X_AMZN_TRACE_ID": SAMPLED_TRACE_HEADER,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    assert _run(CALL_PROBE, env) == "EndpointConnectionError\naws DescribeCluster us-east-1\n"


# The reconciler's handler, invoked with a sampled trace: which handler-response metadata the
# X-Ray SDK emits. A pass's report can list an error per group and instance, and X-Ray refuses a
# segment document over 64 KB, which would lose the pass's whole trace.
RESPONSE_PROBE = """
import sys
sys.path[:0] = ["functions/reconcile", "layers/winnodes", "."]
import app
from aws_xray_sdk.core import xray_recorder
from localcloud.deployment import lambda_context

emitted = []
xray_recorder.emitter.send_entity = lambda entity: emitted.append(entity.to_dict())

outcome = app.lambda_handler({"not": "a schedule tick"}, lambda_context("reconcile"))
metadata = [key for entity in emitted for ns in entity.get("metadata", {}).values() for key in ns]
print(outcome["status"], sorted(metadata))
"""


def test_the_reconcilers_report_is_not_put_in_its_trace() -> None:
    env = _lambda_env("reconcile") | {"_X_AMZN_TRACE_ID": SAMPLED_TRACE_HEADER}
    # The last line: before it, the handler's log and metrics lines.
    assert _run(RESPONSE_PROBE, env).splitlines()[-1] == "rejected []"
