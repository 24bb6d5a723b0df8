"""stdout carries only a command's result (`winnodes reconcile | jq` works); logs and EMF metrics
go to stderr; a reconciler pass with errors exits 1; --region serves one run only.

In-process through `cli.main`, with the services replaced at the composition root (wiring) by
stand-ins that log and emit metrics as the real ones do."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers.cli import WINNODES
from winnodes import cli, wiring
from winnodes.errors import AwsError
from winnodes.observability import logger, metrics
from winnodes.services.reconcile import ReconcileReport


def main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """`cli.main` as in a fresh `winnodes` process, whose Powertools logger holds sys.stdout (here
    pytest's capture) rather than whatever stream was current when winnodes was first imported."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", sys.stdout)
    return cli.main(argv)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def emit_log_and_metric() -> None:
    logger.warning("group marked managed but unusable", extra={"asg": "win-b"})
    metrics.add_metric(name="ReconciledGroups", unit="Count", value=1)
    metrics.flush_metrics()  # Powertools does so itself once 100 metrics pile up


class Reconciler:
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors

    def reconcile(self) -> ReconcileReport:
        emit_log_and_metric()
        return ReconcileReport(groups=1, errors=list(self.errors))


class LifecycleEvents:
    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        emit_log_and_metric()
        return {"status": "ignored", "reason": "group not found"}


def test_reconcile_prints_only_the_report_on_stdout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: Reconciler([]))
    assert main(monkeypatch, "reconcile") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["groups"] == 1
    logged = json_lines(err)
    assert [line["message"] for line in logged if "message" in line] == [
        "group marked managed but unusable"
    ]
    assert any("_aws" in line for line in logged)  # the EMF metric


def test_lifecycle_prints_only_the_outcome_on_stdout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "lifecycle_events", lambda region=None: LifecycleEvents())
    assert main(monkeypatch, "lifecycle", "-e", "events/lifecycle-launch.json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"status": "ignored", "reason": "group not found"}
    assert len(json_lines(err)) == 2  # the log line and the EMF metric


def test_the_logger_writes_to_stdout_again_after_the_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Lambda handlers share the logger: their logs must stay on stdout.
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: Reconciler([]))
    main(monkeypatch, "reconcile")
    capsys.readouterr()
    logger.info("after the command")
    assert json.loads(capsys.readouterr().out)["message"] == "after the command"


def test_a_pass_with_errors_prints_the_report_and_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = ["win-a: EKS cluster 'gone' not found in region us-east-1"]
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: Reconciler(errors))
    assert main(monkeypatch, "reconcile") == cli.EXIT_FAILURE
    assert json.loads(capsys.readouterr().out)["errors"] == errors


def test_the_region_option_serves_its_own_run_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    sessions: list[str | None] = []

    def aws_session(region: str | None = None) -> Any:
        sessions.append(region)
        raise AwsError("no AWS in this test")

    monkeypatch.setattr(wiring, "aws_session", aws_session)
    launch = ("lifecycle", "-e", "events/lifecycle-launch.json")
    runs = [
        ("reconcile", "--region", "eu-west-1"),
        ("reconcile",),
        launch,  # in the event's region
        ("reconcile",),
    ]
    wiring.reset()
    try:
        statuses = [main(monkeypatch, *argv) for argv in runs]
    finally:
        wiring.reset()
    assert statuses == [cli.EXIT_FAILURE] * len(runs)
    assert capsys.readouterr().err == "winnodes: error: no AWS in this test\n" * len(runs)
    assert sessions == ["eu-west-1", "us-west-2", "us-east-1", "us-west-2"]


@pytest.mark.parametrize("sink", ["full", "closed"])
def test_output_that_cannot_be_written_is_one_line_and_status_1(sink: str) -> None:
    read_end, write_end = os.pipe()
    stdout = open("/dev/full", "wb") if sink == "full" else os.fdopen(write_end, "wb")  # noqa: SIM115
    if sink == "closed":
        os.close(read_end)  # nobody reads: a write is EPIPE
    try:
        result = subprocess.run(
            [str(WINNODES), "rbac"], stdout=stdout, stderr=subprocess.PIPE, text=True, check=False
        )
    finally:
        stdout.close()
        if sink == "full":
            os.close(read_end)
            os.close(write_end)
    assert result.returncode == 1
    assert result.stderr.startswith("winnodes: error: cannot write the output: ")
    assert result.stderr.count("\n") == 1, result.stderr
