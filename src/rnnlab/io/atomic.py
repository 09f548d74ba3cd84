"""Atomic file writes: a save either completes or leaves the previous file exactly as it was.

Every write goes to a temporary file ``.<name>.<random>.tmp`` in the destination's own directory
(so the final rename never crosses a file system), is flushed and ``fsync``-ed, and only then
renamed over the destination with ``os.replace``, which is atomic on POSIX and Windows. Readers
therefore see the old file or the new one, never a half-written one. On any exception, including
``KeyboardInterrupt``, the temporary file is removed and the destination is untouched. After the
rename the directory is ``fsync``-ed too where the OS allows it (POSIX), so the rename itself
survives a power cut.

The new file gets the usual permissions for a new file (``0o666`` minus the umask), even when it
replaces an existing file; the temporary file is created by ``os.open`` rather than
``tempfile.mkstemp``, whose ``0o600`` would otherwise leak into every saved model.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "remove_stale_temps"]

_MODES = ("wb", "w")
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    """Create and open a fresh ``.<name>.<random>.tmp`` in ``directory``; never reuse an existing file."""
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, _OPEN_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not find a free temporary file name", directory)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory (EINVAL); the data itself is synced
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on a clean exit it atomically becomes ``path``.

    ``mode`` is ``"wb"`` (binary) or ``"w"`` (text: UTF-8, no newline translation). If the block
    raises, the temporary file is deleted, ``path`` keeps its previous content (or stays absent)
    and the exception propagates::

        with atomic_open("model.rnnlab") as f:
            f.write(header)
            f.write(data)
    """
    if mode not in _MODES:
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT, f"cannot write {path}: its directory does not exist (create it first)", directory
        )
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "cannot write a file here: the path is a directory", path)

    fd, tmp = _create_temp(directory, name)
    try:
        if mode == "wb":
            f: IO[Any] = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding="utf-8", newline="")
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_open``)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically as UTF-8, newlines unchanged (see ``atomic_open``)."""
    with atomic_open(path, "w") as f:
        f.write(text)


def remove_stale_temps(path: str | os.PathLike[str]) -> list[str]:
    """Delete the ``.<name>.<random>.tmp`` files of ``path`` that a killed writer left behind.

    A process killed (``kill -9``, power cut) in the middle of a write cannot remove its temporary
    file; the destination itself is intact. Call this when nothing else is writing ``path`` (e.g. a
    training run resuming from its checkpoint). Returns the paths removed.
    """
    directory, name = os.path.split(os.fspath(path))
    directory = directory or "."
    prefix = f".{name}."
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(directory):
            if entry.startswith(prefix) and entry.endswith(".tmp") and len(entry) == len(prefix) + 12 + 4:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, entry))
                    removed.append(os.path.join(directory, entry))
    return removed
