"""Settings from the environment, parsed once into one typed object. A bad value is a
ConfigurationError naming the variable, raised at start-up rather than mid-way through a join."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from winnodes.decisions.node_roles import (
    NODE_ROLES_SETTING,
    NodeRoleAllowList,
    node_role_pattern_problem,
)
from winnodes.decisions.smoke import (
    DEFAULT_SMOKE_TEST_NAMESPACE,
    is_image_reference,
    smoke_test_namespace_problem,
)
from winnodes.errors import ConfigurationError
from winnodes.models.groups import KUBERNETES_CLUSTER_TAG_PREFIX
from winnodes.models.identifiers import is_region_name


@dataclass(frozen=True)
class Settings:
    region: str | None = None
    join_deadline: timedelta = timedelta(minutes=20)
    join_wait_budget: timedelta = timedelta(minutes=10)
    join_poll_interval: timedelta = timedelta(seconds=2)
    extra_instance_tags: Mapping[str, str] = field(default_factory=dict)
    drain_deadline: timedelta = timedelta(minutes=15)
    drain_wait_budget: timedelta = timedelta(minutes=10)
    drain_force: bool = False
    drain_delete_emptydir_data: bool = True
    smoke_test_enabled: bool = False
    smoke_test_image: str | None = None  # None: Nano Server of the node's Windows release
    smoke_test_namespace: str = DEFAULT_SMOKE_TEST_NAMESPACE
    node_roles: NodeRoleAllowList = field(default_factory=NodeRoleAllowList)
    log_level: str | None = None  # None: Powertools' default, INFO

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            region=region_from_env(env),
            join_deadline=_seconds(env, "JOIN_DEADLINE_SECONDS", cls.join_deadline),
            join_wait_budget=_seconds(env, "JOIN_WAIT_BUDGET_SECONDS", cls.join_wait_budget),
            join_poll_interval=_seconds(env, "JOIN_POLL_SECONDS", cls.join_poll_interval),
            extra_instance_tags=_tags(env, "EXTRA_INSTANCE_TAGS"),
            drain_deadline=_seconds(env, "DRAIN_DEADLINE_SECONDS", cls.drain_deadline),
            drain_wait_budget=_seconds(env, "DRAIN_WAIT_BUDGET_SECONDS", cls.drain_wait_budget),
            drain_force=_flag(env, "DRAIN_FORCE", default=False),
            drain_delete_emptydir_data=_flag(env, "DRAIN_DELETE_EMPTYDIR_DATA", default=True),
            smoke_test_enabled=_flag(env, "SMOKE_TEST_ENABLED", default=False),
            smoke_test_image=_image(env, "SMOKE_TEST_IMAGE"),
            smoke_test_namespace=_namespace(
                env, "SMOKE_TEST_NAMESPACE", DEFAULT_SMOKE_TEST_NAMESPACE
            ),
            node_roles=_node_roles(env, NODE_ROLES_SETTING),
            log_level=log_level_from_env(env),
        )


def region_from_env(env: Mapping[str, str]) -> str | None:
    """AWS_REGION, or else AWS_DEFAULT_REGION; None when neither is set (the profile's, then)."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        raw = env.get(name)
        if not raw:
            continue
        if not is_region_name(raw):
            raise ConfigurationError(name, f"{raw!r} is not an AWS region name")
        return raw
    return None


LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Also accepted by logging, so settings that work today go on working.
_LOG_LEVEL_ALIASES: Final = ("WARN", "FATAL")


def log_level_from_env(env: Mapping[str, str]) -> str | None:
    """The level POWERTOOLS_LOG_LEVEL, or else LOG_LEVEL, names, read as Powertools reads them;
    None when neither is set. Powertools itself fails on an unknown name with a bare
    `ValueError: Unknown level` as the logger is made."""
    for name in ("POWERTOOLS_LOG_LEVEL", "LOG_LEVEL"):
        raw = env.get(name)
        if not raw:
            continue
        level = raw.strip().upper()
        if level not in LOG_LEVELS + _LOG_LEVEL_ALIASES:
            raise ConfigurationError(name, f"{raw!r} is not a log level ({', '.join(LOG_LEVELS)})")
        return level
    return None


# The range of each duration, in seconds. "Positive" is not enough: 1e-300 s is a zero timedelta
# (a deadline passed at the first look), a poll of 1e-9 s spins on the API server.
# The deadlines end where template.yaml's parameters end: 48 h, a hook's own limit, beyond which
# they change nothing. They begin lower than the parameters' MinValue (120 s, 60 s), which keeps
# a deployment from a short one, so that the local cloud's tests reach a deadline in seconds.
# A poll of at most 10 s leaves time for a heartbeat at half the shortest hook timeout (30 s).
DURATION_BOUNDS: Final[Mapping[str, tuple[float, float]]] = {
    "JOIN_DEADLINE_SECONDS": (1, 172800),
    "DRAIN_DEADLINE_SECONDS": (1, 172800),
    "JOIN_WAIT_BUDGET_SECONDS": (1, 172800),
    "DRAIN_WAIT_BUDGET_SECONDS": (1, 172800),
    "JOIN_POLL_SECONDS": (0.1, 10),
}


def _seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"{raw!r} is not a number of seconds") from None
    if math.isnan(value):  # float() accepts "nan"; it is no duration
        raise ConfigurationError(name, f"{raw!r} is not a number of seconds")
    least, most = DURATION_BOUNDS[name]
    if not least <= value <= most:
        raise ConfigurationError(name, f"must be {least:g} to {most:g} seconds, not {raw!r}")
    return timedelta(seconds=value)


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ConfigurationError(name, f"{raw!r} is not true or false")


def _tags(env: Mapping[str, str], name: str) -> dict[str, str]:
    raw = env.get(name)
    if not raw:
        return {}
    try:
        tags = json.loads(raw)
    except ValueError:
        raise ConfigurationError(name, "must be a JSON object of tag key to value") from None
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise ConfigurationError(name, "must be a JSON object of tag key to value")
    for key, value in tags.items():
        if problem := _tag_problem(key, value):
            raise ConfigurationError(name, problem)
    if len(tags) > _MAX_EXTRA_TAGS:
        raise ConfigurationError(
            name, f"at most {_MAX_EXTRA_TAGS} tags (EC2 allows 50 per instance, 3 are ours)"
        )
    return tags


# EC2 tag restrictions (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions):
# 50 tags per resource, keys of 1 to 128 characters, values of at most 256, and the aws: prefix
# reserved in any case. CreateTags would refuse each of these on every join.
# Ours beside them: the cluster tag, and on warm-pool groups the join-start and return stamps.
_MAX_EXTRA_TAGS: Final = 47
_OWN_TAG_PREFIX: Final = "eks-windows-nodes/"


def _tag_problem(key: str, value: str) -> str | None:
    if not 1 <= len(key) <= 128:
        return f"tag key {key[:40]!r} must be 1 to 128 characters"
    if len(value) > 256:
        return f"the value of tag {key!r} is longer than 256 characters"
    if key.lower().startswith("aws:"):
        return f"tag key {key!r}: keys starting with aws: are reserved"
    for prefix in (KUBERNETES_CLUSTER_TAG_PREFIX, _OWN_TAG_PREFIX):
        if key.startswith(prefix):
            return f"tag key {key!r}: {prefix}* tags are set by the functions"
    return None


def _image(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not is_image_reference(raw):
        raise ConfigurationError(name, f"{raw!r} is not an image reference")
    return raw


def _namespace(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if problem := smoke_test_namespace_problem(raw):
        raise ConfigurationError(name, problem)
    return raw


def _node_roles(env: Mapping[str, str], name: str) -> NodeRoleAllowList:
    raw = env.get(name, "")
    if not raw.strip():
        return NodeRoleAllowList()
    # Not stripped: IAM compares the template's list as written, so a blank would make a pattern
    # that the functions and eks:CreateAccessEntry's condition read differently.
    patterns = tuple(raw.split(","))
    for pattern in patterns:
        if problem := node_role_pattern_problem(pattern):
            raise ConfigurationError(name, problem)
    return NodeRoleAllowList(patterns)
