"""template.yaml's NodeRoleArns: one list of role ARN patterns, read by the functions
(NODE_ROLE_ARNS) and by IAM (eks:principalArn on eks:CreateAccessEntry), the same in both, with
every role of the stack's account when it is left empty; and a pattern CloudFormation takes
exactly when the code does."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.template import condition_holds, load_template, parameter_accepts
from winnodes.config import Settings
from winnodes.decisions.node_roles import NODE_ROLE_PATTERN, NODE_ROLES_SETTING
from winnodes.errors import ConfigurationError

TEMPLATE = load_template()
PARAMETER: dict[str, Any] = TEMPLATE["Parameters"]["NodeRoleArns"]
PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": "111122223333"}
ACCOUNT_ROLES = "arn:aws:iam::111122223333:role/*"


def resolve(expression: Any, node_role_arns: str) -> Any:
    """The value CloudFormation gives `expression` for this NodeRoleArns (and PSEUDO)."""
    parameters = {"NodeRoleArns": node_role_arns}
    if isinstance(expression, list):
        return [resolve(item, node_role_arns) for item in expression]
    if not isinstance(expression, dict):
        return expression
    if len(expression) != 1 or not next(iter(expression)).startswith("Fn::"):
        return {key: resolve(value, node_role_arns) for key, value in expression.items()}
    ((function, arguments),) = expression.items()
    match function:
        case "Fn::Ref":
            return parameters[arguments]
        case "Fn::If":
            condition, then, otherwise = arguments
            chosen = then if condition_holds(TEMPLATE, condition, parameters) else otherwise
            return resolve(chosen, node_role_arns)
        case "Fn::Split":
            delimiter, text = arguments
            return resolve(text, node_role_arns).split(delimiter)
        case "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO[m[1]], arguments)
    raise ValueError(f"cannot resolve {function}")


def environment_value(node_role_arns: str) -> str:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    value: str = resolve(variables[NODE_ROLES_SETTING], node_role_arns)
    return value


def principal_arn_condition(node_role_arns: str) -> dict[str, Any]:
    policy = TEMPLATE["Resources"]["LifecyclePolicy"]["Properties"]["PolicyDocument"]
    (statement,) = (s for s in policy["Statement"] if "eks:CreateAccessEntry" in s["Action"])
    condition: dict[str, Any] = resolve(statement["Condition"], node_role_arns)
    return condition


def code_patterns(value: str) -> tuple[str, ...] | None:
    """The patterns the code reads from `value` (none: unset, each cluster's own account's
    roles); None when it refuses the value."""
    try:
        patterns = Settings.from_env({NODE_ROLES_SETTING: value}).node_roles.patterns
    except ConfigurationError as error:
        assert error.field == NODE_ROLES_SETTING
        return None
    return () if patterns is None else patterns


def test_left_empty_the_functions_and_iam_allow_every_role_of_the_stacks_account() -> None:
    assert PARAMETER["Type"] == "String"
    assert PARAMETER["Default"] == ""
    assert parameter_accepts(PARAMETER, "")
    assert environment_value("") == ACCOUNT_ROLES
    assert code_patterns(environment_value("")) == (ACCOUNT_ROLES,)
    assert principal_arn_condition("")["ArnLike"] == {"eks:principalArn": [ACCOUNT_ROLES]}


def test_the_functions_and_iam_read_the_same_patterns() -> None:
    value = "arn:aws:iam::111122223333:role/nodes/*,arn:aws:iam::444455556666:role/win-20??"
    assert parameter_accepts(PARAMETER, value)
    assert environment_value(value) == value
    patterns = code_patterns(environment_value(value))
    assert patterns == tuple(value.split(","))
    condition = principal_arn_condition(value)
    assert condition["ArnLike"] == {"eks:principalArn": list(patterns)}
    # Still only EC2_WINDOWS entries: both keys must hold (IAM ANDs a condition's operators).
    assert condition["StringEquals"] == {"eks:accessEntryType": "EC2_WINDOWS"}


def test_every_function_gets_the_setting() -> None:
    # Through Globals; no function replaces it with a value of its own.
    for resource in TEMPLATE["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            own = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert NODE_ROLES_SETTING not in own


# --- The parameter's pattern is the code's -----------------------------------------------------

# Near the edges of the rule: each part valid, wildcarded, or subtly wrong.
partitions = st.sampled_from(["aws", "aws-cn", "aws-us-gov", "*", "a?s", "AWS", "", "aws cn"])
accounts = st.sampled_from(["111122223333", "*", "1111*", "???122223333", "11112222333", "x", ""])
services = st.sampled_from(["iam", "IAM", "sts", "*"])
regions = st.sampled_from(["", "us-east-1"])
resources = st.sampled_from(["role/", "Role/", "instance-profile/", "user/", "role", ""])
rests = st.text(st.sampled_from("aZ09/*?+=.@_-:, \t~!é"), max_size=12)
patterns = st.builds(
    lambda p, s, r, a, res, rest: f"arn:{p}:{s}:{r}:{a}:{res}{rest}",
    partitions,
    services,
    regions,
    accounts,
    resources,
    rests,
)
valid_patterns = st.builds(
    lambda p, a, rest: f"arn:{p}:iam::{a}:role/{rest}",
    st.sampled_from(["aws", "aws-cn", "*", "a?s"]),
    st.sampled_from(["111122223333", "*", "1111*", "???122223333"]),
    st.text(st.sampled_from("aZ09/*?+=.@_-:~!"), min_size=1, max_size=12),
)
# Mostly valid, so that lists of several accepted patterns come up too.
items = st.one_of(
    valid_patterns, valid_patterns, valid_patterns, patterns, st.just(""), st.text(max_size=8)
)
values = st.lists(items, max_size=3).map(",".join)


@given(values)
def test_the_parameter_takes_a_value_exactly_when_the_code_does(value: str) -> None:
    code_takes = value.strip() == value and code_patterns(value) is not None
    assert parameter_accepts(PARAMETER, value) == code_takes


def test_the_parameters_pattern_repeats_the_codes() -> None:
    item = NODE_ROLE_PATTERN.pattern
    assert PARAMETER["AllowedPattern"] == f"^(?:{item}(?:,{item})*)?$"
    assert int(PARAMETER["MaxLength"]) <= 1024  # the list goes into a 6144-character policy too
