r"""Losses as forward/backward pairs: each returns ``(loss, dlogits)`` with the gradient beside it.

Shapes: ``N`` batch, ``T`` time, ``Q`` classes, ``F`` independent binary outputs (88 piano keys),
``D`` regression outputs. Every loss takes the network's raw outputs, either one per sequence
element ``(N, T, .)`` or one per sequence ``(N, .)``, and an optional boolean ``mask`` with the
outputs' leading shape, ``(N, T)`` or ``(N,)``, True = real element, False = padding.

Call the positions ``e = (n, t)`` (or ``e = n``) *elements* and let ``m_e`` be the mask
(1 everywhere without one) and ``M = sum_e m_e`` the number of real elements. Each loss is a mean
over the real elements, so the lecture's ``1/T sum_t l(Y^_t, Y_t)`` is also averaged over the
minibatch, and padded elements contribute nothing to the loss and receive a zero gradient::

    L = 1/M sum_e m_e l_e            dL/do_e = m_e / M * dl_e/do_e

The softmax and the sigmoid are fused into their losses (the model's output layer is linear and
emits logits), which keeps them numerically stable and the gradients exact. So the registry names
``categorical_crossentropy`` and ``binary_crossentropy`` mean Keras' ``from_logits=True`` variants.

Validation happens here, at the public boundary: shapes, dtypes, labels in range, finite logits and
at least one real element, each failure a ``ValueError``/``TypeError`` naming what was expected and
what was received. ``rnnlab.metrics`` reuses these checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Loss",
    "get",
    "mean_squared_error",
    "names",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy",
]

LossFn = Callable[..., tuple[float, np.ndarray]]


# ---------------------------------------------------------------------------------------------
# Validation shared with rnnlab.metrics
# ---------------------------------------------------------------------------------------------


def check_outputs(x: np.ndarray, *, argument: str, last: str) -> np.ndarray:
    """``x`` as a float array of shape ``(N, T, last)`` or ``(N, last)``; ``last`` names the last axis."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{argument} must be a floating-point array (float32 or float64), got dtype {x.dtype}")
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{argument} must have shape (N, T, {last}) (one output per sequence element) or "
            f"(N, {last}) (one per sequence), got shape {x.shape}"
        )
    return x


def check_mask(mask: np.ndarray | None, shape: tuple[int, ...], *, argument: str) -> tuple[np.ndarray | None, int]:
    """Validate a mask for elements of ``shape``; return it as booleans (or None) and ``M``.

    ``M`` is the number of real elements; a batch without any raises, because a mean over no
    element is undefined (and a silent zero loss hides a data bug).
    """
    if mask is None:
        count = int(np.prod(shape))
        if count == 0:
            raise ValueError(f"{argument} of element shape {shape} has no element; the loss needs at least one")
        return None, count
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"mask must have shape {shape} (one flag per element of {argument}), got shape {m.shape}")
    if m.dtype != np.bool_:
        if m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all():
            raise ValueError(
                f"mask must be boolean (True = real element), got dtype {m.dtype} with values other than 0/1"
            )
        m = m.astype(bool)
    count = int(m.sum())
    if count == 0:
        raise ValueError(
            f"mask has no real element (all {m.size} entries are False); the loss and metrics need at "
            "least one real element per batch"
        )
    return (None if count == m.size else m), count


def check_finite(x: np.ndarray, m: np.ndarray | None, *, argument: str) -> np.ndarray:
    """Raise if a real element of ``x`` holds NaN/inf; zero non-finite values at padded elements."""
    finite = np.isfinite(x)
    if finite.all():
        return x
    bad = ~finite.all(axis=-1)  # per element
    if m is not None:
        bad &= m
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{argument} must be finite, got NaN or inf at element {where} ({int(bad.sum())} real elements "
            "affected); the model diverged upstream, try a lower learning rate or gradient clipping"
        )
    return np.where(finite, x, 0.0).astype(x.dtype, copy=False)


def check_class_targets(
    targets: np.ndarray, logits_shape: tuple[int, ...], m: np.ndarray | None, dtype: np.dtype
) -> np.ndarray:
    """Integer class ids ``(N, T)``/``(N,)`` (returned as ``intp`` with padded ids set to 0), or
    one-hot/probability rows with the logits' shape (returned in ``dtype`` with padded rows zeroed).
    """
    y = np.asarray(targets)
    Q = logits_shape[-1]
    element_shape = logits_shape[:-1]
    if y.dtype.kind in "iu":
        if y.shape != element_shape:
            raise ValueError(
                f"integer targets (class ids) must have shape {element_shape} to match logits of shape "
                f"{logits_shape}, got shape {y.shape}"
            )
        bad = (y < 0) | (y >= Q)
        if m is not None:
            bad &= m
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"targets{list(where)} = {int(y[where])} is not a class id: expected an integer in [0, {Q}) "
                f"(Q = {Q} classes from logits of shape {logits_shape}); {int(bad.sum())} real element(s) out "
                "of range (padded elements, mask False, may hold any value)"
            )
        if m is not None:
            y = np.where(m, y, 0)
        return y.astype(np.intp, copy=False)
    if y.dtype.kind == "f":
        if y.shape != logits_shape:
            if y.shape == element_shape:
                raise ValueError(
                    f"floating targets of shape {y.shape} look like class ids: pass class ids as an integer "
                    f"array (targets.astype(np.int64)), or one-hot/probability rows of shape {logits_shape}"
                )
            raise ValueError(
                f"one-hot/probability targets must have the logits' shape {logits_shape}, got shape {y.shape}"
            )
        y = y.astype(dtype, copy=False)
        real = y if m is None else y[m]
        if not np.isfinite(real).all() or (real < 0).any():
            raise ValueError("one-hot/probability targets must be finite and non-negative at real elements")
        if m is not None:
            y = np.where(m[..., None], y, 0.0).astype(dtype, copy=False)
        return y
    raise TypeError(f"targets must be integer class ids or float one-hot/probability rows, got dtype {y.dtype}")


def _same_shape_targets(targets: np.ndarray, shape: tuple[int, ...], dtype: np.dtype, *, argument: str) -> np.ndarray:
    y = np.asarray(targets)
    if y.shape != shape:
        raise ValueError(f"{argument} must have the outputs' shape {shape}, got shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{argument} must be numeric, got dtype {y.dtype}")
    return y.astype(dtype, copy=False)


def _scale(m: np.ndarray | None, count: int, dtype: np.dtype) -> np.ndarray | float:
    """``m_e / M`` broadcast over the last axis, or the scalar ``1/M`` without a mask."""
    if m is None:
        return 1.0 / count
    return (m / count).astype(dtype)[..., None]


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def softmax_cross_entropy(
    logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    r"""Softmax cross-entropy averaged over real elements, and its gradient.

    For each element with logits ``o`` (``Q`` values) and target distribution ``y`` (one-hot for a
    class id)::

        log p = o - logsumexp(o)                       log-softmax, stable: shift by max(o) first
        l     = -sum_q y_q log p_q                      = -log p_y for a class id
        L     = 1/M sum_e m_e l_e
        dL/do = m_e / M * (p * sum_q y_q - y)          = m_e / M * (p - onehot(y)) for a class id

    Args:
        logits: ``(N, T, Q)`` per element or ``(N, Q)`` per sequence, float32/float64.
        targets: class ids ``(N, T)``/``(N,)`` (any integer dtype), or one-hot/probability rows with
            the logits' shape. Padded elements may hold any label (0, -1, ...).
        mask: optional boolean ``(N, T)``/``(N,)``, True = real element.

    Returns:
        ``(loss, dlogits)``: the mean loss as a Python float and ``dL/dlogits`` with the logits'
        shape and dtype (zero at padded elements).
    """
    o = check_outputs(logits, argument="logits", last="Q")
    m, M = check_mask(mask, o.shape[:-1], argument="logits")
    o = check_finite(o, m, argument="logits")
    y = check_class_targets(targets, o.shape, m, o.dtype)
    Q = o.shape[-1]

    z = o - o.max(axis=-1, keepdims=True)  # (..., Q), max entry 0
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # (..., Q)
    p = np.exp(logp)  # (..., Q) softmax
    if y.ndim == o.ndim - 1:  # class ids
        nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]  # (...)
        dlogits = p
        rows = dlogits.reshape(-1, Q)  # view
        rows[np.arange(rows.shape[0]), y.ravel()] -= 1.0
    else:  # one-hot / probability rows
        nll = -(y * logp).sum(axis=-1)  # (...)
        dlogits = p * y.sum(axis=-1, keepdims=True) - y

    loss = nll.sum(dtype=np.float64) if m is None else nll[m].sum(dtype=np.float64)
    dlogits *= _scale(m, M, o.dtype)
    return float(loss / M), dlogits


def sigmoid_binary_cross_entropy(
    logits: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray | None = None,
    reduction: str = "mean",
) -> tuple[float, np.ndarray]:
    r"""Sigmoid binary cross-entropy for ``F`` independent yes/no outputs per element (multi-label).

    Per output, with ``s = sigmoid(o)`` and a target probability ``y`` in ``[0, 1]``, in the form
    that never overflows::

        l(o, y) = -y log s - (1 - y) log(1 - s) = max(o, 0) - o y + log(1 + exp(-|o|))
        dl/do   = s - y

    ``reduction`` says how the ``F`` outputs of an element are combined:

    - ``"mean"``: ``L = 1/(M F) sum_e m_e sum_f l_ef`` (Keras' ``binary_crossentropy``, the mean
      over every real output);
    - ``"sum_over_features"``: ``L = 1/M sum_e m_e sum_f l_ef``, the negative log-likelihood per
      time step that the polyphonic-music papers report (88 keys summed per frame).

    Args:
        logits: ``(N, T, F)`` or ``(N, F)``, float32/float64.
        targets: the logits' shape; floats in ``[0, 1]``, or booleans/0-1 integers.
        mask: optional boolean ``(N, T)``/``(N,)``.
        reduction: ``"mean"`` or ``"sum_over_features"``.

    Returns:
        ``(loss, dlogits)`` as in ``softmax_cross_entropy``.
    """
    if reduction not in ("mean", "sum_over_features"):
        raise ValueError(f"reduction must be 'mean' or 'sum_over_features', got {reduction!r}")
    o = check_outputs(logits, argument="logits", last="F")
    m, M = check_mask(mask, o.shape[:-1], argument="logits")
    o = check_finite(o, m, argument="logits")
    y = _same_shape_targets(targets, o.shape, o.dtype, argument="targets")
    real = y if m is None else y[m]
    outside = ~((real >= 0) & (real <= 1))  # NaN counts as outside
    if outside.any():
        raise ValueError(
            f"binary targets must lie in [0, 1] at real elements, got {int(outside.sum())} value(s) outside, "
            f"e.g. {real[outside][0]}"
        )
    if m is not None:
        y = np.where(m[..., None], y, 0.0).astype(o.dtype, copy=False)  # padded targets may hold anything

    l = np.maximum(o, 0.0) - o * y + np.log1p(np.exp(-np.abs(o)))  # (..., F)
    s = 0.5 * (1.0 + np.tanh(0.5 * o))  # (..., F) sigmoid without overflow
    dlogits = s - y
    count = M * o.shape[-1] if reduction == "mean" else M

    loss = l.sum(dtype=np.float64) if m is None else l[m].sum(dtype=np.float64)
    dlogits *= _scale(m, count, o.dtype)
    return float(loss / count), dlogits


def mean_squared_error(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    r"""Mean squared error over every output of every real element, and its gradient.

    ::

        L       = 1/(M D) sum_e m_e sum_d (pred_ed - target_ed)^2
        dL/dpred = 2 m_e / (M D) (pred - target)

    Args:
        pred: ``(N, T, D)`` or ``(N, D)`` (use ``(N, 1)`` for one number per sequence, e.g. the
            adding problem), float32/float64.
        target: the prediction's shape.
        mask: optional boolean ``(N, T)``/``(N,)``.

    Returns:
        ``(loss, dpred)``.
    """
    x = check_outputs(pred, argument="pred", last="D")
    m, M = check_mask(mask, x.shape[:-1], argument="pred")
    x = check_finite(x, m, argument="pred")
    y = _same_shape_targets(target, x.shape, x.dtype, argument="target")
    if not np.isfinite(y if m is None else y[m]).all():
        raise ValueError("target must be finite at real elements, got NaN or inf")
    if m is not None:
        y = np.where(m[..., None], y, x)  # padded elements: zero error, whatever the target holds

    err = x - y  # (..., D)
    count = M * x.shape[-1]
    loss = np.square(err).sum(dtype=np.float64)
    dpred = err * _scale(m, count, x.dtype)
    dpred *= 2.0
    return float(loss / count), dpred


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """A named loss: ``loss(outputs, targets, mask=None) -> (loss, doutputs)``."""

    name: str
    fn: LossFn

    def __call__(
        self, outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        return self.fn(outputs, targets, mask)


_REGISTRY: dict[str, Loss] = {
    # Keras names. Both cross-entropies accept either target form (class ids or one-hot rows).
    "categorical_crossentropy": Loss("categorical_crossentropy", softmax_cross_entropy),
    "sparse_categorical_crossentropy": Loss("sparse_categorical_crossentropy", softmax_cross_entropy),
    "binary_crossentropy": Loss("binary_crossentropy", sigmoid_binary_cross_entropy),
    "mse": Loss("mse", mean_squared_error),
    # rnnlab's own names.
    "softmax_cross_entropy": Loss("softmax_cross_entropy", softmax_cross_entropy),
    "sigmoid_binary_cross_entropy": Loss("sigmoid_binary_cross_entropy", sigmoid_binary_cross_entropy),
    "mean_squared_error": Loss("mean_squared_error", mean_squared_error),
}


def names() -> tuple[str, ...]:
    """The loss names ``get`` knows."""
    return tuple(_REGISTRY)


def get(name: str | Loss, *, argument: str = "loss") -> Loss:
    """Look a loss up by name (Keras' names included); ``argument`` names the caller's parameter."""
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string naming a loss, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown {argument} {name!r}; expected one of {', '.join(sorted(_REGISTRY))}") from None
