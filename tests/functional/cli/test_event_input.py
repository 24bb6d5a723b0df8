"""How `winnodes lifecycle --event` reads its event: files PowerShell writes (a UTF-8 BOM, or
UTF-16), a document nested too deeply for json, a test notification with no AWS configured,
and Ctrl-C before anything started."""

from __future__ import annotations

import codecs
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import ROOT, run
from winnodes import cli, wiring
from winnodes.observability import logger

NOTIFICATION = (ROOT / "events" / "lifecycle-test-notification.json").read_text(encoding="utf-8")
SKIPPED = '{\n  "status": "skipped",\n  "reason": "autoscaling:TEST_NOTIFICATION"\n}\n'


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF8 + NOTIFICATION.encode("utf-8"),  # Out-File -Encoding utf8 (PowerShell 5)
        codecs.BOM_UTF16_LE + NOTIFICATION.encode("utf-16-le"),  # `>` in Windows PowerShell
    ],
    ids=["utf-8 with a BOM", "utf-16"],
)
def test_an_event_file_powershell_wrote_is_read(tmp_path: Path, encoded: bytes) -> None:
    event = tmp_path / "event.json"
    event.write_bytes(encoded)

    result = run("lifecycle", "--event", str(event))

    assert (result.returncode, result.stdout) == (0, SKIPPED), result.stderr


def test_a_bom_on_stdin_is_read_too() -> None:
    result = run("lifecycle", "--event", "-", stdin="\ufeff" + NOTIFICATION)
    assert (result.returncode, result.stdout) == (0, SKIPPED), result.stderr


@pytest.mark.parametrize("document", ["[" * 200_000, '{"a": ' * 100_000])
def test_a_document_nested_too_deeply_is_one_line_and_exit_2(tmp_path: Path, document: str) -> None:
    event = tmp_path / "deep.json"
    event.write_text(document, encoding="utf-8")

    result = run("lifecycle", "--event", str(event))

    assert result.returncode == 2
    assert result.stderr == f"winnodes: error: --event: {event} is nested too deeply\n"


def test_a_test_notification_needs_no_region_nor_any_aws() -> None:
    # No region anywhere (run() passes no AWS_* variable), and no AWS endpoint to reach.
    result = run("lifecycle", "--event", "events/lifecycle-test-notification.json")
    assert (result.returncode, result.stdout, result.stderr) == (0, SKIPPED, "")


def test_a_hand_written_test_notification_of_a_detail_alone_is_skipped() -> None:
    event = '{"detail": {"Event": "autoscaling:TEST_NOTIFICATION"}}'
    result = run("lifecycle", "--event", "-", stdin=event)
    assert (result.returncode, result.stdout, result.stderr) == (0, SKIPPED, "")


def test_a_bad_setting_is_still_refused_for_a_test_notification() -> None:
    result = run(
        "lifecycle",
        "--event",
        "events/lifecycle-test-notification.json",
        env={"DRAIN_FORCE": "maybe"},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "winnodes: error: environment variable DRAIN_FORCE: 'maybe' is not true or false\n"
    )


class InterruptedStdin:
    def read(self, *_: Any) -> str:
        raise KeyboardInterrupt


def test_ctrl_c_while_the_event_is_read_claims_nothing_was_started(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", sys.stdout)
    monkeypatch.setattr(sys, "stdin", InterruptedStdin())
    monkeypatch.setattr(wiring, "lifecycle_events", lambda region=None: pytest.fail("wired"))

    status = cli.main(["lifecycle", "--event", "-"])

    assert status == cli.EXIT_INTERRUPTED
    assert capsys.readouterr() == ("", "winnodes: interrupted\n")


class HalfBuiltResponse:
    """Like http.client.HTTPResponse when Ctrl-C lands in its __init__: its __del__ (close)
    reads an attribute that was never set."""

    def __init__(self) -> None:
        raise KeyboardInterrupt

    def __del__(self) -> None:
        self.fp.close()  # type: ignore[attr-defined]


def test_ctrl_c_leaves_no_traceback_of_what_it_cut_short(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    monkeypatch.setattr(wiring, "reconcile_service", lambda region=None: HalfBuiltResponse())

    status = cli.main(["reconcile", "--region", "us-east-1"])

    assert status == cli.EXIT_INTERRUPTED
    assert (
        capsys.readouterr().err
        == "winnodes: interrupted; the reconciler finishes what was started\n"
    )
    assert unraisable == []  # what Python would print after that line
    assert sys.unraisablehook == unraisable.append  # put back
