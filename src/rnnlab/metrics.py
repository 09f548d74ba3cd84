"""Evaluation metrics over real (unmasked) elements; each returns a Python float in ``[0, 1]``.

Shapes: ``N`` batch, ``T`` time, ``Q`` classes, ``F`` binary outputs, ``D`` regression outputs.
Outputs are ``(N, T, .)`` per element or ``(N, .)`` per sequence, with an optional boolean
``mask`` ``(N, T)``/``(N,)`` (True = real element), exactly as in ``rnnlab.losses``, whose input
checks these functions share.

===================  ==========================================================================
metric               fraction of ...
===================  ==========================================================================
accuracy             real elements whose argmax matches the class id (or the one-hot argmax)
sequence_accuracy    sequences (with at least one real element) right at every real element
binary_accuracy      real binary outputs on the right side of the threshold
within_tolerance     real regression outputs with ``|pred - target| < tol`` (adding problem: 0.04)
===================  ==========================================================================
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.losses import check_class_targets, check_mask, check_outputs

__all__ = [
    "Metric",
    "accuracy",
    "binary_accuracy",
    "get",
    "names",
    "sequence_accuracy",
    "within_tolerance",
]


def _correct_elements(
    logits_or_probs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Per element: is the argmax right? Returns ``(correct (N, T)/(N,), mask or None, M)``."""
    o = check_outputs(logits_or_probs, argument="logits_or_probs", last="Q")
    if o.shape[-1] < 2:
        raise ValueError(
            f"accuracy needs at least 2 classes on the last axis, got shape {o.shape}; for a single "
            "sigmoid output use binary_accuracy"
        )
    m, M = check_mask(mask, o.shape[:-1], argument="logits_or_probs")
    y = check_class_targets(targets, o.shape, m, o.dtype)
    if y.ndim == o.ndim:  # one-hot / probability rows
        y = y.argmax(axis=-1)
    return o.argmax(axis=-1) == y, m, M


def accuracy(logits_or_probs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Fraction of real elements whose argmax over ``Q`` equals the target class.

    Args:
        logits_or_probs: ``(N, T, Q)`` or ``(N, Q)``; logits and probabilities give the same argmax.
        targets: class ids ``(N, T)``/``(N,)`` or one-hot/probability rows (their argmax is used).
        mask: optional boolean ``(N, T)``/``(N,)``.
    """
    correct, m, M = _correct_elements(logits_or_probs, targets, mask)
    hits = correct.sum() if m is None else correct[m].sum()
    return float(hits / M)


def sequence_accuracy(logits_or_probs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Fraction of sequences predicted right at every real element.

    Sequences whose elements are all padding are left out of the count (they have nothing to get
    right). Per-sequence outputs ``(N, Q)`` give the same number as ``accuracy``.

    Args:
        logits_or_probs: ``(N, T, Q)`` or ``(N, Q)``.
        targets: class ids ``(N, T)`` or one-hot rows ``(N, T, Q)``.
        mask: optional boolean ``(N, T)``.
    """
    correct, m, _ = _correct_elements(logits_or_probs, targets, mask)
    if correct.ndim == 1:
        return float(correct.mean() if m is None else correct[m].mean())
    if m is None:
        return float(correct.all(axis=1).mean())
    has_real = m.any(axis=1)  # (N,)
    right = (correct | ~m).all(axis=1)  # (N,)
    return float(right[has_real].mean())


def binary_accuracy(
    logits_or_probs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    from_logits: bool = True,
    threshold: float = 0.5,
) -> float:
    """Fraction of real binary outputs predicted right: ``(s > threshold) == (y > 0.5)``.

    ``s`` is ``sigmoid(logits)`` (the default, matching ``sigmoid_binary_cross_entropy``) or the
    given probabilities with ``from_logits=False``. Soft targets count as 1 above 0.5.

    Args:
        logits_or_probs: ``(N, T, F)`` or ``(N, F)``.
        targets: the same shape; floats in ``[0, 1]``, booleans or 0/1 integers.
        mask: optional boolean ``(N, T)``/``(N,)``.
        from_logits: whether ``logits_or_probs`` holds logits (True) or probabilities.
        threshold: probability above which an output counts as 1, in ``(0, 1)``.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    o = check_outputs(logits_or_probs, argument="logits_or_probs", last="F")
    m, M = check_mask(mask, o.shape[:-1], argument="logits_or_probs")
    y = np.asarray(targets)
    if y.shape != o.shape:
        raise ValueError(f"targets must have the outputs' shape {o.shape}, got shape {y.shape}")
    cut = np.log(threshold / (1.0 - threshold)) if from_logits else threshold  # logit of threshold
    correct = (o > cut) == (y > 0.5)  # (..., F)
    hits = correct.sum() if m is None else correct[m].sum()
    return float(hits / (M * o.shape[-1]))


def within_tolerance(pred: np.ndarray, target: np.ndarray, tol: float, mask: np.ndarray | None = None) -> float:
    """Fraction of real regression outputs with ``|pred - target| < tol``.

    The adding problem counts a sequence as solved when its absolute error is below 0.04.

    Args:
        pred: ``(N, T, D)`` or ``(N, D)``.
        target: the same shape.
        tol: tolerance, > 0.
        mask: optional boolean ``(N, T)``/``(N,)``.
    """
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    x = check_outputs(pred, argument="pred", last="D")
    m, M = check_mask(mask, x.shape[:-1], argument="pred")
    y = np.asarray(target)
    if y.shape != x.shape:
        raise ValueError(f"target must have the prediction's shape {x.shape}, got shape {y.shape}")
    close = np.abs(x - y) < tol  # (..., D); NaN counts as wrong
    hits = close.sum() if m is None else close[m].sum()
    return float(hits / (M * x.shape[-1]))


@dataclass(frozen=True)
class Metric:
    """A named metric: ``metric(outputs, targets, mask=None) -> float``."""

    name: str
    fn: Callable[..., float]

    def __call__(self, outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> float:
        return self.fn(outputs, targets, mask=mask)


_REGISTRY: dict[str, Callable[..., float]] = {
    "accuracy": accuracy,
    "sequence_accuracy": sequence_accuracy,
    "binary_accuracy": binary_accuracy,
    "within_tolerance": within_tolerance,
    # Keras aliases.
    "acc": accuracy,
    "categorical_accuracy": accuracy,
    "sparse_categorical_accuracy": accuracy,
}


def names() -> tuple[str, ...]:
    """The metric names ``get`` knows."""
    return tuple(_REGISTRY)


def get(name: str | Metric, *, argument: str = "metric", **kwargs: Any) -> Metric:
    """Look a metric up by name, binding keyword options: ``get("within_tolerance", tol=0.04)``.

    ``within_tolerance`` needs ``tol``; ``binary_accuracy`` takes ``from_logits`` and ``threshold``.
    """
    if isinstance(name, Metric):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string naming a metric, got {type(name).__name__}")
    try:
        fn = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown {argument} {name!r}; expected one of {', '.join(sorted(_REGISTRY))}") from None
    try:
        inspect.signature(fn).bind_partial(None, None, **kwargs)
    except TypeError as err:
        raise TypeError(f"metric {name!r} does not take {sorted(kwargs)}: {err}") from None
    if fn is within_tolerance and "tol" not in kwargs:
        raise ValueError("metric 'within_tolerance' needs a tolerance: get('within_tolerance', tol=0.04)")
    return Metric(name, functools.partial(fn, **kwargs) if kwargs else fn)
