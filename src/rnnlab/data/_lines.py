"""Line-by-line reading shared by the text-format readers (CoNLL-U, ``.ts``).

A source is a path (``str`` or ``os.PathLike``; gzip is detected from the file's first bytes, so
``.gz`` files work whatever their name) or an already opened *text* file object. Lines come out
numbered from 1 without their line ending, and every problem is reported as a ``ValueError``
that starts with ``file:line:`` (see ``located``).
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

Source = str | os.PathLike[str] | TextIO

_GZIP_MAGIC = b"\x1f\x8b"


def source_name(source: Source) -> str:
    """The name used in error messages: the path, the file object's ``name``, or ``<stream>``."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def located(name: str, lineno: int, message: str) -> ValueError:
    """A ``ValueError`` whose message starts with ``name:lineno:`` like a compiler's."""
    return ValueError(f"{name}:{lineno}: {message}")


def _open_binary(path: Path) -> BinaryIO:
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _decoded(name: str, f: BinaryIO) -> Iterator[str]:
    """Decode line by line, so that a bad byte is reported on its own line."""
    for lineno, raw in enumerate(f, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise located(
                name,
                lineno,
                f"byte {raw[e.start : e.start + 1]!r} at column {e.start + 1} is not valid UTF-8 "
                f"({e.reason}); expected a UTF-8 text file",
            ) from None


def iter_lines(source: Source) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` with the trailing ``\\n``/``\\r\\n`` removed (and a UTF-8 BOM).

    Raises ``TypeError`` for anything that is neither a path nor a text file object (a binary
    file object included), and ``ValueError`` naming the file and line for bytes that are not
    UTF-8 or for a corrupt or truncated gzip file.
    """
    name = source_name(source)
    owned: BinaryIO | None = None
    if isinstance(source, str | os.PathLike):
        owned = _open_binary(Path(source))
        lines: Iterator[str] | TextIO = _decoded(name, owned)
    elif hasattr(source, "readline"):
        if isinstance(source, io.RawIOBase | io.BufferedIOBase):
            raise TypeError(
                f"{name}: expected a path or a file opened in text mode, got a binary file object "
                f"({type(source).__name__}); pass the path instead, or open it with "
                "open(path, encoding='utf-8')"
            )
        lines = source
    else:
        raise TypeError(f"expected a path (str or os.PathLike) or a text file object, got {type(source).__name__}")
    lineno = 0
    try:
        for lineno, line in enumerate(lines, start=1):
            if isinstance(line, bytes):
                raise TypeError(
                    f"{name}: expected a file opened in text mode, got one yielding bytes; "
                    "open it with open(path, encoding='utf-8') or pass the path"
                )
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            yield lineno, line.rstrip("\r\n")
    except UnicodeDecodeError as e:  # from a text file object, which decodes ahead in blocks
        raise located(
            name,
            lineno + 1,
            f"bytes that are not valid UTF-8 at or after this line ({e.reason}); expected a UTF-8 text "
            "file (pass the path to get the exact line)",
        ) from e
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise located(name, lineno + 1, f"cannot read the gzip file: {e}; expected an intact UTF-8 or gzip file") from e
    finally:
        if owned is not None:
            owned.close()
