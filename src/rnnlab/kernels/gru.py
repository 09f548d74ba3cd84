r"""GRU in both variants, compiled: the same contract and numbers as ``rnnlab.cells.gru``, faster.

The equations (``f`` = ``recurrent_activation``, ``g`` = ``activation``; blocks ``[r | z | h~]``)::

    R_t  = f(X_t W^(IR) + H_{t-1} W^(RR) + B^(R))
    Z_t  = f(X_t W^(IZ) + H_{t-1} W^(RZ) + B^(Z))
    H~_t = g(X_t W^(IH) + (R_t * H_{t-1}) W^(RH) + B^(H))                 reset_after=False
    H~_t = g(X_t W^(IH) + B^(H) + R_t * (H_{t-1} W^(RH) + B_R^(H)))       reset_after=True
    H_t  = Z_t * H_{t-1} + (1 - Z_t) * H~_t

and their backward pass are documented in ``rnnlab.cells.gru``; this module computes exactly that,
in the reference's order of operations, one Numba function per time loop and variant:

* ``reset_after=False``: two BLAS products per step, ``H_{t-1} W_R^(RZ)`` for the gates and then
  ``(R_t * H_{t-1}) W^(RH)`` for the candidate, each followed by a fused pass over the batch rows.
  Backward: ``dA^(h) W^(RH)^T`` then ``[dA^(r) dA^(z)] W_R^(RZ)^T``, on column blocks of ``W_R``.
* ``reset_after=True``: one product ``H_{t-1} W_R + B_R`` per step; backward one ``dHR W_R^T``.

``X W`` is one product before the loop (``B`` is added in the step's pass); ``dx``, ``dW``,
``dW_R`` are one product each per chunk of steps of the backward loop (see ``lstm``), ``db`` and
``db_R`` are summed in the loop. ``step`` runs one step for streaming inference.

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
    one_thread,
    operand,
    step_dot,
    times,
)
from rnnlab.kernels._math import (
    JIT,
    SIGMOID,
    TANH,
    act_,
    act_bias_add_,
    activation_code,
    add_to_,
    borrow,
    dact,
    like,
    unaliased_arguments,
    unowned,
    wide_vectors,
)
from rnnlab.kernels._stream import StepWeights, arguments, codes, prepare_step, run_halves
from rnnlab.kernels._team import GRU_AFTER as GRU_AFTER_TASK
from rnnlab.kernels._team import GRU_BEFORE as GRU_BEFORE_TASK
from rnnlab.kernels._team import join, post

GATES = 3
STATES = ("h",)


@njit(**JIT)
def _rdrop_rows(h, rdrop, out):
    """``out = h * rdrop`` for ``(N, H)`` arrays."""
    wide_vectors()
    for n in range(h.shape[0]):
        hn, d, o = borrow(h, n), borrow(rdrop, n), borrow(out, n)
        for j in range(h.shape[1]):
            o[j] = hn[j] * d[j]


@njit(**JIT)
def _update(h_prev, z, h_tilde, h):
    """``H_t = (H_{t-1} - H~_t) * Z_t + H~_t``, the reference's order for ``Z H + (1 - Z) H~``."""
    wide_vectors()
    for j in range(h.shape[0]):
        h[j] = (h_prev[j] - h_tilde[j]) * z[j] + h_tilde[j]


@njit(**JIT)
def _forward_before(A, b, W_R_rz, W_R_h, Hs, RH, out, mask, has_mask, rdrop, has_rdrop, f_code, g_code):
    """``reset_after=False``. ``A (T, N, 3H)`` holds ``X_t W`` and leaves holding ``[R|Z|H~]_t``;
    ``RH (T, N, H)`` gets ``R_t * H_{t-1}`` (times ``rdrop``)."""
    wide_vectors()
    T, N, G3 = A.shape
    H = G3 // 3
    rec_rz = np.empty((N, 2 * H), A.dtype)  # H_{t-1} W_R^(RZ)
    rec_h = np.empty((N, H), A.dtype)  # (R_t * H_{t-1}) W_R^(RH)
    W_R_rzp, W_R_hp = operand(W_R_rz, False, N), operand(W_R_h, False, N)  # packed once for the T steps
    hd = np.empty((N, H), A.dtype)  # H_{t-1} * rdrop
    b = unowned(b)  # sliced once per row
    if has_rdrop:
        _rdrop_rows(borrow(Hs, 0), rdrop, hd)
    for t in range(T):
        A_t, H_prev, H_t, RH_t = borrow(A, t), borrow(Hs, t), borrow(Hs, t + 1), borrow(RH, t)
        h_in = hd if has_rdrop else H_prev
        times(h_in, W_R_rzp, W_R_rz, False, rec_rz)
        for n in range(N):
            a, hn, rh = borrow(A_t, n), borrow(h_in, n), borrow(RH_t, n)
            act_bias_add_(f_code, a[: 2 * H], b[: 2 * H], borrow(rec_rz, n))  # R_t, Z_t
            for j in range(H):
                rh[j] = a[j] * hn[j]
        times(RH_t, W_R_hp, W_R_h, False, rec_h)
        for n in range(N):
            a, h = borrow(A_t, n), borrow(H_t, n)
            act_bias_add_(g_code, a[2 * H :], b[2 * H :], borrow(rec_h, n))  # H~_t
            _update(borrow(H_prev, n), a[H : 2 * H], a[2 * H :], h)
            if has_mask:
                if mask[t, n]:
                    out[t, n] = h
                else:  # a padded step keeps the state and outputs 0
                    h[:] = borrow(H_prev, n)
                    out[t, n] = 0.0
        if has_rdrop:
            _rdrop_rows(H_t, rdrop, hd)


@njit(**JIT)
def _forward_after(A, b, W_R, b_R, Hs, HR, out, mask, has_mask, rdrop, has_rdrop, f_code, g_code):
    """``reset_after=True``. ``A (T, N, 3H)`` holds ``X_t W`` and leaves holding ``[R|Z|H~]_t``;
    ``HR (T, N, 3H)`` gets ``H_{t-1} W_R + B_R`` (``B_R`` is zeros when absent)."""
    wide_vectors()
    T, N, G3 = A.shape
    H = G3 // 3
    hd = np.empty((N, H), A.dtype)  # H_{t-1} * rdrop
    W_Rp = operand(W_R, False, N)  # packed once for the T products
    b, b_R = unowned(b), unowned(b_R)  # sliced once per row
    if has_rdrop:
        _rdrop_rows(borrow(Hs, 0), rdrop, hd)
    for t in range(T):
        A_t, H_prev, H_t, HR_t = borrow(A, t), borrow(Hs, t), borrow(Hs, t + 1), borrow(HR, t)
        times(hd if has_rdrop else H_prev, W_Rp, W_R, False, HR_t)
        for n in range(N):
            a, hr, h = borrow(A_t, n), borrow(HR_t, n), borrow(H_t, n)
            add_to_(hr, b_R)
            act_bias_add_(f_code, a[: 2 * H], b[: 2 * H], hr[: 2 * H])  # R_t, Z_t
            for j in range(H):
                a[2 * H + j] = (a[2 * H + j] + b[2 * H + j]) + a[j] * hr[2 * H + j]
            act_(g_code, a[2 * H :])  # H~_t
            _update(borrow(H_prev, n), a[H : 2 * H], a[2 * H :], h)
            if has_mask:
                if mask[t, n]:
                    out[t, n] = h
                else:
                    h[:] = borrow(H_prev, n)
                    out[t, n] = 0.0
        if has_rdrop:
            _rdrop_rows(H_t, rdrop, hd)


@njit(**JIT)
def _forward(x, W, b, W_R, b_R, h0, options, codes, reset_after):
    mask, has_mask, rdrop, has_rdrop = options
    f_code, g_code = codes
    T, N, _ = x.shape
    H = W_R.shape[0]
    A = common.project(x, W)  # (T, N, 3H)
    Hs = np.empty((T + 1, N, H), x.dtype)  # H_0 .. H_T
    out = np.empty((T, N, H) if has_mask else (0, 0, 0), x.dtype)
    Hs[0] = h0
    previous = begin_steps(N, H, 3 * H)
    if reset_after:
        HR = np.empty((T, N, 3 * H), x.dtype)  # H_{t-1} W_R + B_R
        RH = np.empty((0, 0, 0), x.dtype)
        _forward_after(A, b, W_R, b_R, Hs, HR, out, mask, has_mask, rdrop, has_rdrop, f_code, g_code)
    else:
        RH = np.empty((T, N, H), x.dtype)  # R_t * H_{t-1}
        HR = np.empty((0, 0, 0), x.dtype)
        W_R_rz = np.ascontiguousarray(W_R[:, : 2 * H])  # (H, 2H)
        W_R_h = np.ascontiguousarray(W_R[:, 2 * H :])  # (H, H)
        _forward_before(A, b, W_R_rz, W_R_h, Hs, RH, out, mask, has_mask, rdrop, has_rdrop, f_code, g_code)
    end_steps(previous)
    return A, Hs, HR, RH, out


@njit(inline="always", **JIT)
def _gate_grads(a, h_prev, dh_t, da, f_code, g_code):
    """One row, one fused pass: ``dA^(z)`` and ``dA^(h)`` into ``da``, and ``f'(R_t)`` into ``da[:H]``
    (``dA^(r)`` needs a product first)."""
    H = h_prev.shape[0]
    one = like(a, 1.0)
    for j in range(H):
        r, z, h_tilde = a[j], a[H + j], a[2 * H + j]
        da[j] = dact(f_code, r)
        da[H + j] = dh_t[j] * (h_prev[j] - h_tilde) * dact(f_code, z)  # dZ f'(Z)
        da[2 * H + j] = dh_t[j] * (one - z) * dact(g_code, h_tilde)  # dH~ g'(H~)


@njit(**JIT)
def _total(dh, dout, has_dout, t, row0, n, dh_t):
    """``dh_t = dH_t + dout_t`` for row ``n`` (row ``row0 + n`` of ``dout``)."""
    wide_vectors()
    if has_dout:
        a, b = borrow(dh, n), borrow(borrow(dout, t), row0 + n)
        for j in range(dh_t.shape[0]):
            dh_t[j] = a[j] + b[j]
    else:
        dh_t[:] = borrow(dh, n)


@njit(**JIT)
def _steps_before(lo, hi, A, Hs, W_R, ops, dA, dout, has_dout, row0, dh, dh_t, drh, dh_in, db, options, codes,
                  truncate):
    """``reset_after=False``: BPTT through steps ``hi-1 .. lo``, gate gradients into ``dA[t - lo]``.

    Two products per step on column blocks of ``W_R``: ``d(R*H) = dA^(h) W_R^(RH)^T``, then
    ``[dA^(r) dA^(z)] W_R^(RZ)^T``; ``ops`` holds the two blocks' transposes ready for them
    (``_blas.operand``).
    """
    wide_vectors()
    unaliased_arguments()  # every array written here is the kernel's own
    op_rz, op_h = ops
    mask, has_mask, rdrop, has_rdrop = options
    f_code, g_code = codes
    N = dh.shape[0]
    H = W_R.shape[0]
    defaults = f_code == SIGMOID and g_code == TANH
    for t in range(hi - 1, lo - 1, -1):
        dA_t, A_t, H_prev = borrow(dA, t - lo), borrow(A, t), borrow(Hs, t)
        for n in range(N):
            if has_mask and not mask[t, n]:  # padded: no gradient, the state gradient passes through
                dA_t[n] = 0.0
                continue
            dht = borrow(dh_t, n)
            _total(dh, dout, has_dout, t, row0, n, dht)
            if defaults:  # the activation codes as constants: the switch folds away
                _gate_grads(borrow(A_t, n), borrow(H_prev, n), dht, borrow(dA_t, n), SIGMOID, TANH)
            else:
                _gate_grads(borrow(A_t, n), borrow(H_prev, n), dht, borrow(dA_t, n), f_code, g_code)
        times(dA_t[:, 2 * H :], op_h, W_R[:, 2 * H :], True, drh)  # gradient of R_t * H_{t-1}
        for n in range(N):
            if has_mask and not mask[t, n]:
                continue
            da, hp, d_rh = borrow(dA_t, n), borrow(H_prev, n), borrow(drh, n)
            if has_rdrop:
                d = borrow(rdrop, n)
                for j in range(H):
                    da[j] = d_rh[j] * (hp[j] * d[j]) * da[j]  # dR f'(R), dR = d(R*H) * H_in
            else:
                for j in range(H):
                    da[j] = d_rh[j] * hp[j] * da[j]
            add_to_(db, da)
        if truncate > 0 and t > 0 and t % truncate == 0:  # cells.cuts_here
            dh[:] = 0.0
            continue
        times(dA_t[:, : 2 * H], op_rz, W_R[:, : 2 * H], True, dh_in)
        for n in range(N):
            if has_mask and not mask[t, n]:
                continue  # dh[n] passes through
            a, src, d_rh, dht, dst = borrow(A_t, n), borrow(dh_in, n), borrow(drh, n), borrow(dh_t, n), borrow(dh, n)
            r, z = a[:H], a[H : 2 * H]
            if has_rdrop:
                d = borrow(rdrop, n)
                for j in range(H):
                    dst[j] = (src[j] + d_rh[j] * r[j]) * d[j] + dht[j] * z[j]
            else:
                for j in range(H):
                    dst[j] = (src[j] + d_rh[j] * r[j]) + dht[j] * z[j]


@njit(**JIT)
def _steps_after(
    lo, hi, A, Hs, HR, W_R, ops, dA, dHR, dout, has_dout, row0, dh, dh_t, dh_in, db, db_R, options, codes, truncate
):
    """``reset_after=True``: BPTT through steps ``hi-1 .. lo``, gate gradients into ``dA[t - lo]`` and
    the gradient of ``H_{t-1} W_R + B_R`` into ``dHR[t - lo]``; one product ``dHR_t W_R^T`` per step
    (``ops[0]``: ``W_R^T`` ready for it, ``_blas.operand``)."""
    wide_vectors()
    unaliased_arguments()  # every array written here is the kernel's own
    mask, has_mask, rdrop, has_rdrop = options
    f_code, g_code = codes
    N = dh.shape[0]
    H = W_R.shape[0]
    defaults = f_code == SIGMOID and g_code == TANH
    for t in range(hi - 1, lo - 1, -1):
        dA_t, dHR_t = borrow(dA, t - lo), borrow(dHR, t - lo)
        A_t, HR_t, H_prev = borrow(A, t), borrow(HR, t), borrow(Hs, t)
        for n in range(N):
            da, dhr = borrow(dA_t, n), borrow(dHR_t, n)
            if has_mask and not mask[t, n]:
                da[:] = 0.0
                dhr[:] = 0.0
                continue
            a, hr, dht = borrow(A_t, n), borrow(HR_t, n), borrow(dh_t, n)
            _total(dh, dout, has_dout, t, row0, n, dht)
            if defaults:  # the activation codes as constants: the switch folds away
                _gate_grads(a, borrow(H_prev, n), dht, da, SIGMOID, TANH)
            else:
                _gate_grads(a, borrow(H_prev, n), dht, da, f_code, g_code)
            for j in range(H):
                da[j] = da[2 * H + j] * hr[2 * H + j] * da[j]  # dR f'(R), dR = dA^(h) (H W_R^(RH) + B_R^(H))
            for j in range(2 * H):
                dhr[j] = da[j]
            for j in range(H):
                dhr[2 * H + j] = da[2 * H + j] * a[j]
            add_to_(db, da)
            add_to_(db_R, dhr)
        if truncate > 0 and t > 0 and t % truncate == 0:  # cells.cuts_here
            dh[:] = 0.0
            continue
        times(dHR_t, ops[0], W_R, True, dh_in)  # dHR_t W_R^T
        for n in range(N):
            if has_mask and not mask[t, n]:
                continue
            z, src, dht, dst = borrow(A_t, n)[H : 2 * H], borrow(dh_in, n), borrow(dh_t, n), borrow(dh, n)
            if has_rdrop:
                d = borrow(rdrop, n)
                for j in range(H):
                    dst[j] = src[j] * d[j] + dht[j] * z[j]
            else:
                for j in range(H):
                    dst[j] = src[j] + dht[j] * z[j]


@njit(**JIT)
def _backward(x, W, W_R, A, Hs, HR, RH, dout, has_dout, row0, dh, options, codes, truncate, K, reset_after):
    """BPTT in chunks of steps (see ``lstm._backward``), either variant. ``dh (N, H)`` goes in as
    ``dH_T`` and comes out as ``dH_0``. Returns ``dx (T, N, D)``, ``dW``, ``dW_R``, ``db``, ``db_R``."""
    T, N, D = x.shape
    H = W_R.shape[0]
    G3 = 3 * H
    dA = np.empty((K, N, G3), x.dtype)  # gradient of the pre-activations fed by X_t W + B, one chunk
    dHR = np.empty((K, N, G3) if reset_after else (0, N, G3), x.dtype)  # of H_{t-1} W_R + B_R
    dx = np.empty((T, N, D), x.dtype)
    dW = np.zeros((D, G3), x.dtype)
    dW_R = np.zeros((H, G3), x.dtype)
    db = np.zeros(G3, x.dtype)
    db_R = np.zeros(G3, x.dtype)
    dh_t = np.empty((N, H), x.dtype)  # total gradient reaching H_t
    drh = np.empty((N, H), x.dtype)  # gradient of R_t * H_{t-1} (reset_after=False)
    dh_in = np.empty((N, H), x.dtype)  # the recurrent product's gradient w.r.t. H_{t-1}
    _, _, rdrop, has_rdrop = options
    h_in = np.empty((K * N, H) if has_rdrop else (0, H), x.dtype)  # H_{t-1} * rdrop, one chunk
    x2, dx2, dA2 = x.reshape(T * N, D), dx.reshape(T * N, D), dA.reshape(K * N, G3)
    dHR2 = dHR.reshape(dHR.shape[0] * N, G3)
    Hs2 = Hs.reshape((T + 1) * N, H)
    RH2 = RH.reshape(RH.shape[0] * N, H)
    previous = begin_steps(N, H, 3 * H)  # the transposes ready for the T steps, with the loop's threads
    if reset_after:
        ops = (operand(W_R, True, N), operand(W_R[:, :0], True, N))  # the second unused (empty)
    else:
        ops = (operand(W_R[:, : 2 * H], True, N), operand(W_R[:, 2 * H :], True, N))
    end_steps(previous)
    hi = T
    while hi > 0:  # chunks [lo, hi), last first
        lo = max(hi - K, 0)
        previous = begin_steps(N, H, 3 * H)
        if reset_after:
            args = (dout, has_dout, row0, dh, dh_t, dh_in, db, db_R, options, codes, truncate)
            _steps_after(lo, hi, A, Hs, HR, W_R, ops, dA, dHR, *args)
        else:
            args = (dout, has_dout, row0, dh, dh_t, drh, dh_in, db, options, codes, truncate)
            _steps_before(lo, hi, A, Hs, W_R, ops, dA, *args)
        end_steps(previous)
        r0, r1 = lo * N, hi * N
        dA_rows = dA2[: r1 - r0]
        common.input_grads(x2, W, dA_rows, dx2, dW, r0, r1)
        h_rows = common.recurrent_rows(Hs2, rdrop, has_rdrop, N, r0, r1, h_in)
        if reset_after:
            gemm(h_rows, dHR2[: r1 - r0], dW_R, 1.0, True, False)
        else:
            gemm(h_rows, dA_rows[:, : 2 * H], dW_R[:, : 2 * H], 1.0, True, False)
            gemm(RH2[r0:r1], dA_rows[:, 2 * H :], dW_R[:, 2 * H :], 1.0, True, False)
        hi = lo
    return dx, dW, dW_R, db, db_R


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray],
    params: dict[str, np.ndarray],
    *,
    mask: np.ndarray | None = None,
    rdrop: np.ndarray | None = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: bool = False,
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, Any]]:
    """Run the GRU over ``x`` (see ``rnnlab.cells.gru.forward``, same arguments and results).

    ``x (T, N, D)``, ``state = (H_0,)``, ``params`` ``W (D, 3H)``, ``W_R (H, 3H)``, optional ``b (3H,)``
    and, with ``reset_after``, optional ``b_R (3H,)``. Returns ``(out (T, N, H), (H_T,), cache)``.
    """
    f_code = activation_code(recurrent_activation, "recurrent_activation")
    g_code = activation_code(activation)
    reset_after = bool(reset_after)
    x = common.inputs(x)
    dtype = x.dtype
    T, N, D = x.shape
    W, W_R, (b, b_R), (has_b, has_b_R) = common.weights(params, dtype, GATES, D, ("b", "b_R"))
    has_b_R = has_b_R and reset_after
    H = W_R.shape[0]
    (h0,) = common.states(state, 1, N, H, dtype)
    options = common.step_options(mask, rdrop, T, N, H, dtype)  # (mask, has_mask, rdrop, has_rdrop)
    codes = (f_code, g_code)
    rest = (W, b, W_R, b_R, codes, reset_after)
    out, final, inner = _split.forward(_whole_forward, x, (h0,), options, 3 * H, *rest)
    cache = dict(x=x, params=params, W=W, W_R=W_R, has_b=has_b, has_b_R=has_b_R, inner=inner)
    cache.update(options=options, codes=codes, reset_after=reset_after)
    f, g = activations.get(recurrent_activation), activations.get(activation)
    cache.update(common.reference_keys(options, dtype), f=f, g=g)
    return out, final, cache


def _whole_forward(x, states, options, W, b, W_R, b_R, codes, reset_after):
    """The forward pass of one batch (or one part of it): ``(out, (H_T,), what backward needs)``."""
    A, Hs, HR, RH, out = _forward(x, W, b, W_R, b_R, states[0], options, codes, reset_after)
    inner = dict(x=x, A=A, Hs=Hs, HR=HR, RH=RH, options=options)
    return out if options[1] else Hs[1:], (Hs[x.shape[0]],), inner


def _whole_backward(inner, d_out, has_dout, row0, dstates, W, W_R, codes, truncate, reset_after):
    """BPTT of one batch (or part); ``dstates`` ``(dH_T,)`` becomes ``(dH_0,)`` in place.
    Returns ``(dx, dstates, (dW, dW_R, db, db_R))``."""
    x = inner["x"]
    T, N, _ = x.shape
    K = chunk_steps(T, N, (2 if reset_after else 1) * 3 * W_R.shape[0] * x.itemsize)
    A, Hs, HR, RH, options = (inner[k] for k in ("A", "Hs", "HR", "RH", "options"))
    args = (d_out, has_dout, row0, dstates[0], options, codes, truncate, K, reset_after)
    dx, dW, dW_R, db, db_R = _backward(x, W, W_R, A, Hs, HR, RH, *args)
    return dx, dstates, (dW, dW_R, db, db_R)


def backward(
    dout: np.ndarray | None,
    dstate: tuple[np.ndarray | None],
    cache: dict[str, Any],
    *,
    truncate: int | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, np.ndarray]]:
    """BPTT (see ``rnnlab.cells.gru.backward``): ``dout (T, N, H)`` or None, ``dstate = (dH_T,)``.

    Returns ``(dx (T, N, D), (dH_0,), grads)``, ``grads`` keyed like ``params``.
    """
    x, W, W_R, inner = (cache[k] for k in ("x", "W", "W_R", "inner"))
    T, N, _ = x.shape
    H = W_R.shape[0]
    d_out, has_dout = common.upstream(dout, (T, N, H), x.dtype)
    dstates = (common.state_grad(dstate[0], N, H, x.dtype),)
    args = (d_out, has_dout, dstates, W, W_R, cache["codes"], common.truncation(truncate), cache["reset_after"])
    dx, (dh,), (dW, dW_R, db, db_R) = _split.backward(_whole_backward, inner, 3 * H, *args)
    grads = {"W": dW, "W_R": dW_R}
    if cache["has_b_R"]:
        grads["b_R"] = db_R
    if cache["has_b"]:
        grads["b"] = db
    return dx, (dh,), grads


def prepare(params: dict[str, np.ndarray], dtype: np.dtype | type = np.float32) -> StepWeights:
    """Pack ``params`` once for ``step``: contiguous arrays of one dtype, zero biases where absent
    (big weights as two halves of units, see ``_team``)."""
    return prepare_step(params, dtype, GATES, pack=True)


def step(
    x_t: np.ndarray,
    state: tuple[np.ndarray],
    params: dict[str, np.ndarray] | StepWeights,
    *,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: bool = False,
) -> tuple[np.ndarray]:
    """One GRU step for streaming inference: ``x_t (N, D)``, ``state = (H_{t-1},)`` ``(N, H)``.

    Returns the new state ``(H_t,)``; ``H_t`` is also the output. Pass ``prepare(params)`` instead
    of the raw ``params`` to skip repacking the weights at every call. ``b_R`` is used only with
    ``reset_after``, as in ``forward``.
    """
    f_code, g_code = codes(activation, recurrent_activation)
    p, x, (h,) = arguments(x_t, state, params, GATES)
    if p.halves:  # big weights, packed by prepare as two halves (two cores: _team)
        kernel = _step_halves_after if reset_after else _step_halves_before
        return run_halves(kernel, p, x, h, f_code, g_code)[:1]
    if reset_after:
        return (_step_after(x, h, p.W, p.W_R, p.b, p.b_R, f_code, g_code),)
    return (_step_before(x, h, p.W, p.W_R_rz, p.W_R_h, p.b, f_code, g_code),)


@njit(**JIT)
def _step_after(x, h_prev, W, W_R, b, b_R, f_code, g_code):
    """``reset_after=True``: ``x (N, D)``, ``h_prev (N, H)`` -> ``H_t (N, H)``: every unit at once."""
    wide_vectors()
    N = x.shape[0]
    a = np.empty((N, W.shape[1]), x.dtype)  # X_t W, then [R|Z|H~]
    hr = np.empty((N, W.shape[1]), x.dtype)  # H_{t-1} W_R + B_R
    h = np.empty(h_prev.shape, x.dtype)
    previous = begin_stream_step(N, x.shape[1] + h_prev.shape[1], W.shape[1])
    units_after(x, h_prev, W, W_R, b, b_R, 0, a, hr, h, f_code, g_code)
    end_steps(previous)
    return h


@njit(**JIT)
def _step_before(x, h_prev, W, W_R_rz, W_R_h, b, f_code, g_code):
    """``reset_after=False``: ``x (N, D)``, ``h_prev (N, H)`` -> ``H_t (N, H)``."""
    wide_vectors()
    N = x.shape[0]
    H = W_R_h.shape[0]
    a = np.empty((N, 3 * H), x.dtype)  # X_t W, then [R|Z|H~]
    previous = begin_stream_step(N, x.shape[1] + H, 3 * H)
    step_dot(x, W, a)
    rz = np.empty((N, 2 * H), x.dtype)  # H_{t-1} W_R^(RZ)
    step_dot(h_prev, W_R_rz, rz)
    rh = np.empty((N, H), x.dtype)  # R_t * H_{t-1}
    for n in range(N):
        an = a[n]
        act_bias_add_(f_code, an[: 2 * H], b[: 2 * H], rz[n])
        for j in range(H):
            rh[n, j] = an[j] * h_prev[n, j]
    ht = np.empty((N, H), x.dtype)  # (R_t * H_{t-1}) W_R^(RH)
    step_dot(rh, W_R_h, ht)
    h = np.empty((N, H), x.dtype)
    for n in range(N):
        an = a[n]
        act_bias_add_(g_code, an[2 * H :], b[2 * H :], ht[n])
        _update(h_prev[n], an[H : 2 * H], an[2 * H :], h[n])
    end_steps(previous)
    return h


@njit(**JIT)
def units_after(x, h_prev, Wp, W_Rp, bp, b_Rp, j0, a, hr, h, f_code, g_code):
    """``reset_after=True``, units ``j0 : j0 + Hp`` of one step from their own columns ``Wp (D, 3Hp)``,
    ``W_Rp (H, 3Hp)``, ``bp``, ``b_Rp (3Hp,)``; work arrays ``a``, ``hr (N, 3Hp)``; writes those
    units of ``h (N, H)``. The arithmetic of ``_step_after``."""
    wide_vectors()
    step_dot(x, Wp, a)
    step_dot(h_prev, W_Rp, hr)
    Hp = a.shape[1] // 3
    for n in range(a.shape[0]):
        an, hrn = a[n], hr[n]
        add_to_(hrn, b_Rp)
        act_bias_add_(f_code, an[: 2 * Hp], bp[: 2 * Hp], hrn[: 2 * Hp])
        for j in range(Hp):
            an[2 * Hp + j] = (an[2 * Hp + j] + bp[2 * Hp + j]) + an[j] * hrn[2 * Hp + j]
        act_(g_code, an[2 * Hp :])
        _update(h_prev[n, j0 : j0 + Hp], an[Hp : 2 * Hp], an[2 * Hp :], h[n, j0 : j0 + Hp])


@njit(**JIT)
def units_before(phase, x, h_prev, Wp, W_Rp, bp, j0, a, rec, rh, h, f_code, g_code):
    """``reset_after=False``, units ``j0 : j0 + Hp``, in two phases, since ``H~_t`` needs every unit
    of ``R_t * H_{t-1}``. Phase 0: ``R_t``, ``Z_t`` of the units into ``a (N, 3Hp)`` and their
    ``R_t * H_{t-1}`` into ``rh (N, H)``; phase 1 (once both halves wrote ``rh``): ``H~_t`` and
    ``H_t`` of the units. ``rec (N, 2Hp)`` is work space. The arithmetic of ``_step_before``."""
    wide_vectors()
    Hp = a.shape[1] // 3
    if phase == 0:
        step_dot(x, Wp, a)
        step_dot(h_prev, W_Rp[:, : 2 * Hp], rec)
        for n in range(a.shape[0]):
            an = a[n]
            act_bias_add_(f_code, an[: 2 * Hp], bp[: 2 * Hp], rec[n])
            rhn, hp = rh[n, j0 : j0 + Hp], h_prev[n, j0 : j0 + Hp]
            for j in range(Hp):
                rhn[j] = an[j] * hp[j]
    else:
        ht = rec[:, :Hp]  # (R_t * H_{t-1}) W_R^(RH) of the units
        step_dot(rh, W_Rp[:, 2 * Hp :], ht)
        for n in range(a.shape[0]):
            an = a[n]
            act_bias_add_(g_code, an[2 * Hp :], bp[2 * Hp :], ht[n])
            _update(h_prev[n, j0 : j0 + Hp], an[Hp : 2 * Hp], an[2 * Hp :], h[n, j0 : j0 + Hp])


@njit(**JIT)
def _step_halves_after(x, h_prev, f_code, g_code, W0, W_R0, b0, b_R0, W1, W_R1, b1, b_R1, ctrl, task, use_team,
                       claim_pauses):
    """``_step_after`` with the weights in two halves by units, the second on the team's worker
    when ``use_team`` (see ``lstm._step_halves``). Returns ``(H_t, status)``."""
    N = x.shape[0]
    H = h_prev.shape[1]
    H0 = W0.shape[1] // 3
    h = np.empty((N, H), x.dtype)
    a0, hr0 = np.empty((N, W0.shape[1]), x.dtype), np.empty((N, W0.shape[1]), x.dtype)
    a1, hr1 = np.empty((N, W1.shape[1]), x.dtype), np.empty((N, W1.shape[1]), x.dtype)
    previous = one_thread()
    status = 1
    if use_team:
        arrays = (x.ctypes.data, h_prev.ctypes.data, W1.ctypes.data, W_R1.ctypes.data, b1.ctypes.data,
                  b_R1.ctypes.data, a1.ctypes.data, hr1.ctypes.data, h.ctypes.data)  # fmt: skip
        seq = post(ctrl, task, GRU_AFTER_TASK, 0, x, H, H0, f_code, g_code, arrays)
        units_after(x, h_prev, W0, W_R0, b0, b_R0, 0, a0, hr0, h, f_code, g_code)
        status = join(ctrl, seq, claim_pauses)
    else:
        units_after(x, h_prev, W0, W_R0, b0, b_R0, 0, a0, hr0, h, f_code, g_code)
    if status == 1:
        units_after(x, h_prev, W1, W_R1, b1, b_R1, H0, a1, hr1, h, f_code, g_code)
    end_steps(previous)
    return h, status


@njit(**JIT)
def _step_halves_before(x, h_prev, f_code, g_code, W0, W_R0, b0, b_R0, W1, W_R1, b1, b_R1, ctrl, task, use_team,
                        claim_pauses):
    """``_step_before`` with the weights in two halves by units: each phase of ``units_before`` on
    both halves, the second half on the team's worker when ``use_team``. Returns ``(H_t, status)``,
    the status of the last phase (``_team.join``)."""
    N = x.shape[0]
    H = h_prev.shape[1]
    H0 = W0.shape[1] // 3
    h = np.empty((N, H), x.dtype)
    rh = np.empty((N, H), x.dtype)  # R_t * H_{t-1}, both halves' units
    a0, rec0 = np.empty((N, W0.shape[1]), x.dtype), np.empty((N, 2 * H0), x.dtype)
    a1, rec1 = np.empty((N, W1.shape[1]), x.dtype), np.empty((N, 2 * (H - H0)), x.dtype)
    arrays = (x.ctypes.data, h_prev.ctypes.data, W1.ctypes.data, W_R1.ctypes.data, b1.ctypes.data,
              a1.ctypes.data, rec1.ctypes.data, rh.ctypes.data, h.ctypes.data)  # fmt: skip
    previous = one_thread()
    status = 1
    for phase in range(2):
        status = 1
        if use_team:
            seq = post(ctrl, task, GRU_BEFORE_TASK, phase, x, H, H0, f_code, g_code, arrays)
            units_before(phase, x, h_prev, W0, W_R0, b0, 0, a0, rec0, rh, h, f_code, g_code)
            status = join(ctrl, seq, claim_pauses)
            if status == 2:
                break
        else:
            units_before(phase, x, h_prev, W0, W_R0, b0, 0, a0, rec0, rh, h, f_code, g_code)
        if status == 1:
            units_before(phase, x, h_prev, W1, W_R1, b1, H0, a1, rec1, rh, h, f_code, g_code)
    end_steps(previous)
    return h, status
