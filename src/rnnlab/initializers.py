"""Weight initializers by name, as in Keras: ``glorot_uniform`` kernels, ``orthogonal`` recurrent kernels.

Each initializer is ``init(shape, rng, dtype) -> np.ndarray``; fan-in and fan-out are the two axes of
a ``(inputs, outputs)`` matrix, so a gate-stacked kernel ``(D, G*H)`` has fan-out ``G*H`` as in Keras.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple[int, ...], np.random.Generator, np.dtype], np.ndarray]


def zeros(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    return np.zeros(shape, dtype)


def ones(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    return np.ones(shape, dtype)


def glorot_uniform(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Uniform in ``[-l, l]``, ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    fan_in, fan_out = shape[0], shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al. 2014)."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # make the decomposition unique, so the distribution is uniform
    if rows < cols:
        q = q.T
    return q.reshape(shape).astype(dtype)


def uniform(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Uniform in ``[-0.05, 0.05]`` (Keras' RandomUniform default)."""
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


_REGISTRY: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
    "uniform": uniform,
}


def get(name: str, *, argument: str = "initializer") -> Initializer:
    """Look an initializer up by name; ``argument`` names the caller's parameter in errors."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown {argument} {name!r}; expected one of {', '.join(sorted(_REGISTRY))}") from None
