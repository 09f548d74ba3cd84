r"""Adagrad, exactly ``torch.optim.Adagrad`` (epsilon outside the square root).

With ``g`` the clipped gradient plus ``weight_decay * p``, ``t`` = 1, 2, ... the update count and
the state slot ``sum`` = ``G`` (started at ``initial_accumulator_value``)::

    lr_t = lr / (1 + (t - 1) lr_decay)
    G <- G + g^2
    p <- p - lr_t g / (sqrt(G) + epsilon)

The defaults are torch's (Keras starts ``G`` at 0.1 and puts epsilon inside the square root).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.optim.optimizer import Optimizer, check_number
from rnnlab.optim.schedules import Schedule

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``).

    Args:
        lr: learning rate (> 0) or a schedule.
        initial_accumulator_value: starting value of the sum of squares, >= 0.
        epsilon: added to ``sqrt(G)``, >= 0.
        lr_decay: the ``1 / (1 + (t - 1) lr_decay)`` decay of the learning rate, >= 0.
        weight_decay, clipvalue, clipnorm: see ``Optimizer``.
    """

    def __init__(
        self,
        lr: float | Schedule = 1e-2,
        initial_accumulator_value: float = 0.0,
        epsilon: float = 1e-10,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        clipvalue: float | None = None,
        clipnorm: float | None = None,
    ) -> None:
        self.initial_accumulator_value = check_number("initial_accumulator_value", initial_accumulator_value, low=0.0)
        self.epsilon = check_number("epsilon", epsilon, low=0.0)
        self.lr_decay = check_number("lr_decay", lr_decay, low=0.0)
        super().__init__(lr, weight_decay=weight_decay, clipvalue=clipvalue, clipnorm=clipnorm)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("sum",)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        G = self._slot("sum", name, p, fill=self.initial_accumulator_value)
        clr = lr / (1 + (t - 1) * self.lr_decay)
        G += g * g
        std = np.sqrt(G)
        std += self.epsilon
        p -= clr * g / std

    def _config(self) -> dict[str, Any]:
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
            "lr_decay": self.lr_decay,
        }
