"""Gradient clipping as pure functions over a ``dict[str, np.ndarray]`` of gradients.

Both return a new dict and never modify the arrays they are given (an array that needs no change
may be returned as it is, not copied).

- ``clip_by_value(grads, C)``: every entry to ``[-C, C]``, the lecture's ``sign(g) min(|g|, C)``
  (``torch.nn.utils.clip_grad_value_``).
- ``clip_by_global_norm(grads, max_norm)``: rescale all gradients together, exactly like
  ``torch.nn.utils.clip_grad_norm_``::

      norm = sqrt(sum_k ||g_k||^2)                  over every array g_k, as one long vector
      coef = max_norm / (norm + 1e-6)
      g_k <- g_k * coef   if coef < 1 (also when norm is NaN, which then spreads, as in torch)

Norms are accumulated in float64 whatever the gradients' dtype; the scaled gradients keep theirs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["clip_by_global_norm", "clip_by_value", "combine_norms", "global_norm", "param_norms"]

# torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing.
NORM_EPSILON = 1e-6


def _norm(g: np.ndarray) -> float:
    """The L2 norm, accumulated in float64 (float32 squares are summed in float64 chunk by chunk,
    without a float64 copy of the whole array)."""
    v = np.asarray(g).ravel()
    if v.dtype == np.float64:
        return math.sqrt(float(np.dot(v, v)))
    return math.sqrt(float(np.add.reduce(np.square(v), dtype=np.float64)))


def param_norms(grads: dict[str, np.ndarray]) -> dict[str, float]:
    """The L2 norm of each gradient array, by name."""
    return {name: _norm(g) for name, g in grads.items()}


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """The L2 norm of all gradients viewed as one vector: ``sqrt(sum_k ||g_k||^2)``."""
    return combine_norms(param_norms(grads).values())


def combine_norms(norms: Iterable[float]) -> float:
    """The global norm from the per-array norms (torch: the norm of the vector of norms)."""
    v = np.fromiter(norms, dtype=np.float64)
    return math.sqrt(float(np.dot(v, v)))


def clip_by_value(grads: dict[str, np.ndarray], clipvalue: float) -> dict[str, np.ndarray]:
    """Clip every gradient entry to ``[-clipvalue, clipvalue]``; returns new arrays."""
    if not clipvalue > 0:
        raise ValueError(f"clipvalue must be > 0, got {clipvalue}")
    return {name: np.clip(g, -clipvalue, clipvalue) for name, g in grads.items()}


def clip_by_global_norm(
    grads: dict[str, np.ndarray], max_norm: float, *, norm: float | None = None
) -> tuple[dict[str, np.ndarray], float]:
    """Rescale all gradients together so that their global norm is at most ``max_norm``.

    Args:
        grads: gradients by name.
        max_norm: the largest global norm let through, > 0.
        norm: the global norm of ``grads`` if the caller has already computed it.

    Returns:
        ``(clipped, norm)`` with ``norm`` the global norm *before* clipping, as torch returns it.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    total = global_norm(grads) if norm is None else float(norm)
    coef = max_norm / (total + NORM_EPSILON)
    if coef >= 1.0:
        return dict(grads), total
    return {name: g * coef for name, g in grads.items()}, total
