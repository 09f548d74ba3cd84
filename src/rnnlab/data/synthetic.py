"""Synthetic long-memory benchmarks: the adding problem and the copy-memory task.

Both are generated from a ``np.random.Generator``, so a seed reproduces a data set exactly.
Shapes: ``n`` sequences, ``T`` the delay that sets the difficulty.

Adding problem (Hochreiter & Schmidhuber 1997; the variant of Le, Jaitly & Hinton 2015)::

    x[:, t, 0] ~ U[0, 1]                   values
    x[:, t, 1] = 1 at two positions        markers: one in [0, T//2), one in [T//2, T)
    y = sum_t x[:, t, 0] * x[:, t, 1]      the sum of the two marked values, in [0, 2]

Predicting the mean (y = 1) gives a mean squared error of about 0.167 (= 2 * 1/12); a sequence
counts as solved when |error| < 0.04 (Hochreiter & Schmidhuber 1997).

Copy memory (Arjovsky, Shah & Bengio 2016), with ``L = length`` and ``S = n_symbols``, over
``T + 2L`` steps (blank = 0, symbols 1..S, delimiter = S + 1)::

    step:     0 .. L-1      L .. L+T-2     L+T-1        L+T .. T+2L-1
    input:    s_1 .. s_L    0 ..  0        S+1 (go)     0 .. 0
    target:   0 .. 0        0 ..  0        0            s_1 .. s_L

The model must remember the ``L`` symbols over ``T`` steps and replay them after the delimiter.
A memoryless baseline that outputs blanks and then uniformly random symbols has a cross-entropy of
``L * log(S) / (T + 2L)`` per step.
"""

from __future__ import annotations

import numpy as np


def _check_int(name: str, value: object, minimum: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a np.random.Generator, got {type(rng).__name__}; pass np.random.default_rng(seed)"
        )
    return rng


def adding_problem(n: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` adding-problem sequences of length ``T``: ``x (n, T, 2)`` and ``y (n, 1)``, float32.

    Channel 0 holds values drawn from U[0, 1]; channel 1 is 1.0 at exactly two steps, one drawn
    uniformly from the first half ``[0, T//2)`` and one from the second half ``[T//2, T)``, and
    0.0 elsewhere. ``y`` is the sum of the two marked values.
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 2)
    rng = _check_rng(rng)
    half = T // 2
    values = rng.random((n, T), dtype=np.float32)  # (n, T)
    first = rng.integers(0, half, size=n)  # (n,) marker in the first half
    second = rng.integers(half, T, size=n)  # (n,) marker in the second half
    rows = np.arange(n)
    markers = np.zeros((n, T), dtype=np.float32)  # (n, T)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2)  # (n, T, 2)
    y = (values[rows, first] + values[rows, second])[:, None]  # (n, 1)
    return x, y.astype(np.float32)


def copy_memory(
    n: int, T: int, rng: np.random.Generator, n_symbols: int = 8, length: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` copy-memory sequences: int64 inputs and targets, both ``(n, T + 2 * length)``.

    Layout (see the module docstring): ``length`` symbols drawn uniformly from ``1..n_symbols``,
    ``T - 1`` blanks (0), the delimiter ``n_symbols + 1`` at step ``length + T - 1``, then
    ``length`` blanks. The target is blank for the first ``T + length`` steps and the same
    ``length`` symbols for the last ``length`` steps. Inputs take ``n_symbols + 2`` values,
    targets ``n_symbols + 1``.
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 1)
    n_symbols = _check_int("n_symbols", n_symbols, 1)
    length = _check_int("length", length, 1)
    rng = _check_rng(rng)
    total = T + 2 * length
    symbols = rng.integers(1, n_symbols + 1, size=(n, length))  # (n, length)
    x = np.zeros((n, total), dtype=np.int64)  # (n, T + 2L)
    x[:, :length] = symbols
    x[:, length + T - 1] = n_symbols + 1
    y = np.zeros((n, total), dtype=np.int64)  # (n, T + 2L)
    y[:, -length:] = symbols
    return x, y
