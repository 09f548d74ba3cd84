r"""Elman RNN, compiled: the same contract and the same numbers as ``rnnlab.cells.rnn``, faster.

The equations (``f`` = ``activation``), documented with their backward pass in ``rnnlab.cells.rnn``::

    H_t = f(X_t W + H_{t-1} W_R + B)

    dA_t = dH_t * f'(A_t)      dH_{t-1} = dA_t W_R^T
    dW = sum_t X_t^T dA_t      dW_R = sum_t H_{t-1}^T dA_t      db = sum_t sum_n dA_t

Each time loop runs inside one Numba function: one BLAS product ``H_{t-1} W_R`` per step into a
preallocated buffer, then one fused pass ``H_t = f((X_t W + B) + H_{t-1} W_R)`` over the batch rows.
``X W`` is one product before the loop; ``dx``, ``dW``, ``dW_R`` are one product each per chunk of
steps of the backward loop (see ``lstm``), ``db`` is summed in the loop. ``step`` runs one step for
streaming inference, with the caller carrying the state.

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units. Time-major, ``(T, N, .)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from rnnlab import activations
from rnnlab.kernels import _common as common
from rnnlab.kernels import _split
from rnnlab.kernels._blas import (
    begin_steps,
    begin_stream_step,
    chunk_steps,
    end_steps,
    gemm,
    manages_threads,  # noqa: F401  (the cell contract: True when the kernels set their BLAS's threads)
    operand,
    times,
)
from rnnlab.kernels._math import JIT, TANH, act_bias_add_to, activation_code, add_to_, borrow, dact, wide_vectors
from rnnlab.kernels._stream import StepWeights, arguments, codes, prepare_step, project_step

GATES = 1
STATES = ("h",)


@njit(**JIT)
def _forward_loop(A, b, W_R, Hs, out, mask, has_mask, rdrop, has_rdrop, code):
    """``A (T, N, H)`` holds ``X_t W``; ``Hs (T+1, N, H)`` arrives with ``H_0`` in row 0."""
    wide_vectors()
    T, N, H = A.shape
    rec = np.empty((N, H), A.dtype)  # H_{t-1} W_R
    W_Rp = operand(W_R, False, N)  # packed once for the T products
    hd = np.empty((N, H), A.dtype)  # H_{t-1} * rdrop
    if has_rdrop:
        for n in range(N):
            for j in range(H):
                hd[n, j] = Hs[0, n, j] * rdrop[n, j]
    for t in range(T):
        H_prev, H_t, A_t = borrow(Hs, t), borrow(Hs, t + 1), borrow(A, t)
        times(hd if has_rdrop else H_prev, W_Rp, W_R, False, rec)
        for n in range(N):
            h = borrow(H_t, n)
            act_bias_add_to(code, borrow(A_t, n), b, borrow(rec, n), h)  # H_t = f(X_t W + B + H_{t-1} W_R)
            if has_mask:
                if mask[t, n]:
                    out[t, n] = h
                else:  # a padded step keeps the state and outputs 0
                    h[:] = borrow(H_prev, n)
                    out[t, n] = 0.0
            if has_rdrop:
                d, hdn = borrow(rdrop, n), borrow(hd, n)
                for j in range(H):
                    hdn[j] = h[j] * d[j]


@njit(**JIT)
def _forward(x, W, b, W_R, h0, options, code):
    mask, has_mask, rdrop, has_rdrop = options
    T, N, _ = x.shape
    H = W_R.shape[0]
    A = common.project(x, W)  # (T, N, H)
    Hs = np.empty((T + 1, N, H), x.dtype)  # H_0 .. H_T
    out = np.empty((T, N, H) if has_mask else (0, 0, 0), x.dtype)
    Hs[0] = h0
    previous = begin_steps(N, H, H)
    _forward_loop(A, b, W_R, Hs, out, mask, has_mask, rdrop, has_rdrop, code)
    end_steps(previous)
    return Hs, out


@njit(inline="always", **JIT)
def _grad_row(h, dhn, don, has_dout, da, code):
    """One row: ``dA_t = dH_t f'(A_t)``, ``f'`` from ``H_t``, ``dH_t = dhn + don`` (``don`` unread
    without dout)."""
    if has_dout:
        for j in range(da.shape[0]):
            da[j] = (dhn[j] + don[j]) * dact(code, h[j])
    else:
        for j in range(da.shape[0]):
            da[j] = dhn[j] * dact(code, h[j])


@njit(**JIT)
def _backward(x, W, W_R, Hs, dout, has_dout, row0, dh, options, code, truncate, K):
    """BPTT in chunks of steps (see ``lstm._backward``). ``dh (N, H)`` goes in as ``dH_T`` and comes
    out as ``dH_0``. Returns ``dx (T, N, D)``, ``dW``, ``dW_R`` and ``db``.

    At real steps ``Hs[t + 1]`` is ``f(A_t)``; padded rows get ``dA = 0`` without reading it.
    """
    wide_vectors()
    mask, has_mask, rdrop, has_rdrop = options
    T, N, D = x.shape
    H = W_R.shape[0]
    dA = np.empty((K, N, H), x.dtype)  # gradient of the pre-activations A_t, one chunk of steps
    dx = np.empty((T, N, D), x.dtype)
    dW = np.zeros((D, H), x.dtype)
    dW_R = np.zeros((H, H), x.dtype)
    db = np.zeros(H, x.dtype)  # sum of dA over steps and rows
    dh_prev = np.empty((N, H), x.dtype)  # dA_t W_R^T
    h_in = np.empty((K * N, H) if has_rdrop else (0, H), x.dtype)  # H_{t-1} * rdrop, one chunk
    x2, dx2, dA2 = x.reshape(T * N, D), dx.reshape(T * N, D), dA.reshape(K * N, H)
    Hs2 = Hs.reshape((T + 1) * N, H)
    previous = begin_steps(N, H, H)
    W_RT = operand(W_R, True, N)  # W_R^T ready for the T products (packed with the loop's threads)
    end_steps(previous)
    hi = T
    while hi > 0:  # chunks [lo, hi), last first
        lo = max(hi - K, 0)
        previous = begin_steps(N, H, H)
        for t in range(hi - 1, lo - 1, -1):
            dA_t, H_t = borrow(dA, t - lo), borrow(Hs, t + 1)
            dout_t = borrow(dout, t)[row0 : row0 + N] if has_dout else dh  # this batch's rows of dout
            for n in range(N):
                da = borrow(dA_t, n)
                if has_mask and not mask[t, n]:  # padded: the state gradient passes through untouched
                    da[:] = 0.0
                    continue
                if code == TANH:  # the default as a constant: the switch folds away
                    _grad_row(borrow(H_t, n), borrow(dh, n), borrow(dout_t, n), has_dout, da, TANH)
                else:
                    _grad_row(borrow(H_t, n), borrow(dh, n), borrow(dout_t, n), has_dout, da, code)
                add_to_(db, da)
            if truncate > 0 and t > 0 and t % truncate == 0:  # cells.cuts_here
                dh[:] = 0.0
                continue
            times(dA_t, W_RT, W_R, True, dh_prev)  # dA_t W_R^T
            common.pass_back(dh, dh_prev, t, mask, has_mask, rdrop, has_rdrop)
        end_steps(previous)
        r0, r1 = lo * N, hi * N
        dA_rows = dA2[: r1 - r0]
        common.input_grads(x2, W, dA_rows, dx2, dW, r0, r1)
        gemm(common.recurrent_rows(Hs2, rdrop, has_rdrop, N, r0, r1, h_in), dA_rows, dW_R, 1.0, True, False)
        hi = lo
    return dx, dW, dW_R, db


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray],
    params: dict[str, np.ndarray],
    *,
    mask: np.ndarray | None = None,
    rdrop: np.ndarray | None = None,
    activation: str = "tanh",
    recurrent_activation: str | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, Any]]:
    """Run the Elman RNN over ``x`` (see ``rnnlab.cells.rnn.forward``, same arguments and results).

    ``x (T, N, D)``, ``state = (H_0,)``, ``params`` ``W (D, H)``, ``W_R (H, H)``, optional ``b (H,)``;
    ``recurrent_activation`` is accepted and ignored. Returns ``(out (T, N, H), (H_T,), cache)``.
    """
    code = activation_code(activation)
    x = common.inputs(x)
    dtype = x.dtype
    T, N, D = x.shape
    W, W_R, (b,), (has_b,) = common.weights(params, dtype, GATES, D)
    H = W_R.shape[0]
    (h0,) = common.states(state, 1, N, H, dtype)
    options = common.step_options(mask, rdrop, T, N, H, dtype)  # (mask, has_mask, rdrop, has_rdrop)
    out, final, inner = _split.forward(_whole_forward, x, (h0,), options, H, W, b, W_R, code)
    cache = dict(x=x, params=params, W=W, W_R=W_R, has_b=has_b, inner=inner, options=options, code=code)
    cache.update(common.reference_keys(options, dtype), fn=activations.get(activation))
    return out, final, cache


def _whole_forward(x, states, options, W, b, W_R, code):
    """The forward pass of one batch (or one part of it): ``(out, (H_T,), what backward needs)``."""
    Hs, out = _forward(x, W, b, W_R, states[0], options, code)
    return out if options[1] else Hs[1:], (Hs[x.shape[0]],), dict(x=x, Hs=Hs, options=options)


def _whole_backward(inner, d_out, has_dout, row0, dstates, W, W_R, code, truncate):
    """BPTT of one batch (or part); ``dstates`` ``(dH_T,)`` becomes ``(dH_0,)`` in place.
    Returns ``(dx, dstates, (dW, dW_R, db))``."""
    x = inner["x"]
    T, N, _ = x.shape
    K = chunk_steps(T, N, W_R.shape[0] * x.itemsize)
    dx, dW, dW_R, db = _backward(x, W, W_R, inner["Hs"], d_out, has_dout, row0, dstates[0], inner["options"],
                                 code, truncate, K)
    return dx, dstates, (dW, dW_R, db)


def backward(
    dout: np.ndarray | None,
    dstate: tuple[np.ndarray | None],
    cache: dict[str, Any],
    *,
    truncate: int | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, np.ndarray]]:
    """BPTT (see ``rnnlab.cells.rnn.backward``): ``dout (T, N, H)`` or None, ``dstate = (dH_T,)``.

    Returns ``(dx (T, N, D), (dH_0,), grads)``, ``grads`` keyed like ``params``.
    """
    x, W, W_R, inner = (cache[k] for k in ("x", "W", "W_R", "inner"))
    T, N, _ = x.shape
    H = W_R.shape[0]
    d_out, has_dout = common.upstream(dout, (T, N, H), x.dtype)
    dstates = (common.state_grad(dstate[0], N, H, x.dtype),)
    args = (d_out, has_dout, dstates, W, W_R, cache["code"], common.truncation(truncate))
    dx, (dh,), (dW, dW_R, db) = _split.backward(_whole_backward, inner, H, *args)
    grads = {"W": dW, "W_R": dW_R}
    if cache["has_b"]:
        grads["b"] = db
    return dx, (dh,), grads


def prepare(params: dict[str, np.ndarray], dtype: np.dtype | type = np.float32) -> StepWeights:
    """Pack ``params`` once for ``step``: contiguous arrays of one dtype, a zero bias if there is none."""
    return prepare_step(params, dtype, GATES, pack=True)


def step(
    x_t: np.ndarray,
    state: tuple[np.ndarray],
    params: dict[str, np.ndarray] | StepWeights,
    *,
    activation: str = "tanh",
    recurrent_activation: str | None = None,
) -> tuple[np.ndarray]:
    """One RNN step for streaming inference: ``x_t (N, D)``, ``state = (H_{t-1},)`` ``(N, H)``.

    Returns the new state ``(H_t,)``; ``H_t`` is also the output. Pass ``prepare(params)`` instead
    of the raw ``params`` to skip repacking the weights at every call.
    """
    _, code = codes(activation, "sigmoid")
    p, x, (h,) = arguments(x_t, state, params, GATES)
    return (_step(x, h, p.W, p.W_R, p.WW, p.b, code),)


@njit(**JIT)
def _step(x, h_prev, W, W_R, WW, b, code):
    """``x (N, D)``, ``h_prev (N, H)`` -> ``H_t (N, H)``."""
    wide_vectors()
    a = np.empty(h_prev.shape, x.dtype)  # X_t W
    rec = np.empty(h_prev.shape, x.dtype)  # H_{t-1} W_R
    previous = begin_stream_step(x.shape[0], x.shape[1] + h_prev.shape[1], a.shape[1])
    project_step(x, h_prev, W, W_R, WW, a, rec)
    end_steps(previous)
    h = np.empty(h_prev.shape, x.dtype)
    for n in range(h.shape[0]):
        act_bias_add_to(code, a[n], b, rec[n], h[n])
    return h
