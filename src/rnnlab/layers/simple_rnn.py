"""``SimpleRNN``: the Elman layer, ``H_t = f(X_t W + H_{t-1} W_R + B)`` (math in ``rnnlab.cells.rnn``)."""

from __future__ import annotations

from typing import Any

from rnnlab.layers.recurrent import Recurrent


class SimpleRNN(Recurrent):
    """Fully connected recurrent layer (Elman 1990), Keras' ``SimpleRNN``.

    ``activation`` is ``f`` (``'tanh'`` or ``'relu'`` are the usual choices); the layer has no gates,
    so ``recurrent_activation`` does not exist here. Other arguments: see ``Recurrent``.
    Parameters: ``W (D, H)``, ``W_R (H, H)``, ``b (H,)``.
    """

    kind = "rnn"

    def __init__(self, units: int, activation: str = "tanh", **kwargs: Any) -> None:
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNN has no gates and takes no recurrent_activation")
        super().__init__(units, activation=activation, **kwargs)

    def cell_options(self) -> dict[str, Any]:
        return {"activation": self.activation}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["recurrent_activation"]
        return config
