"""``LSTM``: the long short-term memory layer of the notes (math in ``rnnlab.cells.lstm``)."""

from __future__ import annotations

from typing import Any

from rnnlab.layers.recurrent import Recurrent


class LSTM(Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997), Keras' signature::

        LSTM(units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
             dropout=0.0, recurrent_dropout=0.0, ...)

    The default gate activation is the notes' sigmoid; ``recurrent_activation='hard_sigmoid'``
    gives the Keras 2 default of the notes' slide, ``clip(0.2 x + 0.5, 0, 1)``.

    Args:
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al. 2015), as Keras does.
        Others: see ``Recurrent``.

    Parameters: ``W (D, 4H)``, ``W_R (H, 4H)``, ``b (4H,)`` in gate order ``[i | f | c~ | o]``.
    States: ``h`` and ``c``.
    """

    kind = "lstm"

    def __init__(self, units: int, *args: Any, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, *args, **kwargs)

    def build(self, input_dim: int) -> None:
        super().build(input_dim)
        if self.use_bias and self.unit_forget_bias:
            H = self.units
            self.params["b"][H : 2 * H] = 1.0

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
