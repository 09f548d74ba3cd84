"""Plain-text corpora for character-level language models: ``read_text`` and ``CharVocab``.

``CharVocab`` maps each character of a corpus to an integer id and back. Id 0 is reserved for
characters the vocabulary has never seen (``<unk>``; decoded as U+FFFD, the replacement
character), and the known characters follow in code-point order, so the same text always gives
the same vocabulary. ``to_dict``/``from_dict`` give a JSON-able form to store inside a model file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

UNK_CHAR = "\ufffd"  # what decode() prints for the <unk> id


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a whole UTF-8 text file, exactly as stored (line endings kept; a leading BOM dropped).

    Bytes that are not UTF-8 raise a ``ValueError`` naming the file, the line and the byte offset.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"{path}:{line}: byte {data[e.start : e.start + 1]!r} at offset {e.start} is not valid UTF-8 "
            f"({e.reason}); expected a UTF-8 text file (convert it, e.g. iconv -f latin1 -t utf-8)"
        ) from e
    return text.removeprefix("\ufeff")


class CharVocab:
    """Characters <-> ids. Id 0 is ``<unk>``; ids ``1..len-1`` are the known characters.

    Build it with ``CharVocab.build(text)``; ``encode`` turns a string into an int64 array
    (unknown characters -> 0), ``decode`` turns ids back into a string.
    """

    unk_index = 0

    def __init__(self, chars: Sequence[str]) -> None:
        """``chars`` are the known characters (distinct, one code point each) in id order from 1."""
        chars = list(chars)
        for i, c in enumerate(chars):
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"CharVocab chars must be single characters, got {c!r} at position {i}")
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocab chars must be distinct, got duplicates")
        self.chars: list[str] = chars
        self._char_set = frozenset(chars)
        codes = np.array([ord(c) for c in chars], dtype=np.uint32)
        self._order = np.argsort(codes, kind="stable")  # positions of chars sorted by code point
        self._sorted_codes = codes[self._order]
        # id -> code point, with U+FFFD for <unk>; used by decode
        self._id_codes = np.concatenate([[ord(UNK_CHAR)], codes]).astype(np.uint32)

    @classmethod
    def build(cls, text: str) -> CharVocab:
        """Vocabulary of every character in ``text``, in code-point order."""
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.build expects a str, got {type(text).__name__}")
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        """Number of ids, ``<unk>`` included (the size of a model's input/output layer)."""
        return len(self.chars) + 1

    def __contains__(self, char: object) -> bool:
        return isinstance(char, str) and char in self._char_set

    def __repr__(self) -> str:
        return f"CharVocab({len(self.chars)} chars + <unk>)"

    def encode(self, text: str) -> np.ndarray:
        """``(len(text),)`` int64 ids; characters not in the vocabulary become ``unk_index`` (0)."""
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode expects a str, got {type(text).__name__}")
        # (len(text),) code points: UTF-32 stores each character in exactly 4 bytes
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if len(self._sorted_codes) == 0:
            return np.zeros(len(codes), dtype=np.int64)
        pos = np.searchsorted(self._sorted_codes, codes)
        pos_c = np.minimum(pos, len(self._sorted_codes) - 1)
        found = self._sorted_codes[pos_c] == codes
        return np.where(found, self._order[pos_c] + 1, self.unk_index).astype(np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The string for a 1-D sequence of ids (``<unk>`` prints as U+FFFD)."""
        a = np.asarray(ids)
        if a.size == 0:
            return ""
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"CharVocab.decode expects a 1-D sequence of ints, got {a.dtype} of shape {a.shape}")
        bad = (a < 0) | (a >= len(self))
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"id {int(a[k])} at position {k} is out of range; expected 0..{len(self) - 1}")
        return self._id_codes[a].tobytes().decode("utf-32-le", "surrogatepass")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: ``{"type": "CharVocab", "chars": [...]}`` (``<unk>`` implied at 0)."""
        return {"type": "CharVocab", "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharVocab:
        """Inverse of ``to_dict``."""
        if not isinstance(d, dict) or d.get("type") != "CharVocab" or not isinstance(d.get("chars"), list):
            raise ValueError(
                f"expected a dict from CharVocab.to_dict() like {{'type': 'CharVocab', 'chars': [...]}}, got {d!r:.80}"
            )
        return cls(d["chars"])
