"""etcd's data directory goes to /dev/shm only when there is room for it: etcd preallocates
two 64 MiB write-ahead log files, more than a container's default 64 MiB /dev/shm holds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from localcloud.kube import controlplane


class Usage(NamedTuple):
    total: int
    used: int
    free: int


def with_free_space(monkeypatch: pytest.MonkeyPatch, shm: Path, free: int) -> None:
    real = shutil.disk_usage

    def disk_usage(path: str | Path) -> object:
        return Usage(free, 0, free) if Path(path) == shm else real(path)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    run, shm = tmp_path / "run", tmp_path / "shm"
    run.mkdir()
    shm.mkdir()
    return run, shm


def test_a_roomy_shm_holds_the_data_dir(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, shm = dirs
    with_free_space(monkeypatch, shm, controlplane.SHM_FREE_NEEDED)
    data = controlplane._fast_tmp_dir(run, shm)
    assert data.parent == shm
    assert (run / "etcd-data").resolve() == data.resolve()


def test_a_small_shm_leaves_the_data_dir_in_the_run_directory(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, shm = dirs
    with_free_space(monkeypatch, shm, 64 << 20)  # a container's default
    data = controlplane._fast_tmp_dir(run, shm)
    assert data == run / "etcd-data"
    assert data.is_dir() and not data.is_symlink()
    assert list(shm.iterdir()) == []
