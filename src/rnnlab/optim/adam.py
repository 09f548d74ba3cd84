r"""Adam, exactly ``torch.optim.Adam`` (bias-corrected moments, epsilon outside the square root).

With ``g`` the clipped gradient plus ``weight_decay * p`` and ``t`` = 1, 2, ... the update count
(state slots ``exp_avg`` = ``m``, ``exp_avg_sq`` = ``v``, and ``max_exp_avg_sq`` with AMSGrad)::

    m <- beta_1 m + (1 - beta_1) g
    v <- beta_2 v + (1 - beta_2) g^2
    v_max <- max(v_max, v)                      amsgrad=True: use v_max for v below
    p <- p - lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)

Keras puts epsilon after the bias correction of the step size instead (``epsilon_hat`` of the
Adam paper), so the same ``epsilon`` gives slightly different steps there; rnnlab follows torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import backend
from rnnlab.optim.optimizer import Optimizer, check_number
from rnnlab.optim.schedules import Schedule

__all__ = ["Adam", "lerp_"]


def lerp_(a: np.ndarray, b: np.ndarray, w: float, work: np.ndarray | None = None) -> None:
    """``a <- a + w (b - a)`` in place, rounded like ``torch.lerp`` (its form flips at ``w = 0.5``);
    ``work``, an array like ``a``, saves a temporary."""
    if abs(w) < 0.5:
        d = np.subtract(b, a, out=work)
        d *= w
        a += d
    else:
        # a <- b - (b - a) (1 - w)
        np.subtract(b, a, out=a)
        a *= 1.0 - w
        np.subtract(b, a, out=a)


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``; ``amsgrad`` as in torch, coupled L2 ``weight_decay``).

    Args:
        lr: learning rate (> 0) or a schedule.
        beta_1: decay of the first moment, in [0, 1).
        beta_2: decay of the second moment, in [0, 1).
        epsilon: added to the bias-corrected ``sqrt(v)``, >= 0 (torch's default 1e-8).
        amsgrad: divide by the running maximum of ``v`` (AMSGrad).
        weight_decay, clipvalue, clipnorm: see ``Optimizer``.
    """

    def __init__(
        self,
        lr: float | Schedule = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        amsgrad: bool = False,
        weight_decay: float = 0.0,
        clipvalue: float | None = None,
        clipnorm: float | None = None,
    ) -> None:
        self.beta_1 = check_number("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = check_number("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = check_number("epsilon", epsilon, low=0.0)
        if not isinstance(amsgrad, bool):
            raise TypeError(f"amsgrad must be True or False, got {amsgrad!r}")
        self.amsgrad = amsgrad
        self._scratch_arrays: dict[str, np.ndarray] = {}  # work arrays of the NumPy update, never saved
        super().__init__(lr, weight_decay=weight_decay, clipvalue=clipvalue, clipnorm=clipnorm)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if self.amsgrad else ("exp_avg", "exp_avg_sq")

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        m = self._slot("exp_avg", name, p)
        v = self._slot("exp_avg_sq", name, p)
        bias_correction1 = 1.0 - self.beta_1**t
        bias_correction2 = 1.0 - self.beta_2**t
        step_size = lr / bias_correction1
        if not self.amsgrad and backend.get_backend() == "numba":  # one compiled pass, the same numbers
            from rnnlab.kernels.optim import adam_update

            if adam_update(p, g, m, v, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                           step_size=step_size, bias_correction2=bias_correction2):
                return
        tmp = self._scratch(name, p)  # one work array per parameter, reused: no temporaries
        lerp_(m, g, 1.0 - self.beta_1, tmp)
        v *= self.beta_2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.beta_2
        v += tmp
        if self.amsgrad:
            v_max = self._slot("max_exp_avg_sq", name, p)
            np.maximum(v_max, v, out=v_max)
            v = v_max

        np.sqrt(v, out=tmp)  # denom = sqrt(v) / sqrt(bias_correction2) + epsilon
        tmp /= bias_correction2**0.5
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)  # p <- p - step_size * (m / denom), torch's addcdiv
        tmp *= step_size
        p -= tmp

    def _scratch(self, name: str, p: np.ndarray) -> np.ndarray:
        """A work array shaped like ``p`` (not state: never saved, contents meaningless between calls)."""
        a = self._scratch_arrays.get(name)
        if a is None or a.shape != p.shape or a.dtype != p.dtype:
            a = self._scratch_arrays[name] = np.empty_like(p)
        return a

    def _config(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}
