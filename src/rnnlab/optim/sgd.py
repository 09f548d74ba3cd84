r"""Stochastic gradient descent with optional (Nesterov) momentum, exactly ``torch.optim.SGD``.

With ``g`` the clipped gradient plus ``weight_decay * p``, ``mu`` the momentum and ``b`` the
momentum buffer (state slot ``momentum_buffer``)::

    mu = 0:          p <- p - lr g
    mu > 0:          b <- g                     at the first update
                     b <- mu b + g              afterwards
                     p <- p - lr b              (classical momentum)
                     p <- p - lr (g + mu b)     (nesterov=True)

This is Keras' SGD too while the learning rate is constant (its velocity is ``-lr b``); with a
schedule, torch's form (the learning rate applied to the buffer, not stored in it) is the one used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.optim.optimizer import Optimizer, check_number
from rnnlab.optim.schedules import Schedule

__all__ = ["SGD"]


class SGD(Optimizer):
    """Plain, momentum or Nesterov SGD (``torch.optim.SGD`` with ``dampening=0``).

    Args:
        lr: learning rate (> 0) or a schedule. Default 0.01 (Keras').
        momentum: ``mu`` >= 0; 0 turns momentum off.
        nesterov: Nesterov momentum; needs ``momentum > 0``.
        weight_decay, clipvalue, clipnorm: see ``Optimizer``.
    """

    def __init__(
        self,
        lr: float | Schedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        clipvalue: float | None = None,
        clipnorm: float | None = None,
    ) -> None:
        self.momentum = check_number("momentum", momentum, low=0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0.0")
        self.nesterov = nesterov
        super().__init__(lr, weight_decay=weight_decay, clipvalue=clipvalue, clipnorm=clipnorm)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum != 0.0 else ()

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        mu = self.momentum
        if mu != 0.0:
            b = self.slots["momentum_buffer"].get(name)
            if b is None:  # torch starts the buffer at the first gradient, not at zero
                b = self.slots["momentum_buffer"][name] = g.copy()
            else:
                b *= mu
                b += g
            g = g + mu * b if self.nesterov else b
        p -= lr * g

    def _config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}
