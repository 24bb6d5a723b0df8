"""template.yaml: each function logs to a log group of the stack, kept LogRetentionDays.

Left alone, Lambda creates /aws/lambda/<function> at the first invocation, outside the stack and
without retention, so the logs (and the metrics' EMF lines) would be kept forever and outlive the
stack. The groups are named by CloudFormation: a stack deployed before already has Lambda's
group of that name, and creating another of the same name would fail the update."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = sorted(
    name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function"
)
# What CloudWatch Logs takes as a log group's retention in days (PutRetentionPolicy):
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]
RETENTION_DAYS += [2192, 2557, 2922, 3288, 3653]


def log_group_of(function: str) -> tuple[str, dict[str, Any]]:
    """The logical id and properties of the log group the function's LoggingConfig names."""
    logging_config = RESOURCES[function]["Properties"]["LoggingConfig"]
    name = logging_config["LogGroup"]["Fn::Ref"]
    resource = RESOURCES[name]
    assert resource["Type"] == "AWS::Logs::LogGroup"
    return name, resource.get("Properties", {})


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_logs_outlive_the_stack_until_their_retention_ends(function: str) -> None:
    # As Lambda's own groups did: a torn-down stack's logs are what an incident review reads.
    name, _ = log_group_of(function)
    assert RESOURCES[name]["DeletionPolicy"] == RESOURCES[name]["UpdateReplacePolicy"] == "Retain"


def test_the_retention_parameter_takes_exactly_what_cloudwatch_logs_takes() -> None:
    parameter = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert parameter["Type"] == "Number"
    assert parameter["AllowedValues"] == RETENTION_DAYS
    assert parameter["Default"] in RETENTION_DAYS


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_logs_to_a_group_of_the_stack_kept_the_retention_days(function: str) -> None:
    _, properties = log_group_of(function)
    assert properties["RetentionInDays"] == {"Fn::Ref": "LogRetentionDays"}
    # A name, /aws/lambda/<function> above all, would collide with a group Lambda made.
    assert "LogGroupName" not in properties


def test_each_function_has_a_log_group_of_its_own() -> None:
    groups = [log_group_of(function)[0] for function in FUNCTIONS]
    assert len(set(groups)) == len(FUNCTIONS) == 2


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_may_write_its_log_group(function: str) -> None:
    # SAM gives the role it creates AWSLambdaBasicExecutionRole, whose logs actions are on every
    # resource; a role of our own would have to grant them on the group.
    assert "Role" not in RESOURCES[function]["Properties"]
    assert "Role" not in TEMPLATE["Globals"]["Function"]
