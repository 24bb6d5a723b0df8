"""Only what the operator gave (an option, the event) is reported against an option, with exit
status 2. Invalid input met by the work itself (a role ARN read from an instance profile, a
value AWS returned) is a failure like an AWS one: one plain line, exit status 1.

In-process through `cli.main`, with the services replaced at the composition root (wiring)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from winnodes import cli, wiring
from winnodes.errors import InvalidInputError
from winnodes.observability import logger
from winnodes.services.reconcile import ReconcileReport

DEEP = InvalidInputError("role-arn", "'arn:aws:iam::111122223333:role/a#b' is not an IAM role ARN")


def main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", sys.stdout)
    return cli.main(argv)


class FailingLifecycleEvents:
    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        raise DEEP


class FailingReconciler:
    def reconcile(self) -> ReconcileReport:
        raise DEEP


@pytest.fixture(autouse=True)
def fresh_settings() -> Any:
    wiring.reset()
    yield
    wiring.reset()


def test_invalid_input_from_inside_the_join_is_no_option_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "lifecycle_events", lambda region=None: FailingLifecycleEvents())

    status = main(monkeypatch, "lifecycle", "-e", "events/lifecycle-launch.json")

    assert status == cli.EXIT_FAILURE
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"winnodes: error: {DEEP}\n"
    assert "--" not in err


def test_invalid_input_from_inside_a_reconciler_pass_is_no_option_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: FailingReconciler())

    assert main(monkeypatch, "reconcile", "--region", "us-east-1") == cli.EXIT_FAILURE
    assert capsys.readouterr().err == f"winnodes: error: {DEEP}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("lifecycle", "-e", "events/lifecycle-launch.json", "--region", "us east"),
            "--region: 'us east' is not an AWS region name",
        ),
        (
            ("lifecycle", "-e", "events/lifecycle-launch-malformed.json"),
            "--event: detail.EC2InstanceId: Field required",
        ),
        (("reconcile", "--region", "us_east_1"), "--region: 'us_east_1' is not an AWS region name"),
        (
            ("rbac", "--smoke-test-namespace", "Bad_NS"),
            "--smoke-test-namespace: 'Bad_NS'",
        ),
    ],
)
def test_what_the_operator_gave_is_still_named_with_exit_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    message: str,
) -> None:
    # Had the input got past its check, the stand-ins would say so.
    monkeypatch.setattr(wiring, "lifecycle_events", lambda region=None: FailingLifecycleEvents())
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: FailingReconciler())

    assert main(monkeypatch, *argv) == cli.EXIT_USAGE
    assert capsys.readouterr().err.startswith(f"winnodes: error: {message}")


def test_a_lifecycle_event_is_handled_in_the_region_it_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shell set for another region: the event's group is in the event's region.
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    regions: list[str | None] = []

    class Ignoring:
        def handle(self, event: dict[str, Any]) -> dict[str, Any]:
            return {"status": "ignored"}

    def lifecycle_events(region: str | None = None) -> Ignoring:
        regions.append(region)
        return Ignoring()

    monkeypatch.setattr(wiring, "lifecycle_events", lifecycle_events)

    assert main(monkeypatch, "lifecycle", "-e", "events/lifecycle-launch.json") == 0
    assert regions == ["us-east-1"]
