"""template.yaml: alarms on the functions' own metrics watch what the code emits.

The decisions that refuse and wait (a malformed aws-auth, a node role NodeRoleArns refuses, an
access entry of the wrong type), those that give up (a rejected event, an ABANDONed join, a drain
ended at its deadline), the errors a reconciler pass carries on past and the work it leaves for
want of time are metrics, not failures: no Errors alarm sees them.
An alarm on a custom metric matches only when namespace, name and the whole dimension set equal
what was emitted, and otherwise sits in INSUFFICIENT_DATA, which TreatMissingData reads as fine:
a typo would silence it for good. So the identity is taken from the code itself: the metric
names from its add_metric calls, the namespace and dimensions from the EMF document a process
with each function's environment writes (Powertools' namespace and service arguments, or else
POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import winnodes
from tests.helpers.template import alarms, function_environment, load_template

TEMPLATE = load_template()
PACKAGE = Path(winnodes.__file__).parent
FUNCTIONS = sorted(
    name
    for name, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
)
# Each leaves a launch waiting, then ABANDONed at the join deadline, or gives up: the ABANDON
# itself, or a terminate action completed at the drain deadline with pods left on the node.
REFUSALS = {
    "AwsAuthMalformed",
    "NodeRoleRefused",
    "AccessEntryWrongType",
    "AccessEntryStale",
    "EventRejected",
    "JoinAbandoned",
    "DrainTimedOut",
}
# Errors a reconciler pass records and carries on past.
PERSISTENT_ERRORS = {"ReconcileErrors"}
# Work a reconciler pass leaves to the next for want of time.
SHORTFALLS = {"ReconcileDeferred"}
# namespace, metric name, dimensions
MetricIdentity = tuple[str, str, frozenset[tuple[str, str]]]


def custom_alarms() -> dict[str, dict[str, Any]]:
    return {
        name: alarm
        for name, alarm in alarms(TEMPLATE).items()
        if not alarm["Namespace"].startswith("AWS/")
    }


def add_metric_names(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_metric"
        ):
            for keyword in node.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    yield str(keyword.value.value)


@cache
def emitted_metric_names() -> frozenset[str]:
    """Every metric name the winnodes package passes to add_metric."""
    return frozenset(
        name
        for module in PACKAGE.rglob("*.py")
        for name in add_metric_names(ast.parse(module.read_text(encoding="utf-8")))
    )


EMIT = """
import json, sys
from winnodes.observability import metrics
for name in sys.argv[1:]:
    metrics.add_metric(name=name, unit="Count", value=1)
print(json.dumps(metrics.serialize_metric_set()))
"""


@cache
def emitted_identities(function: str, names: tuple[str, ...]) -> frozenset[MetricIdentity]:
    """What CloudWatch makes of `names` emitted as the function emits them: a fresh process
    (Powertools reads its settings when winnodes.observability is imported) with the function's
    environment and nothing else, writing the EMF document its handler flushes."""
    environment = function_environment(TEMPLATE, function) | {"PYTHONPATH": str(PACKAGE.parent)}
    run = subprocess.run(
        [sys.executable, "-c", EMIT, *names],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    document: dict[str, Any] = json.loads(run.stdout)
    # EMF: CloudWatch makes one metric per dimension set of a directive, the dimensions' values
    # being the document's top-level members of those names.
    return frozenset(
        (
            directive["Namespace"],
            metric["Name"],
            frozenset((dimension, str(document[dimension])) for dimension in dimension_set),
        )
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimension_set in directive["Dimensions"]
        for metric in directive["Metrics"]
    )


def alarm_identity(alarm: dict[str, Any]) -> MetricIdentity:
    dimensions = [(d["Name"], d["Value"]) for d in alarm["Dimensions"]]
    # Plain text: the code's values are fixed, none is a parameter or another resource's.
    assert all(isinstance(value, str) for _, value in dimensions), dimensions
    return alarm["Namespace"], alarm["MetricName"], frozenset(dimensions)


def test_every_decision_that_refuses_or_gives_up_has_an_alarm() -> None:
    alarmed = {alarm["MetricName"] for alarm in custom_alarms().values()}
    assert alarmed >= REFUSALS


def test_the_scan_finds_the_code_s_metrics() -> None:
    # A scan that found nothing would fail every alarm below for the wrong reason.
    assert emitted_metric_names() >= {"NodeJoined", "DrainTimedOut"}


@pytest.mark.parametrize("name", sorted(custom_alarms()))
def test_each_alarmed_metric_is_one_the_code_emits(name: str) -> None:
    assert custom_alarms()[name]["MetricName"] in emitted_metric_names()


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("name", sorted(custom_alarms()))
def test_each_alarm_watches_the_namespace_and_dimensions_each_function_emits(
    name: str, function: str
) -> None:
    # Both functions run the join (reconcile finishes actions too), so both emit its metrics: an
    # alarm of one dimension set catches both only while they emit the same identity.
    names = tuple(sorted({alarm["MetricName"] for alarm in custom_alarms().values()}))
    assert alarm_identity(custom_alarms()[name]) in emitted_identities(function, names)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_functions_environment_names_the_namespace_and_service_they_emit(
    function: str,
) -> None:
    # The code passes its own namespace and service to Powertools, which win over the
    # environment: a different value here would mislead whoever reads the template.
    ((namespace, _, dimensions),) = emitted_identities(function, ("Probe",))
    environment = function_environment(TEMPLATE, function)
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == namespace
    assert ("service", environment["POWERTOOLS_SERVICE_NAME"]) in dimensions


def test_errors_a_reconciler_pass_carries_on_past_have_an_alarm() -> None:
    # A pass that survives its errors returns normally: Lambda's Errors alarm never sees them.
    alarmed = {alarm["MetricName"] for alarm in custom_alarms().values()}
    assert alarmed >= PERSISTENT_ERRORS


def test_work_reconciler_passes_keep_leaving_for_want_of_time_has_an_alarm() -> None:
    # A pass that defers work returns normally too; held actions it does not reach are
    # heartbeated by nothing else once the lifecycle function's wait budget is spent.
    alarmed = {alarm["MetricName"] for alarm in custom_alarms().values()}
    assert alarmed >= SHORTFALLS


@pytest.mark.parametrize("name", sorted(custom_alarms()))
def test_each_alarm_on_the_code_s_metrics_counts_in_5_minute_periods(name: str) -> None:
    alarm = custom_alarms()[name]
    # A refusal puts its alarm in ALARM at once; errors a later pass may not meet again (a
    # throttled call, a cluster briefly out of reach), and deferrals the next passes absorb (a
    # slow call, a burst of held instances), only when they last 15 minutes.
    periods = 3 if alarm["MetricName"] in PERSISTENT_ERRORS | SHORTFALLS else 1
    # Threshold, missing data and actions: test_template_operations.py, for every alarm.
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == (
        "Sum",
        300,
        periods,
    )
    # The metrics are Counts; an alarm's Unit must equal the emitted one or it sees no data.
    assert "Unit" not in alarm
    assert alarm["AlarmName"] == {"Fn::Sub": f"${{AWS::StackName}}-{alarm['MetricName']}"}
