"""Sample events from `events/`: the same files `sam local invoke -e` uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parents[2] / "events"


def event_path(name: str) -> Path:
    path = EVENTS / (name if name.endswith(".json") else f"{name}.json")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in EVENTS.glob("*.json")))
        raise FileNotFoundError(f"no sample event {name!r} in {EVENTS}; known: {known}")
    return path


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy each call, so a test may mutate it."""
    loaded: dict[str, Any] = json.loads(event_path(name).read_text(encoding="utf-8"))
    return loaded


def sample_event_names() -> list[str]:
    return sorted(p.stem for p in EVENTS.glob("*.json"))


def lifecycle_action(name: str, *, group: str, instance: str, hook: str) -> dict[str, Any]:
    """A lifecycle-action sample pointed at a test's group, instance and hook."""
    raw = load_event(name)
    raw["detail"] |= {
        "AutoScalingGroupName": group,
        "EC2InstanceId": instance,
        "LifecycleHookName": hook,
    }
    return raw
