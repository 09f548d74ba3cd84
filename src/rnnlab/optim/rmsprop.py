r"""RMSprop, exactly ``torch.optim.RMSprop`` (epsilon outside the square root).

With ``g`` the clipped gradient plus ``weight_decay * p``, ``rho`` the decay (torch's ``alpha``)
and state slots ``square_avg`` = ``s``, ``grad_avg`` = ``a`` (centered) and ``momentum_buffer`` = ``b``::

    s <- rho s + (1 - rho) g^2
    a <- rho a + (1 - rho) g                    centered=True
    d <- sqrt(s - a^2) + epsilon                centered=True, else sqrt(s) + epsilon
    p <- p - lr g / d                           momentum = 0
    b <- mu b + g / d;  p <- p - lr b           momentum mu > 0

Defaults follow Keras' names and values where torch's differ (``rho=0.9``, torch ``alpha=0.99``;
``lr=1e-3``, torch 1e-2); Keras puts epsilon inside the square root, rnnlab follows torch, so
``RMSprop(lr, rho=a, epsilon=e)`` matches ``torch.optim.RMSprop(lr=lr, alpha=a, eps=e)`` exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.optim.adam import lerp_
from rnnlab.optim.optimizer import Optimizer, check_number
from rnnlab.optim.schedules import Schedule

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop`` with ``alpha = rho``).

    Args:
        lr: learning rate (> 0) or a schedule.
        rho: decay of the mean square, in [0, 1) (torch's ``alpha``).
        momentum: ``mu`` >= 0; 0 turns momentum off.
        epsilon: added to the root mean square, >= 0 (torch's default 1e-8).
        centered: divide by the centred (variance) estimate ``sqrt(s - a^2)``.
        weight_decay, clipvalue, clipnorm: see ``Optimizer``.
    """

    def __init__(
        self,
        lr: float | Schedule = 1e-3,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-8,
        centered: bool = False,
        weight_decay: float = 0.0,
        clipvalue: float | None = None,
        clipnorm: float | None = None,
    ) -> None:
        self.rho = check_number("rho", rho, low=0.0, high=1.0, high_open=True)
        self.momentum = check_number("momentum", momentum, low=0.0)
        self.epsilon = check_number("epsilon", epsilon, low=0.0)
        if not isinstance(centered, bool):
            raise TypeError(f"centered must be True or False, got {centered!r}")
        self.centered = centered
        super().__init__(lr, weight_decay=weight_decay, clipvalue=clipvalue, clipnorm=clipnorm)

    @property
    def slot_names(self) -> tuple[str, ...]:
        names = ["square_avg"]
        if self.centered:
            names.append("grad_avg")
        if self.momentum > 0.0:
            names.append("momentum_buffer")
        return tuple(names)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        s = self._slot("square_avg", name, p)
        s *= self.rho
        s += (1.0 - self.rho) * g * g
        if self.centered:
            a = self._slot("grad_avg", name, p)
            lerp_(a, g, 1.0 - self.rho)
            d = np.sqrt(s - a * a)
        else:
            d = np.sqrt(s)
        d += self.epsilon
        if self.momentum > 0.0:
            b = self._slot("momentum_buffer", name, p)
            b *= self.momentum
            b += g / d
            p -= lr * b
        else:
            p -= lr * g / d

    def _config(self) -> dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}
