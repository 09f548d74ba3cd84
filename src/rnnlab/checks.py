"""Validation at the public boundary: every array a user hands to rnnlab passes through here once.

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong content)
with a message that says what was expected, what came, and how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def check_dtype(dtype: Any, *, argument: str = "dtype") -> np.dtype:
    """Accept float32 or float64 (as a name or numpy dtype)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{argument} must be 'float32' or 'float64', got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{argument} must be 'float32' or 'float64', got {dt.name}")
    return dt


def check_positive_int(value: Any, *, argument: str, allow_none: bool = False) -> int | None:
    """An integer >= 1 (``bool`` is refused)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{argument} must be a positive integer, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"{argument} must be a positive integer, got {value}")
    return int(value)


def check_rate(value: Any, *, argument: str) -> float:
    """A probability in ``[0, 1)`` (dropout rates)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{argument} must be a float in [0, 1), got {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{argument} must be in [0, 1), got {value}")
    return float(value)


def check_finite(a: np.ndarray, name: str) -> None:
    """Refuse NaN and inf, naming the first bad position."""
    if not np.isfinite(a).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {bad}); clean or impute the data first")


def check_float_array(a: Any, name: str, *, ndim: int, layout: str, dtype: np.dtype | None = None) -> np.ndarray:
    """A finite floating-point ndarray of rank ``ndim``; cast to ``dtype`` if given.

    ``layout`` describes the expected axes for the message, e.g. ``"(batch, time, features)"``.
    """
    if not isinstance(a, np.ndarray):
        if isinstance(a, list | tuple) and a and isinstance(a[0], np.ndarray | list | tuple):
            shapes = {np.shape(s) for s in a}
            if len(shapes) > 1:
                raise ValueError(
                    f"{name} is a ragged list of sequences (shapes {sorted(shapes)[:3]}...); pad them to one "
                    f"length and pass a mask, e.g. rnnlab.data.pad_sequences"
                )
        a = np.asarray(a)
    if a.dtype.kind not in "f":
        hint = " (token ids go through an Embedding layer first)" if a.dtype.kind in "iu" else ""
        raise TypeError(f"{name} must be a floating-point array, got dtype {a.dtype}{hint}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have rank {ndim} {layout}, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}); expected {layout} with every axis > 0")
    check_finite(a, name)
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    return a


def check_sequences(x: Any, *, features: int | None, dtype: np.dtype | None, name: str = "x") -> np.ndarray:
    """Batch-major input ``(N, T, D)``: finite floats, every axis > 0, ``D == features`` if known."""
    x = check_float_array(x, name, ndim=3, layout="(batch, time, features)", dtype=dtype)
    if features is not None and x.shape[2] != features:
        raise ValueError(
            f"{name} has {x.shape[2]} features per step but the layer was built for {features} "
            f"(shape {x.shape}, expected (batch, time, {features}))"
        )
    return x


def resolve_mask(mask: Any, lengths: Any, batch: int, time: int) -> np.ndarray | None:
    """Turn ``mask (N, T)`` or ``lengths (N,)`` into a boolean ``(N, T)`` mask (None = all real).

    A padded step is False. Every sequence needs at least one real step.
    """
    if mask is not None and lengths is not None:
        raise ValueError("pass either mask or lengths, not both")
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.dtype.kind not in "iu":
            raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
        if lengths.shape != (batch,):
            raise ValueError(f"lengths must have shape ({batch},) (one per sequence), got {lengths.shape}")
        if lengths.min() < 1:
            n = int(np.argmin(lengths))
            raise ValueError(f"sequence {n} has length {int(lengths[n])}; every sequence needs at least one step")
        if lengths.max() > time:
            n = int(np.argmax(lengths))
            raise ValueError(f"sequence {n} has length {int(lengths[n])} but the input has only {time} steps")
        mask = np.arange(time)[None, :] < lengths[:, None]
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "iu" or not np.isin(mask, (0, 1)).all():
            raise TypeError(f"mask must be boolean (True = real step), got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if mask.shape != (batch, time):
        raise ValueError(f"mask must have shape (batch, time) = ({batch}, {time}), got {mask.shape}")
    empty = ~mask.any(axis=1)
    if empty.any():
        n = int(np.argmax(empty))
        raise ValueError(f"sequence {n} has no real step (its mask row is all False); remove empty sequences")
    return mask
