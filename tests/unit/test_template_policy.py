"""template.yaml: the functions' IAM policy grants exactly what the adapters call, the outputs
name the resources they describe, and the local cloud runs the functions with their timeouts.

The adapters' calls are listed once, in `botocore_data.OPERATIONS` (the trimmed models carry
nothing else, so a call missing there fails in every integration test); the policy must allow
each of them and nothing more, and no call that changes something may apply to every resource
without a condition."""

from __future__ import annotations

import fnmatch
from typing import Any

from localcloud.deployment import FUNCTION_TIMEOUT_SECONDS
from tests.helpers.template import condition_holds, load_template
from winnodes.adapters.botocore_data import OPERATIONS
from winnodes.models.groups import (
    JOIN_STARTED_TAG,
    KUBERNETES_CLUSTER_TAG_PREFIX,
    MANAGED_TAG,
    RETURNED_TO_POOL_TAG,
)

# GetCallerIdentity needs no permission (it presigns the EKS token with the caller's own role):
# https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
READ_ONLY_PREFIXES = ("Describe", "Get", "List")


def _policy_statements() -> list[dict[str, Any]]:
    template = load_template()
    policy = template["Resources"]["LifecyclePolicy"]["Properties"]["PolicyDocument"]
    return list(policy["Statement"])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_policy_allows_exactly_the_calls_the_adapters_make() -> None:
    called = {f"{service}:{op}" for service, ops in OPERATIONS.items() for op in ops}
    allowed = {a for s in _policy_statements() if s["Effect"] == "Allow" for a in _actions(s)}
    assert allowed == called - NEEDS_NO_PERMISSION


def test_no_call_that_changes_something_applies_to_every_resource_unconditionally() -> None:
    for statement in _policy_statements():
        writes = [
            a for a in _actions(statement) if not a.split(":")[1].startswith(READ_ONLY_PREFIXES)
        ]
        if not writes:
            continue
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert "*" not in resources, statement["Sid"]
        assert statement.get("Condition"), f"{statement['Sid']} allows {writes} unconditionally"


def test_the_failed_invocations_output_names_the_queue_failures_are_sent_to() -> None:
    # SAM's `LifecycleFunction.DestinationQueue` shorthand resolves to another queue of the
    # function (the EventBridge rule's dead-letter queue), so the queue is declared and named.
    template = load_template()
    resources = template["Resources"]
    config = resources["LifecycleFunction"]["Properties"]["EventInvokeConfig"]
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    queue = template["Outputs"]["LifecycleFailedInvocationsQueueUrl"]["Value"]["Fn::Ref"]
    assert destination == {"Fn::GetAtt": f"{queue}.Arn"}
    assert resources[queue]["Type"] == "AWS::SQS::Queue"


def test_the_local_cloud_invokes_each_function_with_its_templates_timeout() -> None:
    # The reconciler plans its pass by the time its invocation has left (its Timeout).
    template = load_template()
    timeouts = {
        name: float(template["Resources"][resource]["Properties"]["Timeout"])
        for name, resource in (
            ("lifecycle", "LifecycleFunction"),
            ("reconcile", "ReconcileFunction"),
        )
    }
    assert timeouts == FUNCTION_TIMEOUT_SECONDS


def test_without_extra_tags_the_functions_may_write_only_their_own_tag_keys() -> None:
    template = load_template()
    statement = next(s for s in _policy_statements() if s["Sid"] == "TagGroupInstances")
    condition, with_extra, without_extra = statement["Condition"]["Fn::If"]
    # Both spellings of "no tags" the template allows (tests/unit/test_template_parameters.py).
    for no_tags in ("{}", ""):
        assert not condition_holds(template, condition, {"ExtraInstanceTags": no_tags})
    assert condition_holds(template, condition, {"ExtraInstanceTags": '{"team": "a"}'})
    assert template["Parameters"]["ExtraInstanceTags"]["Default"] == "{}"
    # IAM's StringLike: `*` any run of characters, `?` any one; fnmatch reads these the same.
    allowed = without_extra["ForAllValues:StringLike"]["aws:TagKeys"]

    def allowed_key(key: str) -> bool:
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in allowed)

    written = [f"{KUBERNETES_CLUSTER_TAG_PREFIX}prod", JOIN_STARTED_TAG, RETURNED_TO_POOL_TAG]
    assert all(allowed_key(key) for key in written)
    for key in ("Name", MANAGED_TAG, "eks-windows-nodes/launch-hook", "kubernetes.io/role"):
        assert not allowed_key(key), key
    # Either way, only instances an Auto Scaling group launched.
    assert with_extra == {"StringLike": without_extra["StringLike"]}
    assert without_extra["StringLike"] == {"aws:ResourceTag/aws:autoscaling:groupName": "?*"}
