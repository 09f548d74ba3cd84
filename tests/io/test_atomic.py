"""Atomic writes: the destination holds the old bytes or the new ones, never a mix, and no temp file leaks."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from rnnlab.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text

OLD = b"previous content\x00\xff"


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "model.rnnlab"
    path.write_bytes(OLD)
    return path


def test_write_bytes_creates_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    atomic_write_bytes(path, b"first")
    assert path.read_bytes() == b"first"
    atomic_write_bytes(str(path), bytearray(b"second"))
    assert path.read_bytes() == b"second"
    assert listing(tmp_path) == ["out.bin"]


def test_write_text_is_utf8_without_newline_translation(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    atomic_write_text(path, "héllo\r\nwörld\n€")
    assert path.read_bytes() == "héllo\r\nwörld\n€".encode()


def test_temp_file_lives_next_to_destination_with_dot_name(tmp_path: Path) -> None:
    path = tmp_path / "model.rnnlab"
    with atomic_open(path) as f:
        f.write(b"data")
        names = listing(tmp_path)
        assert len(names) == 1 and re.fullmatch(r"\.model\.rnnlab\.[0-9a-f]+\.tmp", names[0]), names
        assert not path.exists(), "the destination must not appear before the block ends"
    assert listing(tmp_path) == ["model.rnnlab"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_new_file_gets_umask_permissions_not_0600(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "f", b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("exc_type", [ValueError, KeyboardInterrupt])
def test_exception_in_block_keeps_previous_file(existing: Path, exc_type: type[BaseException]) -> None:
    with pytest.raises(exc_type), atomic_open(existing) as f:
        f.write(b"half of the new fi")
        raise exc_type("interrupted")
    assert existing.read_bytes() == OLD
    assert listing(existing.parent) == [existing.name]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_os_failure_keeps_previous_file(existing: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(existing, b"new content")
    monkeypatch.undo()
    assert existing.read_bytes() == OLD
    assert listing(existing.parent) == [existing.name]


def test_file_and_directory_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    atomic_write_bytes(tmp_path / "f", b"x")
    expected = 1 if sys.platform == "win32" else 2  # the data, then the directory entry
    assert len(synced) == expected


def test_directory_fsync_refusal_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync, calls = os.fsync, []

    def fsync_refusing_directories(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 1:  # the directory: some file systems answer EINVAL
            raise OSError(22, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_refusing_directories)
    atomic_write_bytes(tmp_path / "f", b"x")
    assert (tmp_path / "f").read_bytes() == b"x"


def test_bad_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode must be 'wb' or 'w'"), atomic_open(tmp_path / "f", "ab"):
        pass
    assert listing(tmp_path) == []


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        atomic_write_bytes(tmp_path / "nope" / "f", b"x")
    assert listing(tmp_path) == []


def test_directory_as_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path / "d", b"x")
    assert listing(tmp_path) == ["d"]
    assert listing(tmp_path / "d") == []


def test_remove_stale_temps_removes_only_the_files_own_leftovers(tmp_path):
    from rnnlab.io import remove_stale_temps

    target = tmp_path / "checkpoint.rnnlab"
    target.write_bytes(b"whole")
    stale = [tmp_path / ".checkpoint.rnnlab.0123456789ab.tmp", tmp_path / ".checkpoint.rnnlab.ba9876543210.tmp"]
    keep = [tmp_path / ".model.rnnlab.0123456789ab.tmp", tmp_path / ".checkpoint.rnnlab.notmine.tmp",
            tmp_path / "checkpoint.rnnlab.0123456789ab.tmp"]
    for p in stale + keep:
        p.write_bytes(b"half")
    assert sorted(remove_stale_temps(target)) == sorted(str(p) for p in stale)
    assert target.read_bytes() == b"whole"
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
    assert remove_stale_temps(tmp_path / "missing" / "x.rnnlab") == []
