"""The reconcile handler starts a pass only for a schedule tick: anything else is rejected with
the field, an error log and the EventRejected metric, before anything is wired or called."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.deployment import Handler, lambda_context, load_handler
from tests.helpers.events import load_event
from winnodes import wiring
from winnodes.observability import logger
from winnodes.services.reconcile import ReconcileReport


class Reconciler:
    def __init__(self) -> None:
        self.passes = 0

    def reconcile(self, **_: Any) -> ReconcileReport:
        self.passes += 1
        return ReconcileReport(groups=1)


@pytest.fixture
def reconciler(monkeypatch: pytest.MonkeyPatch) -> Reconciler:
    stand_in = Reconciler()
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: stand_in)
    return stand_in


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Handler]:
    # Nothing listens on port 9: any AWS call would fail loudly instead of passing silently.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    wiring.reset()
    yield load_handler("reconcile")
    wiring.reset()


def emitted(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def scheduler_tick() -> dict[str, Any]:
    raw = load_event("schedule-reconcile")
    raw |= {"source": "aws.scheduler", "detail": "{}"}  # Scheduler's empty detail is a string
    return raw


@pytest.mark.parametrize(
    "event",
    [
        load_event("schedule-reconcile"),
        scheduler_tick(),
        # What the local cloud's Product.tick sends: the reconciler reads nothing else.
        {"source": "aws.events", "detail-type": "Scheduled Event"},
    ],
    ids=["EventBridge rule", "EventBridge Scheduler", "local cloud tick"],
)
def test_a_schedule_tick_runs_one_pass(
    handler: Handler, reconciler: Reconciler, event: dict[str, Any]
) -> None:
    assert handler(event, lambda_context("reconcile")) == {**ReconcileReport(groups=1).as_json()}
    assert reconciler.passes == 1


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ("not an event", "event"),
        ([1, 2], "event"),
        (None, "event"),
        ({}, "source"),
        (load_event("lifecycle-launch"), "source"),
        ({"source": "aws.events", "detail-type": "EC2 Instance Launch Successful"}, "detail-type"),
        ({"source": "my.app", "detail-type": "Scheduled Event"}, "source"),
        # AWS spells it detail-type; the Python name is no key of an event.
        ({"source": "aws.events", "detail_type": "Scheduled Event"}, "detail-type"),
    ],
    ids=["text", "list", "null", "empty", "lifecycle", "detail-type", "source", "snake_case"],
)
def test_anything_else_is_rejected_without_a_pass(
    handler: Handler,
    reconciler: Reconciler,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    event: Any,
    field: str,
) -> None:
    # The logger holds the stdout of its import; here, pytest's capture of this test.
    stream = logger.registered_handler
    assert isinstance(stream, logging.StreamHandler)
    monkeypatch.setattr(stream, "stream", sys.stdout)

    result = handler(event, lambda_context("reconcile"))

    assert (result["status"], result["field"]) == ("rejected", field)
    assert reconciler.passes == 0
    records = emitted(capsys.readouterr().out)
    errors = [r for r in records if r.get("level") == "ERROR"]
    assert [(r["message"], r["field"]) for r in errors] == [("not a schedule event", field)]
    assert any("EventRejected" in r for r in records)


def test_a_rejection_wires_nothing(handler: Handler, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: pytest.fail("wired"))
    result = handler(load_event("lifecycle-launch"), lambda_context("reconcile"))
    assert result["status"] == "rejected"
