"""``LSTM``: the long short-term memory layer of the notes (math in ``rnnlab.cells.lstm``)."""

from __future__ import annotations

from typing import Any

from rnnlab.checks import check_positive_int
from rnnlab.layers.recurrent import Recurrent, chrono_bias


class LSTM(Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997), Keras' signature::

        LSTM(units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
             dropout=0.0, recurrent_dropout=0.0, ...)

    The default gate activation is the notes' sigmoid; ``recurrent_activation='hard_sigmoid'``
    gives the Keras 2 default of the notes' slide, ``clip(0.2 x + 0.5, 0, 1)``.

    Args:
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al. 2015), as Keras does.
        chrono_init: ``T_max``, the longest dependency expected, in steps. Starts the gates for
            memories of 1 to ``T_max`` steps (Tallec & Ollivier 2018, "chrono initialization"):
            ``B^(F) = log(u)`` with ``u ~ U(1, T_max - 1)`` per unit, and ``B^(I) = -B^(F)``.
            Replaces ``unit_forget_bias``. At the default initialisation a forget gate near
            ``sigmoid(1) = 0.73`` halves a memory in about two steps; ``chrono_init`` is the cure
            for dependencies over hundreds or thousands of steps (``docs/gradient_flow.md``).
        Others: see ``Recurrent``.

    Parameters: ``W (D, 4H)``, ``W_R (H, 4H)``, ``b (4H,)`` in gate order ``[i | f | c~ | o]``.
    States: ``h`` and ``c``.
    """

    kind = "lstm"

    def __init__(
        self, units: int, *args: Any, unit_forget_bias: bool = True, chrono_init: int | None = None, **kwargs: Any
    ) -> None:
        self.unit_forget_bias = bool(unit_forget_bias)
        self.chrono_init = check_positive_int(chrono_init, argument="chrono_init", allow_none=True)
        super().__init__(units, *args, **kwargs)
        if self.chrono_init is not None and not self.use_bias:
            raise ValueError("chrono_init sets the gate biases, so it needs use_bias=True")

    def build(self, input_dim: int) -> None:
        super().build(input_dim)
        H = self.units
        if self.use_bias and self.chrono_init is not None:
            b_f = chrono_bias(self.chrono_init, H, self.rng, self.dtype)
            self.params["b"][H : 2 * H] = b_f  # forget gate
            self.params["b"][:H] = -b_f  # input gate
        elif self.use_bias and self.unit_forget_bias:
            self.params["b"][H : 2 * H] = 1.0

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias, "chrono_init": self.chrono_init}
