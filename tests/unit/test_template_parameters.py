"""template.yaml's parameters refuse at deploy time what the functions would refuse at run time.

The functions parse their settings when they start (winnodes/config.py); a value they refuse
fails every invocation, and launch actions then end in ABANDON. So each parameter passed to them
carries a constraint CloudFormation checks, tested here against the code itself. CloudFormation
matches AllowedPattern with Java's regex engine; the patterns use only constructs Python's `re`
reads the same way (classes, bounded repeats, lookaheads), and are matched here as a full match."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.template import condition_holds, load_template, parameter_accepts
from winnodes.config import DURATION_BOUNDS, Settings
from winnodes.decisions.heartbeat import HEARTBEAT_AT_FRACTION, hook_global_timeout
from winnodes.decisions.smoke import IMAGE_REFERENCE, smoke_test_namespace_problem
from winnodes.errors import ConfigurationError
from winnodes.services.fleet import STEP_RESERVE

TEMPLATE = load_template()
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
# Environment variable -> the parameter that sets it, for every function.
SETTINGS: dict[str, str] = {
    variable: value["Fn::Ref"]
    for variable, value in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"].items()
    if isinstance(value, dict) and "Fn::Ref" in value
}


def code_accepts(variable: str, value: str) -> bool:
    try:
        Settings.from_env({variable: value})
    except ConfigurationError as error:
        assert error.field == variable
        return False
    return True


def accepts(parameter: str, value: str) -> bool:
    return parameter_accepts(PARAMETERS[parameter], value)


def pattern_accepts(parameter: str, value: str) -> bool:
    """The AllowedPattern alone, without the MaxLength the functions' environment sets (see
    test_template_environment_size.py)."""
    return re.fullmatch(PARAMETERS[parameter]["AllowedPattern"], value) is not None


def has_extra_tags(value: str) -> bool:
    return condition_holds(TEMPLATE, "HasExtraInstanceTags", {"ExtraInstanceTags": value})


def test_every_string_parameter_the_functions_parse_is_constrained() -> None:
    assert set(SETTINGS) >= {"EXTRA_INSTANCE_TAGS", "SMOKE_TEST_IMAGE", "SMOKE_TEST_NAMESPACE"}
    for name in SETTINGS.values():
        parameter = PARAMETERS[name]
        if parameter["Type"] == "String":
            assert "AllowedValues" in parameter or "AllowedPattern" in parameter, name
            assert "AllowedValues" in parameter or "ConstraintDescription" in parameter, name
        else:
            assert parameter["Type"] == "Number", name
            assert {"MinValue", "MaxValue"} <= set(parameter), name


def test_every_parameter_default_is_accepted_by_the_template_and_the_code() -> None:
    for variable, name in SETTINGS.items():
        default = str(PARAMETERS[name].get("Default", ""))
        if PARAMETERS[name]["Type"] == "String":
            assert accepts(name, default), name
        assert code_accepts(variable, default), name


@pytest.mark.parametrize("name", ["JoinDeadlineSeconds", "DrainDeadlineSeconds"])
def test_deadlines_range_up_to_the_hooks_own_limit(name: str) -> None:
    # A larger deadline changes nothing (it is capped at the hook's limit, 48 h at most), and
    # one too large for a duration fails every invocation.
    parameter = PARAMETERS[name]
    variable = next(v for v, p in SETTINGS.items() if p == name)
    assert parameter["MaxValue"] == hook_global_timeout(timedelta(days=1)).total_seconds()
    for bound in (parameter["MinValue"], parameter["MaxValue"]):
        assert code_accepts(variable, str(bound))
    assert not code_accepts(variable, "1e20")


# --- Number parameters -------------------------------------------------------------------------

NUMBER_SETTINGS = {v: p for v, p in SETTINGS.items() if PARAMETERS[p]["Type"] == "Number"}


def number_accepted(parameter: str, value: float) -> bool:
    """Whether CloudFormation takes `value` for a Number parameter: within MinValue..MaxValue."""
    bounds = PARAMETERS[parameter]
    return float(bounds["MinValue"]) <= value <= float(bounds["MaxValue"])


def test_the_number_parameters_are_the_deadlines() -> None:
    assert NUMBER_SETTINGS == {
        "JOIN_DEADLINE_SECONDS": "JoinDeadlineSeconds",
        "DRAIN_DEADLINE_SECONDS": "DrainDeadlineSeconds",
    }


@given(
    variable=st.sampled_from(sorted(NUMBER_SETTINGS)),
    seconds=st.one_of(
        st.floats(allow_nan=False, allow_infinity=True),
        st.integers(min_value=-(10**6), max_value=10**6).map(float),
        # Near the bounds, where the two could disagree.
        st.sampled_from([0.0, 1.0, 60.0, 120.0, 172800.0]).flatmap(
            lambda bound: st.floats(bound - 2, bound + 2)
        ),
    ),
)
def test_the_number_bounds_agree_with_the_code(variable: str, seconds: float) -> None:
    """Every value a deployment can set, the code takes; above MaxValue both refuse. Below
    MinValue, the code still takes a value of a second or more, which only the local cloud sets
    (a deadline of seconds to reach in a test): DURATION_BOUNDS says why."""
    parameter = NUMBER_SETTINGS[variable]
    template, code = number_accepted(parameter, seconds), code_accepts(variable, repr(seconds))
    if seconds >= float(PARAMETERS[parameter]["MinValue"]):
        assert template == code
    else:
        assert not template
        assert code == (seconds >= DURATION_BOUNDS[variable][0])


@pytest.mark.parametrize("variable", sorted(NUMBER_SETTINGS))
def test_the_codes_range_is_the_parameters_but_for_a_lower_floor(variable: str) -> None:
    parameter = PARAMETERS[NUMBER_SETTINGS[variable]]
    least, most = DURATION_BOUNDS[variable]
    assert most == parameter["MaxValue"]
    assert 0 < least <= parameter["MinValue"]


# --- ExtraInstanceTags -------------------------------------------------------------------------

# As tests/unit/config/test_extra_instance_tags.py draws them: keys near the rules' edges.
tag_keys = st.one_of(
    st.text(max_size=140),
    st.sampled_from(
        ["aws:", "AWS:", "aWs:", "kubernetes.io/cluster/", "kubernetes.io/", "eks-windows-nodes/"]
    ).flatmap(lambda prefix: st.text(max_size=10).map(lambda rest: prefix + rest)),
    st.text(min_size=127, max_size=129),
)
tag_values = st.one_of(st.text(max_size=40), st.text(min_size=255, max_size=258))
# The Basic Multilingual Plane: json.dumps escapes a character beyond it as two \u escapes.
bmp = st.characters(max_codepoint=0xFFFF)
bmp_tags = st.dictionaries(st.text(bmp, max_size=130), st.text(bmp, max_size=258), max_size=4)


@given(st.dictionaries(tag_keys, tag_values, max_size=4))
def test_the_tags_pattern_takes_what_json_dumps_writes_exactly_when_the_code_does(
    tags: dict[str, str],
) -> None:
    value = json.dumps(tags, ensure_ascii=False)
    assert pattern_accepts("ExtraInstanceTags", value) == code_accepts("EXTRA_INSTANCE_TAGS", value)


@given(bmp_tags)
def test_escaped_tags_are_counted_as_the_code_counts_them(tags: dict[str, str]) -> None:
    value = json.dumps(tags)  # every non-ASCII character as \uXXXX
    assert pattern_accepts("ExtraInstanceTags", value) == code_accepts("EXTRA_INSTANCE_TAGS", value)


@given(st.dictionaries(tag_keys, tag_values, max_size=4), st.sampled_from(["", " ", "\n  "]))
def test_the_extra_tags_condition_agrees_with_the_code_on_every_value_the_pattern_takes(
    tags: dict[str, str], padding: str
) -> None:
    value = padding + json.dumps(tags, indent=2 if padding else None) + padding
    if pattern_accepts("ExtraInstanceTags", value):
        tags_read = Settings.from_env({"EXTRA_INSTANCE_TAGS": value}).extra_instance_tags
        assert has_extra_tags(value) == bool(tags_read)


@pytest.mark.parametrize("value", ["", "{}"])
def test_no_tags_switches_the_broader_tagging_permission_off(value: str) -> None:
    assert accepts("ExtraInstanceTags", value)
    assert Settings.from_env({"EXTRA_INSTANCE_TAGS": value}).extra_instance_tags == {}
    assert not has_extra_tags(value)


@pytest.mark.parametrize(
    "value",
    [
        "team=a",
        "   ",
        "[]",
        '["team", "a"]',
        '{"team": 1}',
        '{"team": null}',
        '{"team": "a",}',
        '{"team": "a"',
        '{"aws:team": "a"}',
        '{"AWS:team": "a"}',
        '{"kubernetes.io/cluster/prod": "owned"}',
        '{"eks-windows-nodes/managed": "true"}',
        '{"ok": "a", "eks-windows-nodes/managed": "true"}',
        '{"": "a"}',
        json.dumps({"k" * 129: "a"}),
        json.dumps({"team": "v" * 257}),
        json.dumps({f"team-{n}": "x" for n in range(48)}),
        '{"team": "a\tb"}',  # a raw control character: not JSON
    ],
)
def test_the_tags_pattern_refuses_what_the_code_refuses(value: str) -> None:
    assert not code_accepts("EXTRA_INSTANCE_TAGS", value)
    assert not pattern_accepts("ExtraInstanceTags", value)


def test_forty_seven_tags_pass_the_pattern_but_not_the_length() -> None:
    value = json.dumps({f"team-{n}": "x" * 256 for n in range(47)})
    assert pattern_accepts("ExtraInstanceTags", value)
    assert code_accepts("EXTRA_INSTANCE_TAGS", value)
    assert not accepts("ExtraInstanceTags", value)


def tags_of_length(length: int) -> str:
    """JSON tags of exactly `length` characters, no value longer than AWS allows (256)."""
    tags: dict[str, str] = {}
    while len(json.dumps(tags)) < length:
        key = f"t{len(tags)}"
        room = length - len(json.dumps(tags | {key: ""}))
        tags[key] = "x" * min(max(room, 0), 200)
    return json.dumps(tags)


def test_the_tags_are_held_to_the_length_the_environment_leaves_them() -> None:
    # As long as MaxLength, and one character longer: the pattern and the code take both.
    longest = int(PARAMETERS["ExtraInstanceTags"]["MaxLength"])
    for length, accepted in ((longest, True), (longest + 1, False)):
        value = tags_of_length(length)
        assert len(value) == length
        assert pattern_accepts("ExtraInstanceTags", value)
        assert code_accepts("EXTRA_INSTANCE_TAGS", value)
        assert accepts("ExtraInstanceTags", value) is accepted


# What the template's comment owns up to: the pattern reads text, not decoded JSON.
FORTY_SEVEN = json.dumps({f"team-{n}": "x" for n in range(47)})


@pytest.mark.parametrize(
    ("value", "pattern", "code"),
    [
        # Reserved prefixes spelled with escapes get past it; the functions refuse them.
        ('{"\\u0061ws:team": "a"}', True, False),
        ('{"eks-windows-nodes\\/managed": "true"}', True, False),
        # Stricter: other spellings of an empty object, every pair of a repeated key counted,
        # and a \u surrogate pair counted as two characters.
        ("{ }", False, True),
        ("{}\n", False, True),
        (FORTY_SEVEN[:-1] + ', "team-0": "y"}', False, True),
        (json.dumps({"\U0001f600" * 65: "a"}), False, True),
    ],
)
def test_where_the_tags_pattern_and_the_code_differ(value: str, pattern: bool, code: bool) -> None:
    assert pattern_accepts("ExtraInstanceTags", value) is pattern
    assert code_accepts("EXTRA_INSTANCE_TAGS", value) is code


# --- SmokeTestImage ----------------------------------------------------------------------------

images = st.one_of(
    st.from_regex(IMAGE_REFERENCE, fullmatch=True),
    st.text(st.characters(codec="ascii"), max_size=40),
)


@given(images)
def test_the_image_pattern_takes_what_the_code_takes(value: str) -> None:
    if value != value.strip():  # stricter: the code strips blanks, the pattern refuses them
        assert not accepts("SmokeTestImage", value)
    else:
        assert accepts("SmokeTestImage", value) == code_accepts("SMOKE_TEST_IMAGE", value)


NAME_255 = "registry.example.com:5000/" + "/".join(["a" * 56] * 4)  # 26 + 4 * 56 + 3 = 253
DIGEST = "@sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("mcr.microsoft.com/windows/nanoserver:ltsc2022", True),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/smoke:ltsc2022", True),
        ("localhost:5000/smoke" + DIGEST, True),
        (NAME_255 + "ab", True),  # a name of 255
        (NAME_255 + "ab:" + "t" * 128 + DIGEST, True),  # a long tag and digest do not count
        (NAME_255 + "abc", False),  # 256
        (NAME_255 + "abc:v1", False),
        ("a" * 1020 + ":tag", False),  # beyond MaxLength too
        ("nanoserver ltsc2022", False),
        ("Mcr.Microsoft.com/Windows/NanoServer", False),
        ("smoke:", False),
        ("smoke@sha256:abc", False),
        (" smoke", False),  # the code strips it; the pattern refuses it
    ],
)
def test_image_examples(value: str, valid: bool) -> None:
    assert accepts("SmokeTestImage", value) is valid
    if value == value.strip():
        assert code_accepts("SMOKE_TEST_IMAGE", value) is valid


# --- SmokeTestNamespace ------------------------------------------------------------------------


@given(
    st.one_of(
        st.from_regex(r"(kube-)?[a-z0-9-]{1,70}", fullmatch=True),
        st.text(max_size=20),
    )
)
def test_the_namespace_pattern_takes_what_the_code_takes(value: str) -> None:
    if value and value == value.strip():  # the code reads "" as the default and strips blanks
        assert accepts("SmokeTestNamespace", value) == (smoke_test_namespace_problem(value) is None)
    else:
        assert not accepts("SmokeTestNamespace", value)


# --- AlarmTopicArn -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("arn:aws:sns:us-east-1:111122223333:ops-alerts", True),
        ("arn:aws-us-gov:sns:us-gov-west-1:111122223333:ops_alerts-2", True),
        ("ops-alerts", False),
        ("arn:aws:sqs:us-east-1:111122223333:ops-alerts", False),
    ],
)
def test_the_alarm_topic_is_empty_or_a_topic_arn(value: str, valid: bool) -> None:
    assert accepts("AlarmTopicArn", value) is valid
    assert condition_holds(TEMPLATE, "HasAlarmTopic", {"AlarmTopicArn": value}) is bool(value)


# --- ReconcileSchedule ---------------------------------------------------------------------------
# Once the lifecycle function's wait budget is spent, only reconciler passes heartbeat a held
# action, each when half its hook's heartbeat timeout has gone by since the last: one finding it
# just short of that leaves the next pass the other half.

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
# The least heartbeat timeout README's Node groups asks of the hooks.
HOOK_HEARTBEAT_TIMEOUT = timedelta(seconds=900)
RATE = re.compile(r"rate\((?P<count>\d+) (?P<unit>minute|hour|day)s?\)")


def rate_interval(expression: str) -> timedelta:
    match = RATE.fullmatch(expression)
    assert match is not None, expression
    return timedelta(**{f"{match['unit']}s": int(match["count"])})


def reconcile_timeout() -> timedelta:
    return timedelta(seconds=TEMPLATE["Resources"]["ReconcileFunction"]["Properties"]["Timeout"])


def working_time() -> timedelta:
    """How far into its invocation a pass still starts a step (services.fleet)."""
    return reconcile_timeout() - STEP_RESERVE


def longest_apart(interval: timedelta) -> timedelta:
    """How far apart two passes heartbeat a held action at most, when neither defers it: the
    first at its start, the next at the end of its working time, after a step's reads that take
    up to STEP_RESERVE. Passes do not overlap (reserved concurrency 1): a tick that finds one
    running is retried for a minute and then dropped, so the next pass starts at the latest at
    the first tick after the running one's timeout."""
    ticks_to_wait = math.ceil(reconcile_timeout() / interval)
    return interval * ticks_to_wait + working_time() + STEP_RESERVE


def test_the_schedule_takes_cron_expressions_too() -> None:
    assert "AllowedPattern" not in PARAMETERS["ReconcileSchedule"]


def test_the_default_schedule_reaches_held_actions_in_time() -> None:
    default = rate_interval(PARAMETERS["ReconcileSchedule"]["Default"])
    assert longest_apart(default) < HOOK_HEARTBEAT_TIMEOUT * HEARTBEAT_AT_FRACTION


def test_the_schedule_is_documented_with_its_bound() -> None:
    half = HOOK_HEARTBEAT_TIMEOUT * HEARTBEAT_AT_FRACTION
    row = next(line for line in README.splitlines() if line.startswith("| `ReconcileSchedule` |"))
    for text in (PARAMETERS["ReconcileSchedule"]["Description"], row):
        assert f"interval + {working_time().total_seconds():g} s" in text, text
        assert f"{HOOK_HEARTBEAT_TIMEOUT.total_seconds():g} s hooks" in text, text
        match = re.search(r"rate\((\d+) minutes\)`? or more often", text)
        assert match is not None, text
        bound = int(match[1])
        # Every rate up to the one named keeps held actions alive, and the next does not.
        assert all(longest_apart(timedelta(minutes=m)) < half for m in range(1, bound + 1))
        assert longest_apart(timedelta(minutes=bound + 1)) >= half
