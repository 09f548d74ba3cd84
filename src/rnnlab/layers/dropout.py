"""``Dropout``: zero each input with probability ``rate`` during training, scale the rest by 1/(1-rate)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.checks import check_rate
from rnnlab.layers.base import Layer


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014); the identity when ``training`` is False."""

    def __init__(self, rate: float, dtype: str = "float32", seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        self.rate = check_rate(rate, argument="rate")
        self.built = True

    def forward(self, x: np.ndarray, mask: Any = None, training: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
        if not training or self.rate == 0.0:
            return x, {"keep": None}
        kept = self.rng.random(x.shape, dtype=np.float32) >= self.rate  # float32 draws: half the cost
        keep = np.multiply(kept, x.dtype.type(1.0) / x.dtype.type(1.0 - self.rate), dtype=x.dtype)
        return x * keep, {"keep": keep}

    def backward(self, dout: np.ndarray, cache: dict[str, Any]) -> np.ndarray:
        return dout if cache["keep"] is None else dout * cache["keep"]

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, **super().get_config()}
