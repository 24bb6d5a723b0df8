"""`python -m localcloud up` and `demo` check their options before anything is built or
started: a negative, infinite or NaN duration, a cluster name EKS would refuse, or a report
path that cannot be written fails at once, not after a ten-minute build or a converged run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import localcloud.cli
from localcloud.cli import main
from localcloud.demo import DemoOptions


@pytest.fixture(autouse=True)
def nothing_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def build() -> None:
        raise AssertionError("options are checked before the control plane is built")

    monkeypatch.setattr(localcloud.cli, "ensure_binaries", build)


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--timeout", "-1", "'-1' is not a positive number"),
        ("--timeout", "nan", "'nan' is not a positive number"),
        ("--timeout", "inf", "'inf' is not a positive number"),
        ("--time-scale", "0", "'0' is not a positive number"),
        ("--time-scale", "fast", "'fast' is not a number"),
        ("--cluster-name", "prod win", "does not match"),
    ],
)
def test_up_refuses_a_bad_option_before_building(
    tmp_path: Path, option: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--state-dir", str(tmp_path), option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and says in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "change",
    [
        {"join_timeout": math.nan},
        {"workload_timeout": math.inf},
        {"drain_timeout": -math.inf},
        {"boot_seconds": math.nan},
    ],
)
def test_the_demo_refuses_a_duration_that_is_no_finite_number(change: dict[str, float]) -> None:
    (name,) = change
    (problem,) = DemoOptions(**change).problems()  # type: ignore[arg-type]
    assert problem.startswith(f"--{name.replace('_', '-')} must be ")


def test_the_demo_refuses_output_paths_it_cannot_write_before_it_runs(tmp_path: Path) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("")
    unwritable = afile / "out" / "report.json"  # under a file: no directory can be made there
    problems = DemoOptions(report=unwritable, handler_log=tmp_path).problems()
    assert problems == [
        f"--handler-log: cannot write {tmp_path}",
        f"--report: cannot write {unwritable}",
    ]
    assert main(["demo", "--report", str(unwritable)]) == 2


def test_the_demo_takes_output_paths_in_directories_it_will_make(tmp_path: Path) -> None:
    report, log = tmp_path / "report.json", tmp_path / "new" / "dirs" / "h.log"
    assert DemoOptions(report=report, handler_log=log).problems() == []
