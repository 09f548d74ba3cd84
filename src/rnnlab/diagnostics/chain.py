r"""The fourth note's chain: why a deep product of derivatives vanishes or explodes.

A multilayer perceptron with ``L`` layers of one unit each (fourth note, section 1)::

    z_l = w_l a_{l-1} + b_l,        a_l = sigma(z_l),        l = 1 .. L

has, by the chain rule,

    da_L/dw_1 = [ prod_{l=2}^{L} sigma'(z_l) w_l ] sigma'(z_1) a_0

a product of ``L`` terms: if the factors ``|sigma'(z_l) w_l|`` stay below 1 the product vanishes
geometrically with depth, above 1 it explodes. A recurrent network unrolled over ``T`` steps is
such a product with ``T`` factors (the same weight at every step), which is why plain RNNs forget.
The explorer computes the product for every depth at once (``da_l/dw_1`` for ``l = 1 .. L``: the
first ``l`` layers of the chain are a network of depth ``l``) and sweeps activations and weights:

- sigmoid: ``sigma' <= 1/4``, so ``|w| <= 4`` always vanishes, and a large ``|w|`` saturates ``z``;
- tanh: ``tanh' <= 1``; with ``w = 1, b = 0`` the activations shrink toward 0 where ``tanh' -> 1``,
  so the product decays slowly, while a large ``|w|`` saturates and vanishes;
- ReLU: ``relu'`` is 0 or 1, so the factor is ``w`` itself while ``z > 0``: ``w < 1`` vanishes,
  ``w > 1`` explodes, ``w = 1`` is exactly stable, and one negative ``z`` zeroes everything.

Shapes: ``L`` depth, ``W`` number of weights in a sweep. Everything is float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ACTIVATIONS", "Chain", "ChainSweep", "chain", "chain_output", "chain_sweep"]


def _sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))


def _dsigmoid(z: np.ndarray | float) -> np.ndarray | float:
    s = _sigmoid(z)
    return s * (1.0 - s)


def _dtanh(z: np.ndarray | float) -> np.ndarray | float:
    return 1.0 - np.tanh(z) ** 2


def _relu(z: np.ndarray | float) -> np.ndarray | float:
    return np.maximum(z, 0.0)


def _drelu(z: np.ndarray | float) -> np.ndarray | float:
    return (np.asarray(z) > 0.0).astype(np.float64)  # 0 at z = 0, as rnnlab.activations


# name -> (sigma, sigma')
ACTIVATIONS = {"sigmoid": (_sigmoid, _dsigmoid), "tanh": (np.tanh, _dtanh), "relu": (_relu, _drelu)}


@dataclass
class Chain:
    """One chain: its pre-activations, activations, factors and the product at every depth.

    Attributes:
        activation: ``"sigmoid"``, ``"tanh"`` or ``"relu"``.
        w, b: ``(L,)`` weights and biases.
        a0: the input.
        z: ``(L,)`` pre-activations ``z_l``.
        a: ``(L + 1,)`` activations ``a_0 .. a_L``.
        dsigma: ``(L,)`` ``sigma'(z_l)``.
        factors: ``(L,)``: ``sigma'(z_1) a_0`` first, then ``sigma'(z_l) w_l`` for ``l >= 2``.
        grad: ``(L,)`` ``da_l/dw_1`` for ``l = 1 .. L``: the cumulative product of ``factors``.
    """

    activation: str
    w: np.ndarray
    b: np.ndarray
    a0: float
    z: np.ndarray
    a: np.ndarray
    dsigma: np.ndarray
    factors: np.ndarray
    grad: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.w)


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")


def _as_layers(name: str, value: float | Sequence[float] | np.ndarray, depth: int | None) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        if depth is None:
            raise ValueError(f"{name} is one number: give depth=L to repeat it over L layers")
        a = np.full(depth, float(a))
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a number or a 1-D sequence with one value per layer, got shape {a.shape}")
    if depth is not None and a.size != depth:
        raise ValueError(f"{name} has {a.size} values but depth is {depth}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite")
    return a


def chain(
    activation: str,
    w: float | Sequence[float] | np.ndarray,
    b: float | Sequence[float] | np.ndarray = 0.0,
    a0: float = 1.0,
    depth: int | None = None,
) -> Chain:
    """Forward through the chain and the product ``da_l/dw_1`` for every depth ``l = 1 .. L``.

    Args:
        activation: ``"sigmoid"``, ``"tanh"`` or ``"relu"``.
        w: one weight per layer ``(L,)``, or one number repeated over ``depth`` layers.
        b: biases, the same way (default 0).
        a0: the input ``a_0``.
        depth: ``L``, needed when both ``w`` and ``b`` are single numbers.
    """
    _check_activation(activation)
    if depth is not None and (not isinstance(depth, int | np.integer) or isinstance(depth, bool) or depth < 1):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    if depth is None and np.ndim(w) == 1:
        depth = len(w)
    if depth is None and np.ndim(b) == 1:
        depth = len(b)
    w_arr, b_arr = _as_layers("w", w, depth), _as_layers("b", b, depth)
    if not np.isfinite(a0):
        raise ValueError(f"a0 must be finite, got {a0!r}")
    sigma, dsigma = ACTIVATIONS[activation]
    L = len(w_arr)
    z, a, ds = np.empty(L), np.empty(L + 1), np.empty(L)
    a[0] = a0
    for l in range(L):
        z[l] = w_arr[l] * a[l] + b_arr[l]
        a[l + 1] = sigma(z[l])
        ds[l] = dsigma(z[l])
    factors = ds * w_arr
    factors[0] = ds[0] * a0  # da_1/dw_1 = sigma'(z_1) a_0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        grad = np.cumprod(factors)
    return Chain(activation, w_arr, b_arr, float(a0), z, a, ds, factors, grad)


def chain_output(
    activation: str, w: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, a0: float = 1.0
) -> float:
    """``a_L`` alone (for finite differences): ``w`` and ``b`` are ``(L,)``."""
    _check_activation(activation)
    sigma = ACTIVATIONS[activation][0]
    a = float(a0)
    for wl, bl in zip(np.asarray(w, np.float64), np.asarray(b, np.float64), strict=True):
        a = float(sigma(wl * a + bl))
    return a


@dataclass
class ChainSweep:
    """``|da_l/dw_1|`` for every activation, weight and depth: ``grads[activation]`` is ``(W, L)``."""

    activations: tuple[str, ...]
    weights: np.ndarray  # (W,)
    depth: int
    bias: float
    a0: float
    grads: dict[str, np.ndarray]

    def to_dict(self) -> dict[str, object]:
        """JSON-able: ``|da_L/dw_1|`` at the full depth for every activation and weight."""
        return {
            "depth": self.depth,
            "bias": self.bias,
            "a0": self.a0,
            "at_depth": {
                act: {f"{w:g}": float(g[i, -1]) for i, w in enumerate(self.weights)} for act, g in self.grads.items()
            },
        }


def chain_sweep(
    activations: Sequence[str] = ("sigmoid", "tanh", "relu"),
    weights: Sequence[float] | np.ndarray = (0.5, 1.0, 2.0, 4.0, 8.0),
    depth: int = 30,
    bias: float = 0.0,
    a0: float = 1.0,
) -> ChainSweep:
    """The same weight ``w`` at every layer (like a recurrent weight reused at every step), for each
    activation and weight: ``|da_l/dw_1|`` for ``l = 1 .. depth``."""
    if not isinstance(depth, int | np.integer) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    w_arr = np.asarray(weights, np.float64)
    if w_arr.ndim != 1 or w_arr.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D sequence of numbers, got shape {w_arr.shape}")
    for act in activations:
        _check_activation(act)
    grads = {act: np.stack([np.abs(chain(act, w, bias, a0, depth).grad) for w in w_arr]) for act in activations}
    return ChainSweep(tuple(activations), w_arr, int(depth), float(bias), float(a0), grads)
