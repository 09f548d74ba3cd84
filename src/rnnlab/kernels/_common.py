"""What the three compiled cells share: argument preparation in Python, and the big products.

The kernels take no ``None``: every optional array arrives as an array and a flag, so each kernel
has exactly one compiled signature per dtype (float32, float64) and compiles once.

All matrix products of the fast path run inside compiled code, through ``_blas.gemm`` (MKL, or
SciPy's OpenBLAS). The input projection and the weight gradients run there too, not through NumPy's
``@``: NumPy ships its own OpenBLAS with its own thread pool, and that pool keeps its threads
spinning for a while after each call, which halves the speed of the other pool's per-step products
on a two-core machine (measured with SciPy's OpenBLAS: 60 ms -> 118 ms for 50 products).

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units, ``G`` gate blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from rnnlab.cells._common import prepare_mask
from rnnlab.kernels._blas import dot, gemm
from rnnlab.kernels._math import JIT, borrow

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(x: np.ndarray) -> np.dtype:
    """The dtype the kernels run in: ``x``'s, which must be float32 or float64."""
    dtype = np.asarray(x).dtype
    if dtype not in FLOATS:
        raise TypeError(f"x must be float32 or float64, got {dtype}; convert it with x.astype(np.float32)")
    return dtype


def as_c(a: Any, dtype: np.dtype) -> np.ndarray:
    """``a`` as a writeable C-contiguous array of ``dtype`` with C strides (no copy when it is one).

    Writeable because Numba types read-only arrays differently and would compile a second copy of
    every kernel for them. C strides because NumPy calls an array C-contiguous whatever the stride of
    an axis of length 1 (a ``(1, 4H)`` slice of a transposed matrix can have strides ``(8, 8)``), and
    BLAS would take that stride for a leading dimension.
    """
    out = np.ascontiguousarray(a, dtype=dtype)
    if not out.flags.writeable or out.strides != _c_strides(out.shape, out.itemsize):
        out = out.copy()
    return out


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def inputs(x: Any) -> np.ndarray:
    """``x`` as a C-contiguous ``(T, N, D)`` float32 or float64 array (its own dtype)."""
    dtype = float_dtype(x)
    x = as_c(x, dtype)
    if x.ndim != 3:
        raise ValueError(f"x must be time-major (T, N, D), got an array of shape {x.shape}")
    return x


def weights(
    params: dict[str, np.ndarray], dtype: np.dtype, gates: int, D: int, names: tuple[str, ...] = ("b",)
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[bool]]:
    """``W``, ``W_R`` and the optional bias vectors ``names`` as (array, present) pairs, in ``dtype``.

    A missing bias (``use_bias=False``) becomes zeros (the loops add the bias unconditionally;
    adding 0.0 changes nothing) and the flag False (no gradient is returned for it).
    """
    W, W_R = as_c(params["W"], dtype), as_c(params["W_R"], dtype)
    H = W_R.shape[0] if W_R.ndim == 2 else -1
    if W.shape != (D, gates * H) or W_R.shape != (H, gates * H):
        raise ValueError(
            f"expected W (D, {gates}H) and W_R (H, {gates}H) with D = {D}, got W {W.shape} and W_R {W_R.shape}"
        )
    biases, present = [], []
    for name in names:
        b = params.get(name)
        b = np.zeros(gates * H, dtype) if b is None else as_c(b, dtype)
        if b.shape != (gates * H,):
            raise ValueError(f"{name} must have shape ({gates}H,) = ({gates * H},), got {b.shape}")
        biases.append(b)
        present.append(name in params and params[name] is not None)
    return W, W_R, biases, present


def states(state: tuple[Any, ...], count: int, N: int, H: int, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """The initial state, ``count`` arrays of shape ``(N, H)`` in ``dtype``."""
    if len(state) != count:
        raise ValueError(f"state must hold {count} array(s) of shape (N, H), got {len(state)}")
    out = tuple(as_c(s, dtype) for s in state)
    for s in out:
        if s.shape != (N, H):
            raise ValueError(f"each initial state must have shape (N, H) = {(N, H)}, got {s.shape}")
    return out


def step_options(
    mask: np.ndarray | None, rdrop: np.ndarray | None, T: int, N: int, H: int, dtype: np.dtype
) -> tuple[np.ndarray, bool, np.ndarray, bool]:
    """The ``(T, N)`` bool mask and the ``(N, H)`` recurrent-dropout mask as (array, flag) pairs.

    A mask with no padded step is dropped, as in the reference (``cells._common.prepare_mask``).
    """
    if mask is not None:
        mask = np.ascontiguousarray(mask, dtype=np.bool_)
        if mask.shape != (T, N):
            raise ValueError(f"mask must have shape (T, N) = {(T, N)}, got {mask.shape}")
        if mask.all():
            mask = None
    if rdrop is not None:
        rdrop = as_c(rdrop, dtype)
        if rdrop.shape != (N, H):
            raise ValueError(f"rdrop must have shape (N, H) = {(N, H)}, got {rdrop.shape}")
    return (
        np.empty((0, 0), np.bool_) if mask is None else mask,
        mask is not None,
        np.empty((0, 0), dtype) if rdrop is None else rdrop,
        rdrop is not None,
    )


def reference_keys(options: tuple[np.ndarray, bool, np.ndarray, bool], dtype: np.dtype) -> dict[str, Any]:
    """The option entries of a reference cell's cache (``m``, ``partial``, ``rdrop``), for code that
    reads a cache directly (diagnostics, tests); the kernels themselves use ``options``."""
    mask, has_mask, rdrop, has_rdrop = options
    m, partial = prepare_mask(mask if has_mask else None, dtype)
    return {"m": m, "partial": partial, "rdrop": rdrop if has_rdrop else None}


def upstream(dout: np.ndarray | None, shape: tuple[int, int, int], dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """``dout`` as an array and a flag (an empty array when there is no output gradient)."""
    if dout is None:
        return np.empty((0, 0, 0), dtype), False
    dout = as_c(dout, dtype)
    if dout.shape != shape:
        raise ValueError(f"dout must have the shape of the output {shape}, got {dout.shape}")
    return dout, True


def state_grad(d: np.ndarray | None, N: int, H: int, dtype: np.dtype) -> np.ndarray:
    """A fresh ``(N, H)`` copy of a state gradient, zeros for None (the kernels update it in place)."""
    if d is None:
        return np.zeros((N, H), dtype)
    d = np.array(d, dtype=dtype, order="C")
    if d.shape != (N, H):
        raise ValueError(f"each dstate entry must be None or of shape (N, H) = {(N, H)}, got {d.shape}")
    return d


def truncation(truncate: int | None) -> int:
    """``truncate`` as the kernels' integer, 0 meaning full BPTT."""
    if truncate is None:
        return 0
    if isinstance(truncate, bool) or not isinstance(truncate, int | np.integer) or truncate < 1:
        raise ValueError(f"truncate must be None or a positive number of steps, got {truncate!r}")
    return int(truncate)


# ---------------------------------------------------------------------------------------------
# compiled pieces used by every cell
# ---------------------------------------------------------------------------------------------


@njit(**JIT)
def project(x, W):
    """``X_t W`` for all steps as one product, ``(T, N, D) -> (T, N, G*H)``.

    The bias is added by the time loop, in the pass that adds ``H_{t-1} W_R`` (one pass over
    ``A`` fewer; the same sum, ``(X W + B) + H W_R``, in the reference's order).
    """
    T, N, D = x.shape
    GH = W.shape[1]
    A = np.empty((T, N, GH), x.dtype)
    dot(x.reshape(T * N, D), W, A.reshape(T * N, GH))
    return A


@njit(inline="always", **JIT)
def recurrent_rows(Hs2, rdrop, has_rdrop, N, r0, r1, buf):
    """Rows ``r0:r1`` of what multiplied ``W_R`` (``H_{t-1}``, times ``rdrop``), as ``(r1 - r0, H)``.

    ``Hs2`` is ``Hs (T+1, N, H)`` flattened to rows, so row ``t N + n`` is ``H_t`` of sequence ``n``:
    the input of step ``t``. Without ``rdrop`` this is a view; with it, the product goes to ``buf``.
    """
    if not has_rdrop:
        return Hs2[r0:r1]
    for r in range(r0, r1):
        h, d, o = Hs2[r], rdrop[r % N], buf[r - r0]
        for j in range(h.shape[0]):
            o[j] = h[j] * d[j]
    return buf[: r1 - r0]


@njit(inline="always", **JIT)
def input_grads(x2, W, dA_rows, dx2, dW, r0, r1):
    """One chunk of rows ``r0:r1``: ``dx = dA W^T`` and ``dW += X^T dA`` (``dA_rows`` holds its rows)."""
    gemm(dA_rows, W, dx2[r0:r1], 0.0, False, True)
    gemm(x2[r0:r1], dA_rows, dW, 1.0, True, False)


@njit(inline="always", **JIT)
def pass_back(dh, dh_prev, t, mask, has_mask, rdrop, has_rdrop):
    """``dH_{t-1} = (dA_t W_R^T) * rdrop`` row by row, except at padded rows, where ``dh`` is kept."""
    for n in range(dh.shape[0]):
        if has_mask and not mask[t, n]:
            continue  # dh[n] passes through the padded step
        src, dst = borrow(dh_prev, n), borrow(dh, n)
        if has_rdrop:
            d = borrow(rdrop, n)
            for j in range(dst.shape[0]):
                dst[j] = src[j] * d[j]
        else:
            dst[:] = src
