r"""Adam's update as one compiled pass over each parameter, the same numbers as ``rnnlab.optim.adam``.

``Adam._update`` in NumPy makes about ten passes over every array (each ``+=`` and ``*=`` reads and
writes the whole array); for a model of two million parameters that is memory traffic, not
arithmetic. This loop reads ``p``, ``g``, ``m``, ``v`` once and writes ``p``, ``m``, ``v`` once, with
the operations of the NumPy version in the same order and the same precision (``fastmath`` off,
scalars given in the arrays' dtype), so the results are bit for bit those of the NumPy update::

    m <- m + w (g - m)                  w = 1 - beta_1 < 0.5 (torch.lerp's first form), else
    m <- g - (g - m) (1 - w)
    v <- beta_2 v + (1 - beta_2) g g      (as v * beta_2, then + ((g g) * (1 - beta_2)))
    p <- p - step_size * (m / (sqrt(v) / sqrt(bias_correction_2) + epsilon))
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnlab.kernels._math import JIT, wide_vectors


@njit(**JIT)
def _adam(p, g, m, v, w, one_minus_w, beta_2, one_minus_beta_2, bc2_sqrt, epsilon, step_size, small_w):
    wide_vectors()
    for k in range(p.size):
        gk = g[k]
        if small_w:
            mk = m[k] + (gk - m[k]) * w
        else:
            mk = gk - (gk - m[k]) * one_minus_w
        vk = v[k] * beta_2 + (gk * gk) * one_minus_beta_2
        m[k] = mk
        v[k] = vk
        p[k] = p[k] - (mk / (np.sqrt(vk) / bc2_sqrt + epsilon)) * step_size


def adam_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    *,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step_size: float,
    bias_correction2: float,
) -> bool:
    """Update ``p``, ``m``, ``v`` in place; returns False (and does nothing) when the arrays are not
    all C-contiguous of one float dtype, for the caller to fall back on NumPy."""
    dtype = p.dtype
    arrays = (p, g, m, v)
    if dtype not in (np.float32, np.float64) or any(a.dtype != dtype or not a.flags.c_contiguous for a in arrays):
        return False
    s = dtype.type
    w = 1.0 - beta_1
    _adam(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), s(w), s(1.0 - w), s(beta_2), s(1.0 - beta_2),
          s(bias_correction2**0.5), s(epsilon), s(step_size), abs(w) < 0.5)
    return True
