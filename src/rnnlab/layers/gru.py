"""``GRU``: the gated recurrent unit, in the notes' form or PyTorch's (math in ``rnnlab.cells.gru``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import initializers
from rnnlab.layers.recurrent import Recurrent


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al. 2014), Keras' signature::

        GRU(units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
            dropout=0.0, recurrent_dropout=0.0, reset_after=False, ...)

    Args:
        reset_after: False (default) is the notes' GRU, reset gate applied to ``H_{t-1}`` *before*
            the recurrent matrix. True is PyTorch's/cuDNN's, applied *after* it, with a second bias
            ``b_R``; only this form converts to ``torch.nn.GRU``.
        Others: see ``Recurrent``.

    Parameters: ``W (D, 3H)``, ``W_R (H, 3H)``, ``b (3H,)`` [, ``b_R (3H,)``], blocks ``[r | z | h~]``.
    """

    kind = "gru"

    def __init__(self, units: int, *args: Any, reset_after: bool = False, **kwargs: Any) -> None:
        self.reset_after = bool(reset_after)
        super().__init__(units, *args, **kwargs)

    def build(self, input_dim: int) -> None:
        super().build(input_dim)
        if self.use_bias and self.reset_after:
            bias = initializers.get(self.bias_initializer)
            self.params["b_R"] = bias((3 * self.units,), self.rng, self.dtype)
            self.grads["b_R"] = np.zeros_like(self.params["b_R"])

    def cell_options(self) -> dict[str, Any]:
        return {**super().cell_options(), "reset_after": self.reset_after}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}
