"""EXTRA_INSTANCE_TAGS: accepted exactly when EC2's CreateTags would accept the tags and they
leave the cluster tag to the join (EC2 tag restrictions:
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.config import Settings
from winnodes.errors import ConfigurationError

VARIABLE = "EXTRA_INSTANCE_TAGS"

keys = st.text(min_size=0, max_size=140)
values = st.text(max_size=270)
# Keys that land near the edges the rules draw: reserved prefixes in any case, the cluster tag.
edge_keys = st.one_of(
    keys,
    st.sampled_from(
        [
            "aws:",
            "AWS:",
            "Aws:",
            "aWs:",
            "kubernetes.io/cluster/",
            "kubernetes.io/",
            "eks-windows-nodes/",
        ]
    ).flatmap(lambda prefix: st.text(max_size=10).map(lambda rest: prefix + rest)),
    st.text(min_size=127, max_size=129),
)


def acceptable(tags: dict[str, str]) -> bool:
    return len(tags) <= 47 and all(
        1 <= len(key) <= 128
        and len(value) <= 256
        and not key.lower().startswith("aws:")
        and not key.startswith(("kubernetes.io/cluster/", "eks-windows-nodes/"))
        for key, value in tags.items()
    )


@given(st.dictionaries(edge_keys, values, max_size=4))
def test_tags_are_accepted_exactly_when_ec2_would_take_them(tags: dict[str, str]) -> None:
    env = {VARIABLE: json.dumps(tags)}
    if acceptable(tags):
        assert Settings.from_env(env).extra_instance_tags == tags
    else:
        with pytest.raises(ConfigurationError) as raised:
            Settings.from_env(env)
        assert raised.value.field == VARIABLE


def test_forty_seven_tags_fit_beside_ours_and_forty_eight_do_not() -> None:
    # Ours: the cluster tag, and on warm-pool groups the join-start and return stamps.
    forty_seven = {f"team-{n}": "x" for n in range(47)}
    assert len(Settings.from_env({VARIABLE: json.dumps(forty_seven)}).extra_instance_tags) == 47
    with pytest.raises(ConfigurationError, match="at most 47 tags"):
        Settings.from_env({VARIABLE: json.dumps(forty_seven | {"team-47": "x"})})
