"""``Embedding``: token ids to vectors, ``Y[n, t] = E[x[n, t]]``, with an optional padding mask.

Shapes: ``N`` batch, ``T`` time, ``V`` vocabulary (``input_dim``), ``E`` vector size (``output_dim``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import initializers
from rnnlab.checks import check_positive_int
from rnnlab.layers.base import Layer


def check_token_ids(x: Any, vocabulary: int, name: str = "x") -> np.ndarray:
    """Integer ids in ``[0, vocabulary)``, any rank >= 1."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids, got dtype {x.dtype}")
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty array of token ids, got shape {x.shape}")
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi >= vocabulary:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name} holds token id {bad}, outside the embedding's range [0, {vocabulary})")
    return x


def scatter_add_rows(table: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``table[ids[k]] += rows[k]`` for every ``k``, repeated ids accumulating: ``np.add.at``, faster.

    The rows are grouped by id (a stable sort) and each group is summed with one ``np.add.reduceat``,
    which may round differently from ``np.add.at``'s one-by-one additions (float64: ~1e-15
    relative). ``ids (K,)``, ``rows (K, E)``, ``table (V, E)``; returns ``table``, updated in place.
    """
    if ids.size == 0:
        return table
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    table[sorted_ids[starts]] += np.add.reduceat(rows[order], starts, axis=0)
    return table


class Embedding(Layer):
    """A lookup table ``E (V, E)`` of trainable vectors.

    Args:
        input_dim: ``V``, the number of token ids.
        output_dim: ``E``, the size of each vector.
        mask_zero: id 0 is padding: the layer emits a mask ``x != 0`` that the recurrent layers use.
        embeddings_initializer: name in ``rnnlab.initializers`` (default ``uniform``, as Keras).
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        mask_zero: bool = False,
        embeddings_initializer: str = "uniform",
        dtype: str = "float32",
        seed: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        self.input_dim = check_positive_int(input_dim, argument="input_dim")
        self.output_dim = check_positive_int(output_dim, argument="output_dim")
        self.mask_zero = bool(mask_zero)
        initializers.get(embeddings_initializer, argument="embeddings_initializer")
        self.embeddings_initializer = embeddings_initializer
        init = initializers.get(embeddings_initializer)
        self.params = {"E": init((self.input_dim, self.output_dim), self.rng, self.dtype)}  # (V, E)
        self.zero_grads()
        self.built = True

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        if not self.mask_zero:
            return mask
        own = np.asarray(x) != 0
        return own if mask is None else (own & mask)

    def forward(self, x: Any, mask: Any = None, training: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
        x = check_token_ids(x, self.input_dim)
        return self.params["E"][x], {"x": x}  # (..., E)

    def backward(self, dout: np.ndarray, cache: dict[str, Any]) -> None:
        """Scatter-add ``dout`` into the rows that were looked up; token ids have no gradient."""
        dE = np.zeros_like(self.params["E"])
        scatter_add_rows(dE, cache["x"].ravel(), dout.reshape(-1, self.output_dim))
        self.grads = {"E": dE}
        return None

    def get_config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero,
                "embeddings_initializer": self.embeddings_initializer, **super().get_config()}
