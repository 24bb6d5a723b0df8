"""EventBridge pattern matching (the subset our rules use)."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.aws.patterns import PatternError, matches, validate_pattern

EVENT = {
    "source": "aws.autoscaling",
    "detail-type": "EC2 Instance-launch Lifecycle Action",
    "resources": ["arn:a", "arn:b"],
    "detail": {
        "AutoScalingGroupName": "win-a",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
        "Count": 3,
        "Empty": None,
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.autoscaling"]}, True),
        ({"source": ["aws.ec2"]}, False),
        ({"source": ["aws.ec2", "aws.autoscaling"]}, True),
        ({"detail-type": [{"prefix": "EC2 Instance-"}]}, True),
        ({"detail-type": [{"prefix": "EC2 Spot"}]}, False),
        ({"detail": {"AutoScalingGroupName": [{"anything-but": "win-b"}]}}, True),
        ({"detail": {"AutoScalingGroupName": [{"anything-but": ["win-a", "x"]}]}}, False),
        ({"detail": {"AutoScalingGroupName": [{"anything-but": {"prefix": "win-"}}]}}, False),
        ({"detail": {"Missing": [{"exists": False}]}}, True),
        ({"detail": {"Missing": [{"exists": True}]}}, False),
        ({"detail": {"AutoScalingGroupName": [{"exists": True}]}}, True),
        ({"detail": {"AutoScalingGroupName": [{"exists": False}]}}, False),
        ({"detail": {"Missing": [{"anything-but": "x"}]}}, False),
        ({"detail": {"Count": [3]}}, True),
        ({"detail": {"Count": ["3"]}}, False),
        ({"detail": {"Count": [{"numeric": [">", 1, "<=", 3]}]}}, True),
        ({"detail": {"Empty": [None]}}, True),
        ({"resources": ["arn:b"]}, True),
        ({"detail": {"AutoScalingGroupName": [{"suffix": "-a"}]}}, True),
        ({"detail": {"AutoScalingGroupName": [{"equals-ignore-case": "WIN-A"}]}}, True),
        ({"detail": {"AutoScalingGroupName": {"nested": ["x"]}}}, False),
        ({"source": ["aws.autoscaling"], "detail": {"LifecycleTransition": ["nope"]}}, False),
    ],
)
def test_matches(pattern: dict[str, Any], expected: bool) -> None:
    validate_pattern(pattern)
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(
    "pattern", [{}, {"source": []}, {"source": "aws.ec2"}, {"source": [{"bogus": 1}]}]
)
def test_invalid_patterns_are_refused(pattern: dict[str, Any]) -> None:
    with pytest.raises(PatternError):
        validate_pattern(pattern)
