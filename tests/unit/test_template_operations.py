"""template.yaml: what operators rely on when something fails. Both queues of lifecycle events
that could not be handled are declared, keep their messages 14 days, are encrypted and are stack
outputs (README replays from them); EventBridge may send to its dead-letter queue; Lambda gives
up on an event no later than EventBridge does; alarms watch the functions' errors and both
queues, notifying AlarmTopicArn when it is set (the alarms on the functions' own metrics:
test_template_alarms.py); and the outputs say how to give the functions' roles cluster access."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.template import alarms as template_alarms
from tests.helpers.template import load_template
from winnodes.rbac import FUNCTIONS_GROUP

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FOURTEEN_DAYS = 14 * 24 * 3600
QUEUES = ("LifecycleFailedInvocationsQueue", "LifecycleUndeliveredEventsQueue")


def ref(name: str) -> dict[str, str]:
    return {"Fn::Ref": name}


def get_att(name: str, attribute: str) -> dict[str, str]:
    return {"Fn::GetAtt": f"{name}.{attribute}"}


def lifecycle_rule() -> tuple[str, dict[str, Any]]:
    """The EventBridge event of the lifecycle function: its name and properties."""
    events = RESOURCES["LifecycleFunction"]["Properties"]["Events"]
    ((name, event),) = ((n, e) for n, e in events.items() if e["Type"] == "EventBridgeRule")
    return name, event["Properties"]


@pytest.mark.parametrize("queue", QUEUES)
def test_each_lifecycle_queue_keeps_its_messages_14_days_encrypted_and_is_an_output(
    queue: str,
) -> None:
    resource = RESOURCES[queue]
    assert resource["Type"] == "AWS::SQS::Queue"
    assert resource["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert resource["Properties"]["SqsManagedSseEnabled"] is True
    assert TEMPLATE["Outputs"][f"{queue}Url"]["Value"] == ref(queue)


def test_the_lifecycle_rule_dead_letters_into_the_declared_queue() -> None:
    # With Type, SAM would create a queue of its own (4 days' retention) and ignore ours.
    _, rule = lifecycle_rule()
    assert rule["DeadLetterConfig"] == {"Arn": get_att("LifecycleUndeliveredEventsQueue", "Arn")}


def test_only_the_lifecycle_rule_may_send_to_its_dead_letter_queue() -> None:
    event, _ = lifecycle_rule()
    # SAM names the rule <function><event>, and named the policy it wrote for a queue of Type
    # SQS <rule>QueuePolicy: keeping that id updates an older stack's policy in place.
    rule = f"LifecycleFunction{event}"
    policy = RESOURCES[f"{rule}QueuePolicy"]
    assert policy["Type"] == "AWS::SQS::QueuePolicy"
    assert policy["Properties"]["Queues"] == [ref("LifecycleUndeliveredEventsQueue")]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": get_att("LifecycleUndeliveredEventsQueue", "Arn"),
            "Condition": {"ArnEquals": {"aws:SourceArn": get_att(rule, "Arn")}},
        }
    ]


def test_lambda_gives_up_on_a_lifecycle_event_when_eventbridge_would() -> None:
    # An invocation Lambda cannot run (throttled, a Lambda error) is retried, not counted in
    # MaximumRetryAttempts, until MaximumEventAgeInSeconds, 6 h if unset: so late, the event
    # would only repeat what the reconciler has done since (or its hook has timed out).
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
    _, rule = lifecycle_rule()
    config = RESOURCES["LifecycleFunction"]["Properties"]["EventInvokeConfig"]
    assert config["MaximumEventAgeInSeconds"] == rule["RetryPolicy"]["MaximumEventAgeInSeconds"]
    assert config["MaximumEventAgeInSeconds"] == 3600


def test_the_failed_invocations_queue_is_said_to_hold_events_too_old_to_run() -> None:
    # Not only events whose invocation failed every try: those Lambda could not run in time too.
    alarm = RESOURCES["LifecycleFailedInvocationsAlarm"]["Properties"]
    output = TEMPLATE["Outputs"]["LifecycleFailedInvocationsQueueUrl"]
    readme_row = next(
        line for line in README.splitlines() if "`<stack>-LifecycleFailedInvocations`" in line
    )
    for text in (alarm["AlarmDescription"], output["Description"], readme_row):
        assert "an hour" in text, text


def alarms() -> dict[str, dict[str, Any]]:
    return template_alarms(TEMPLATE)


def test_alarms_watch_both_functions_errors_and_both_queues() -> None:
    watched = {
        (alarm["Namespace"], alarm["MetricName"], repr(alarm["Dimensions"]))
        for alarm in alarms().values()
        if alarm["Namespace"].startswith("AWS/")
    }
    assert watched == {
        ("AWS/Lambda", "Errors", repr([{"Name": "FunctionName", "Value": ref(function)}]))
        for function in ("LifecycleFunction", "ReconcileFunction")
    } | {
        (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            repr([{"Name": "QueueName", "Value": get_att(queue, "QueueName")}]),
        )
        for queue in QUEUES
    }


@pytest.mark.parametrize("name", sorted(alarms()))
def test_each_alarm_fires_on_one_and_notifies_the_topic_only_when_one_is_given(name: str) -> None:
    alarm = alarms()[name]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    # Lambda reports Errors only for invocations, and SQS metrics of an idle queue may pause.
    assert alarm["TreatMissingData"] == "notBreaching"
    to_topic = {"Fn::If": ["HasAlarmTopic", [ref("AlarmTopicArn")], ref("AWS::NoValue")]}
    assert alarm["AlarmActions"] == alarm["OKActions"] == to_topic


def deploy_section() -> str:
    match = re.search(r"^## Deploy\n(.*?)^## ", README, re.S | re.M)
    assert match is not None
    return match.group(1)


def test_the_readme_deploy_section_names_every_parameter_output_and_alarm() -> None:
    section = deploy_section()
    names = (
        list(TEMPLATE["Parameters"])
        + list(TEMPLATE["Outputs"])
        + [
            alarm["AlarmName"]["Fn::Sub"].removeprefix("${AWS::StackName}")
            for alarm in alarms().values()
        ]
    )
    missing = [name for name in names if name not in section]
    assert missing == []


NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def test_the_readme_counts_the_alarms_the_stack_creates() -> None:
    match = re.search(r"The stack creates (\w+) CloudWatch alarms", deploy_section())
    assert match is not None
    assert match.group(1) == NUMBER_WORDS[len(alarms())]


@pytest.mark.parametrize("output", ["LifecycleFunctionRoleArn", "ReconcileFunctionRoleArn"])
def test_the_role_outputs_name_the_group_the_rbac_binds(output: str) -> None:
    description = TEMPLATE["Outputs"][output]["Description"]
    assert f"group {FUNCTIONS_GROUP}" in description
    assert f"`{FUNCTIONS_GROUP}`" in README


def test_the_outputs_point_to_what_exists() -> None:
    for name, output in TEMPLATE["Outputs"].items():
        description = output["Description"]
        # There is no docs/ directory: the README says how.
        if re.search(r"\bdocs\b", description):
            assert (ROOT / "docs").is_dir(), name
        for section in re.findall(r"README, ([A-Z][a-z]+(?: [a-z]+)*)", description):
            assert f"**{section}.**" in README, (name, section)
        if "winnodes rbac" in description:
            assert "winnodes rbac | kubectl apply" in README, name
