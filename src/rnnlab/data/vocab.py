"""``Vocabulary``: a token <-> id mapping for words or tags, with ``<pad>`` and ``<unk>`` specials.

Ids: the specials first, in the order given (by default ``<pad>`` = 0, ``<unk>`` = 1), then the
tokens by descending frequency, ties broken by the token itself, so the same data always give
the same ids. Padding uses id 0, which is why ``<pad>``, when present, must come first. A tag
vocabulary usually takes ``specials=("<pad>",)``: every tag is known, and an unknown tag is an
error rather than a silent ``<unk>``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

PAD = "<pad>"
UNK = "<unk>"


class Vocabulary:
    """Tokens <-> ids. ``tokens[i]`` is the token of id ``i``; specials come first."""

    def __init__(self, tokens: Sequence[str], specials: Sequence[str] = (PAD, UNK)) -> None:
        """``tokens`` is the full id order, specials included at its start (see ``build``)."""
        tokens = list(tokens)
        specials = tuple(specials)
        for i, t in enumerate(tokens):
            if not isinstance(t, str):
                raise TypeError(f"Vocabulary tokens must be str, got {type(t).__name__} at id {i}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials must be distinct, got {specials}")
        if PAD in specials and specials[0] != PAD:
            raise ValueError(f"{PAD!r} must be the first special (padding uses id 0), got specials={specials}")
        if tuple(tokens[: len(specials)]) != specials:
            raise ValueError(f"the first tokens must be the specials {specials}, got {tokens[: len(specials)]}")
        self.tokens: list[str] = tokens
        self.specials: tuple[str, ...] = specials
        self._index: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        if len(self._index) != len(tokens):
            dup = next(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"Vocabulary tokens must be distinct, got {dup!r} more than once")

    @classmethod
    def build(cls, tokens: Iterable[str], min_freq: int = 1, specials: Sequence[str] = (PAD, UNK)) -> Vocabulary:
        """Count ``tokens`` (a flat iterable of strings) and keep those seen ``>= min_freq`` times.

        For sentences, pass ``itertools.chain.from_iterable(sentences)``. Tokens below
        ``min_freq`` will encode as ``<unk>`` (so ``min_freq > 1`` needs ``<unk>`` in ``specials``).
        """
        if not isinstance(min_freq, int) or isinstance(min_freq, bool) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        specials = tuple(specials)
        if min_freq > 1 and UNK not in specials:
            raise ValueError(f"min_freq={min_freq} drops rare tokens, which needs {UNK!r} in specials={specials}")
        if isinstance(tokens, str):
            raise TypeError("Vocabulary.build expects an iterable of tokens, got a single str; wrap it in a list")
        counts: Counter[str] = Counter()
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(
                    f"Vocabulary.build expects str tokens, got {type(t).__name__}; for a list of sentences "
                    "pass itertools.chain.from_iterable(sentences)"
                )
            counts[t] += 1
        kept = sorted(
            (t for t, n in counts.items() if n >= min_freq and t not in specials),
            key=lambda t: (-counts[t], t),
        )
        return cls([*specials, *kept], specials)

    @property
    def pad_index(self) -> int | None:
        """Id of ``<pad>`` (0) or ``None`` without one."""
        return self._index.get(PAD) if PAD in self.specials else None

    @property
    def unk_index(self) -> int | None:
        """Id of ``<unk>`` or ``None`` without one (then unknown tokens are an error)."""
        return self._index.get(UNK) if UNK in self.specials else None

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, specials={self.specials})"

    def index(self, token: str) -> int:
        """Id of one token (``<unk>`` for an unknown one; ``KeyError`` when there is no ``<unk>``)."""
        i = self._index.get(token, self.unk_index)
        if i is None:
            raise KeyError(f"{token!r} is not in the vocabulary and it has no {UNK!r} special")
        return i

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """``(len(tokens),)`` int64 ids. Unknown tokens -> ``<unk>``, or ``ValueError`` without it."""
        if isinstance(tokens, str):
            raise TypeError("Vocabulary.encode expects a list of tokens, got a single str; wrap it in a list")
        unk = self.unk_index
        get = self._index.get
        ids = [get(t, unk) for t in tokens]
        if unk is None and None in ids:
            k = ids.index(None)
            raise ValueError(
                f"token {tokens[k]!r} at position {k} is not in the vocabulary, which has no {UNK!r}; "
                f"expected one of its {len(self)} tokens (build with {UNK!r} in specials to allow unknowns)"
            )
        return np.array(ids, dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """Tokens for a 1-D sequence of ids."""
        a = np.asarray(ids)
        if a.size == 0:
            return []
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"Vocabulary.decode expects a 1-D sequence of ints, got {a.dtype} of shape {a.shape}")
        bad = (a < 0) | (a >= len(self))
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"id {int(a[k])} at position {k} is out of range; expected 0..{len(self) - 1}")
        return [self.tokens[i] for i in a.tolist()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: ``{"type": "Vocabulary", "tokens": [...], "specials": [...]}``."""
        return {"type": "Vocabulary", "tokens": list(self.tokens), "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        """Inverse of ``to_dict``."""
        if (
            not isinstance(d, dict)
            or d.get("type") != "Vocabulary"
            or not isinstance(d.get("tokens"), list)
            or not isinstance(d.get("specials"), list)
        ):
            raise ValueError(
                "expected a dict from Vocabulary.to_dict() like {'type': 'Vocabulary', 'tokens': [...], "
                f"'specials': [...]}}, got {d!r:.80}"
            )
        return cls(d["tokens"], d["specials"])
