"""`python -m localcloud status` and `down` with a state file that is not what `up` writes
(half-written, edited by hand): not running, one line, never a traceback or a signal sent to
a pid read from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.cli import EXIT_NOT_RUNNING, STATE_FILE, main, read_state


@pytest.mark.parametrize(
    "content",
    [
        '{"status": "ready"}',
        '{"pid": "abc"}',
        '{"pid": true}',
        '{"pid": -1}',
        '{"pid": 4242, "children": "etcd"}',
        '{"pid": 4242, "children": [1, "x"]}',
        "[1]",
        '"ready"',
        "{",
    ],
)
def test_a_state_file_up_did_not_write_reads_as_not_running(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / STATE_FILE).write_text(content)

    assert read_state(tmp_path) is None
    assert main(["status", "--state-dir", str(tmp_path)]) == EXIT_NOT_RUNNING
    assert main(["down", "--state-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"localcloud: not running (state dir {tmp_path})\n"
    assert err == "[localcloud] not running\n"


def test_the_state_up_writes_is_read_back(tmp_path: Path) -> None:
    state = {"pid": 4242, "children": [4243, 4244], "status": "ready", "env": {}}
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    assert read_state(tmp_path) == state
