"""``FeatureEmbedding``: several id features per step, each looked up in its own table, concatenated.

For a tagger, a token is a word id plus character-level ids (suffixes, prefixes, a word-shape
class); for an unknown word the word vector is the ``<unk>`` one and the character features carry
the information. Input ``x (N, T, F)`` ints, feature ``f`` in ``[0, V_f)``; output ``(N, T, sum E_f)``.
Feature 0 decides the padding mask (``x[..., 0] != 0``) when ``mask_zero`` is set.

``word_dropout`` replaces feature 0 by ``unk_index`` with that probability during training, so the
model learns to tag from the character features alone, as it must for unknown words at test time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import initializers
from rnnlab.checks import check_positive_int, check_rate
from rnnlab.layers.base import Layer
from rnnlab.layers.embedding import scatter_add_rows


class FeatureEmbedding(Layer):
    """One embedding table per feature.

    Args:
        input_dims: ``V_f`` per feature.
        output_dims: ``E_f`` per feature.
        mask_zero: id 0 of feature 0 is padding.
        word_dropout: during training, the rate at which feature 0 becomes ``unk_index``.
        unk_index: the id that stands for an unknown value of feature 0.
    """

    def __init__(
        self,
        input_dims: list[int],
        output_dims: list[int],
        mask_zero: bool = True,
        word_dropout: float = 0.0,
        unk_index: int = 1,
        embeddings_initializer: str = "uniform",
        dtype: str = "float32",
        seed: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        if len(input_dims) != len(output_dims) or not input_dims:
            raise ValueError(
                f"input_dims and output_dims need one entry per feature, got {input_dims} and {output_dims}"
            )
        self.input_dims = [check_positive_int(v, argument="input_dims") for v in input_dims]
        self.output_dims = [check_positive_int(v, argument="output_dims") for v in output_dims]
        self.mask_zero = bool(mask_zero)
        self.word_dropout = check_rate(word_dropout, argument="word_dropout")
        self.unk_index = int(unk_index)
        self.embeddings_initializer = embeddings_initializer
        init = initializers.get(embeddings_initializer, argument="embeddings_initializer")
        self.params = {
            f"E{f}": init((v, e), self.rng, self.dtype)  # (V_f, E_f)
            for f, (v, e) in enumerate(zip(self.input_dims, self.output_dims, strict=True))
        }
        self.zero_grads()
        self.built = True

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        if not self.mask_zero:
            return mask
        own = np.asarray(x)[..., 0] != 0
        return own if mask is None else (own & mask)

    def _check(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        F = len(self.input_dims)
        if x.dtype.kind not in "iu":
            raise TypeError(f"FeatureEmbedding takes integer ids, got dtype {x.dtype}")
        if x.ndim < 2 or x.shape[-1] != F:
            raise ValueError(f"FeatureEmbedding takes ids of shape (..., {F}) (one per feature), got {x.shape}")
        for f, v in enumerate(self.input_dims):
            lo, hi = int(x[..., f].min()), int(x[..., f].max())
            if lo < 0 or hi >= v:
                raise ValueError(f"feature {f} holds id {lo if lo < 0 else hi}, outside its table's range [0, {v})")
        return x

    def forward(self, x: Any, mask: Any = None, training: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
        x = self._check(x)
        if training and self.word_dropout > 0.0:
            drop = (self.rng.random(x.shape[:-1]) < self.word_dropout) & (x[..., 0] != 0)
            if drop.any():
                x = x.copy()
                x[..., 0][drop] = self.unk_index
        out = np.concatenate([self.params[f"E{f}"][x[..., f]] for f in range(len(self.input_dims))], axis=-1)
        return out, {"x": x}

    def backward(self, dout: np.ndarray, cache: dict[str, Any]) -> None:
        """Scatter-add each feature's slice of ``dout`` into its table; ids have no gradient."""
        x, start = cache["x"], 0
        self.grads = {}
        for f, e in enumerate(self.output_dims):
            dE = np.zeros_like(self.params[f"E{f}"])
            scatter_add_rows(dE, x[..., f].ravel(), dout[..., start : start + e].reshape(-1, e))
            self.grads[f"E{f}"] = dE
            start += e
        return None

    def get_config(self) -> dict[str, Any]:
        return {
            "input_dims": self.input_dims,
            "output_dims": self.output_dims,
            "mask_zero": self.mask_zero,
            "word_dropout": self.word_dropout,
            "unk_index": self.unk_index,
            "embeddings_initializer": self.embeddings_initializer,
            **super().get_config(),
        }
