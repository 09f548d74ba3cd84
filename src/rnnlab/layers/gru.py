"""``GRU``: the gated recurrent unit, in the notes' form or PyTorch's (math in ``rnnlab.cells.gru``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import initializers
from rnnlab.checks import check_positive_int
from rnnlab.layers.recurrent import Recurrent, chrono_bias


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al. 2014), Keras' signature::

        GRU(units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
            dropout=0.0, recurrent_dropout=0.0, reset_after=False, ...)

    Args:
        reset_after: False (default) is the notes' GRU, reset gate applied to ``H_{t-1}`` *before*
            the recurrent matrix. True is PyTorch's/cuDNN's, applied *after* it, with a second bias
            ``b_R``; only this form converts to ``torch.nn.GRU``.
        chrono_init: ``T_max``, the longest dependency expected, in steps: the update gate's bias
            starts at ``B^(Z) = log(u)``, ``u ~ U(1, T_max - 1)`` per unit, so that ``Z_t`` (the share
            of ``H_{t-1}`` kept) spans memories of 1 to ``T_max`` steps (the GRU form of Tallec &
            Ollivier's chrono initialization). Default: zero bias, ``Z`` near 0.5.
        Others: see ``Recurrent``.

    Parameters: ``W (D, 3H)``, ``W_R (H, 3H)``, ``b (3H,)`` [, ``b_R (3H,)``], blocks ``[r | z | h~]``.
    """

    kind = "gru"

    def __init__(
        self, units: int, *args: Any, reset_after: bool = False, chrono_init: int | None = None, **kwargs: Any
    ) -> None:
        self.reset_after = bool(reset_after)
        self.chrono_init = check_positive_int(chrono_init, argument="chrono_init", allow_none=True)
        super().__init__(units, *args, **kwargs)
        if self.chrono_init is not None and not self.use_bias:
            raise ValueError("chrono_init sets the gate biases, so it needs use_bias=True")

    def build(self, input_dim: int) -> None:
        super().build(input_dim)
        if self.use_bias and self.chrono_init is not None:
            H = self.units
            self.params["b"][H : 2 * H] = chrono_bias(self.chrono_init, H, self.rng, self.dtype)  # update gate
        if self.use_bias and self.reset_after:
            bias = initializers.get(self.bias_initializer)
            self.params["b_R"] = bias((3 * self.units,), self.rng, self.dtype)
            self.grads["b_R"] = np.zeros_like(self.params["b_R"])

    def cell_options(self) -> dict[str, Any]:
        return {**super().cell_options(), "reset_after": self.reset_after}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after, "chrono_init": self.chrono_init}
