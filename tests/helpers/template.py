"""template.yaml read as data: CloudFormation's short-form intrinsics (!Sub, !Ref, ...) become
their long form ({"Fn::Sub": ...}; `!Ref` reads as {"Fn::Ref": ...}), and conditions can be
evaluated for given parameter values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).parents[2] / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics as plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise TypeError(f"!{suffix} on an unexpected YAML node: {node!r}")
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template() -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CloudFormationLoader)
    return template


def parameter_accepts(parameter: Mapping[str, Any], value: str) -> bool:
    """Whether CloudFormation takes `value` for a String parameter: its AllowedValues,
    MaxLength and AllowedPattern, the pattern matched against the whole value. CloudFormation
    matches patterns as Java's java.util.regex does; the template's use only constructs Python's
    `re` reads the same way (classes, bounded and possessive repeats, lookaheads)."""
    if "AllowedValues" in parameter and value not in parameter["AllowedValues"]:
        return False
    if len(value) > int(parameter.get("MaxLength", len(value))):
        return False
    pattern = parameter.get("AllowedPattern")
    return pattern is None or re.fullmatch(pattern, value) is not None


def condition_holds(template: Mapping[str, Any], name: str, parameters: Mapping[str, str]) -> bool:
    """Evaluate the template's condition `name` (Fn::Not, Fn::Or, Fn::And, Fn::Equals over
    parameter references and literals) for the given parameter values."""

    def value(expression: Any) -> Any:
        if isinstance(expression, dict) and set(expression) == {"Fn::Ref"}:
            return parameters[expression["Fn::Ref"]]
        return evaluate(expression)

    def evaluate(expression: Any) -> Any:
        if not isinstance(expression, dict):
            return expression
        ((function, arguments),) = expression.items()
        match function:
            case "Fn::Not":
                return not evaluate(arguments[0])
            case "Fn::Or":
                return any(evaluate(argument) for argument in arguments)
            case "Fn::And":
                return all(evaluate(argument) for argument in arguments)
            case "Fn::Equals":
                return value(arguments[0]) == value(arguments[1])
            case "Condition":
                return condition_holds(template, arguments, parameters)
        raise ValueError(f"cannot evaluate {function} in a condition")

    return bool(evaluate(template["Conditions"][name]))


def alarms(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's CloudWatch alarms: logical id -> properties."""
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def function_variables(template: Mapping[str, Any], function: str) -> dict[str, Any]:
    """The environment variables a function of the template gets from Globals and its own
    Environment, the function's winning, as written (text, or an intrinsic function)."""
    return {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {}),
    }


def function_environment(template: Mapping[str, Any], function: str) -> dict[str, str]:
    """function_variables written as plain text (the others are parameters, known at deploy
    time)."""
    variables = function_variables(template, function)
    return {name: value for name, value in variables.items() if isinstance(value, str)}
