"""Activation functions by name, each a forward and the derivative written from its output.

Every recurrent cell stores activations (gate values, candidate values), not pre-activations,
so the backward pass needs ``f'(a)`` expressed through ``y = f(a)``. All five activations allow it:

=============  ===============================  ==========================================
name           y = f(a)                         f'(a) written with y
=============  ===============================  ==========================================
tanh           tanh(a)                          1 - y**2
sigmoid        1 / (1 + exp(-a))                y * (1 - y)
hard_sigmoid   clip(0.2 a + 0.5, 0, 1)          0.2 where 0 < y < 1, else 0
relu           max(a, 0)                        1 where y > 0, else 0
linear         a                                1
=============  ===============================  ==========================================

``hard_sigmoid`` is the Keras 2 / ONNX one (alpha 0.2, beta 0.5), the one the lecture notes' Keras
signature defaults to; Keras 3 changed its slope to 1/6, rnnlab keeps the notes' 0.2.

The forward functions work in place when ``out`` is given (the recurrent loops pass slices of
preallocated buffers), so the hot loop allocates nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Activation", "get", "names"]


def _tanh(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.tanh(a, out=out)


def _dtanh(y: np.ndarray) -> np.ndarray:
    return 1.0 - y * y


def _sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    # 0.5 * (1 + tanh(a / 2)) is the logistic function without overflow for large |a|.
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _dsigmoid(y: np.ndarray) -> np.ndarray:
    return y * (1.0 - y)


def _hard_sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.multiply(a, 0.2, out=out)
    out += 0.5
    return np.clip(out, 0.0, 1.0, out=out)


def _dhard_sigmoid(y: np.ndarray) -> np.ndarray:
    return np.where((y > 0.0) & (y < 1.0), 0.2, 0.0).astype(y.dtype, copy=False)


def _relu(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.maximum(a, 0.0, out=out)


def _drelu(y: np.ndarray) -> np.ndarray:
    return (y > 0.0).astype(y.dtype)


def _linear(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        return a.copy()
    if out is not a:
        out[...] = a
    return out


def _dlinear(y: np.ndarray) -> np.ndarray:
    return np.ones_like(y)


@dataclass(frozen=True)
class Activation:
    """A named activation: ``forward(a, out=None) -> y`` and ``grad(y) -> f'(a)``."""

    name: str
    forward: Callable[..., np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]

    def __call__(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return self.forward(a, out=out)


_REGISTRY: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", _tanh, _dtanh),
        Activation("sigmoid", _sigmoid, _dsigmoid),
        Activation("hard_sigmoid", _hard_sigmoid, _dhard_sigmoid),
        Activation("relu", _relu, _drelu),
        Activation("linear", _linear, _dlinear),
    )
}


def names() -> tuple[str, ...]:
    """The activation names rnnlab knows."""
    return tuple(_REGISTRY)


def get(name: str | Activation, *, argument: str = "activation") -> Activation:
    """Look an activation up by name; ``argument`` names the caller's parameter in errors."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string naming an activation, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown {argument} {name!r}; expected one of {', '.join(sorted(_REGISTRY))}") from None
