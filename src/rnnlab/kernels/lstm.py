r"""LSTM, compiled: the same contract and the same numbers as ``rnnlab.cells.lstm``, faster.

The equations (``f`` = ``recurrent_activation``, ``g`` = ``activation``; blocks ``[i | f | c~ | o]``)::

    I_t  = f(X_t W^(II) + H_{t-1} W^(RI) + B^(I))
    F_t  = f(X_t W^(IF) + H_{t-1} W^(RF) + B^(F))
    C~_t = g(X_t W^(IC) + H_{t-1} W^(RC) + B^(C))
    O_t  = f(X_t W^(IO) + H_{t-1} W^(RO) + B^(O))
    C_t  = F_t * C_{t-1} + I_t * C~_t
    H_t  = O_t * g(C_t)

and their backward pass are documented in ``rnnlab.cells.lstm``; this module computes exactly that,
in the reference's order of operations, with each time loop inside one Numba function:

* ``X W`` for all steps is one product before the forward loop. Each step is then one BLAS product
  ``H_{t-1} W_R`` into a preallocated buffer (``W_R`` packed once per call, ``_blas.operand``) and
  one pass over the rows of the batch that adds ``B`` and that product, applies the gates and writes
  ``C_t``, ``g(C_t)`` and ``H_t``.
* Backward: one fused pass writes the four gate gradients of a step (and adds them to ``db``), then
  one product ``dA_t W_R^T`` gives ``dH_{t-1}``. ``dx``, ``dW`` and ``dW_R`` are one product each
  per chunk of steps (a few MB of ``dA``; one chunk for small problems), so the gradient buffer is
  reused while still in cache. Nothing is allocated inside the loops.

``step`` runs one step for streaming inference, with the caller carrying the state.

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
    act_bias_,
    act_bias_add_,
    act_to,
    activation_code,
    add_to_,
    borrow,
    dact,
    like,
    unaliased_arguments,
    unowned,
    wide_vectors,
)
from rnnlab.kernels._stream import StepWeights, arguments, codes, prepare_step, project_step, run_halves
from rnnlab.kernels._team import LSTM as LSTM_TASK
from rnnlab.kernels._team import join, post

GATES = 4
STATES = ("h", "c")


@njit(**JIT)
def _forward_loop(A, b, W_R, Hs, Cs, gC, out, mask, has_mask, rdrop, has_rdrop, f_code, g_code):
    """The time loop. ``A (T, N, 4H)`` holds ``X_t W`` and leaves holding ``[I|F|C~|O]_t``.

    ``Hs``, ``Cs`` ``(T+1, N, H)`` arrive with ``H_0``, ``C_0`` in row 0; ``gC (T, N, H)`` gets
    ``g(C_t)``; ``out (T, N, H)`` gets the masked output (only written when ``has_mask``).
    """
    wide_vectors()
    T, N, G4 = A.shape
    H = G4 // 4
    rec = np.empty((N, G4), A.dtype)  # H_{t-1} W_R
    W_Rp = operand(W_R, False, N)  # packed once for the T products
    hd = np.empty((N, H), A.dtype)  # H_{t-1} * rdrop
    if has_rdrop:
        for n in range(N):
            for j in range(H):
                hd[n, j] = Hs[0, n, j] * rdrop[n, j]
    no_out = np.empty((0, H), A.dtype)  # ``out_t`` without a mask (never read or written)
    for t in range(T):
        H_prev = borrow(Hs, t)
        times(hd if has_rdrop else H_prev, W_Rp, W_R, False, rec)
        out_t = borrow(out, t) if has_mask else no_out
        _step_gates(borrow(A, t), b, rec, borrow(Cs, t), borrow(Cs, t + 1), H_prev, borrow(Hs, t + 1), borrow(gC, t),
                    out_t, mask, has_mask, t, rdrop, has_rdrop, hd, f_code, g_code)


@njit(**JIT)
def _step_gates(A_t, b, rec, C_prev, C_t, H_prev, H_t, gC_t, out_t, mask, has_mask, t, rdrop, has_rdrop, hd,
                f_code, g_code):
    """Step ``t`` after its product ``rec = H_{t-1} W_R``, every row: the gates into ``A_t``, then
    ``C_t``, ``g(C_t)``, ``H_t`` (and ``out_t``, ``hd = H_t * rdrop`` when asked).

    Its own function, as ``_step_grads``, so that its arrays can be declared unaliased (every array it
    writes is the kernel's own, and ``C_prev``/``C_t``, ``H_prev``/``H_t`` are different rows).
    """
    wide_vectors()
    unaliased_arguments()
    N, G4 = A_t.shape
    H = G4 // 4
    b = unowned(b)  # sliced below, once per row
    for n in range(N):
        a, r = borrow(A_t, n), borrow(rec, n)
        act_bias_add_(f_code, a[: 2 * H], b[: 2 * H], r[: 2 * H])  # I_t, F_t
        act_bias_add_(g_code, a[2 * H : 3 * H], b[2 * H : 3 * H], r[2 * H : 3 * H])  # C~_t
        act_bias_add_(f_code, a[3 * H :], b[3 * H :], r[3 * H :])  # O_t
        i, fg, c_tilde, o = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
        c_prev, c, h, gc = borrow(C_prev, n), borrow(C_t, n), borrow(H_t, n), borrow(gC_t, n)
        for j in range(H):
            c[j] = fg[j] * c_prev[j] + i[j] * c_tilde[j]
        act_to(g_code, c, gc)
        for j in range(H):
            h[j] = o[j] * gc[j]
        if has_mask:
            if mask[t, n]:
                out_t[n] = h
            else:  # a padded step keeps the state and outputs 0
                h[:] = borrow(H_prev, n)
                c[:] = c_prev
                out_t[n] = 0.0
        if has_rdrop:
            d, hdn = borrow(rdrop, n), borrow(hd, n)
            for j in range(H):
                hdn[j] = h[j] * d[j]


@njit(**JIT)
def _forward(x, W, b, W_R, h0, c0, options, codes):
    mask, has_mask, rdrop, has_rdrop = options
    f_code, g_code = codes
    T, N, _ = x.shape
    H = W_R.shape[0]
    A = common.project(x, W)  # (T, N, 4H)
    Hs = np.empty((T + 1, N, H), x.dtype)  # H_0 .. H_T
    Cs = np.empty((T + 1, N, H), x.dtype)  # C_0 .. C_T
    gC = np.empty((T, N, H), x.dtype)  # g(C_t), before masking
    out = np.empty((T, N, H) if has_mask else (0, 0, 0), x.dtype)
    Hs[0] = h0
    Cs[0] = c0
    previous = begin_steps(N, H, 4 * H)
    _forward_loop(A, b, W_R, Hs, Cs, gC, out, mask, has_mask, rdrop, has_rdrop, f_code, g_code)
    end_steps(previous)
    return A, Hs, Cs, gC, out


@njit(inline="always", **JIT)
def _cell_grads(a, gc, c_prev, dhn, don, has_dout, dcn, da, f_code, g_code):
    """One row, one fused pass: the four gate gradients into ``da (4H,)``; ``dcn`` goes in as
    ``dC_t`` and comes out as ``dC_{t-1}``. ``dH_t = dhn + don`` (``don`` unread without dout)."""
    H = dcn.shape[0]
    zero = like(a, 0.0)
    for j in range(H):
        i, fg, c_tilde, o, g = a[j], a[H + j], a[2 * H + j], a[3 * H + j], gc[j]
        dh_t = dhn[j] + don[j] if has_dout else dhn[j] + zero
        dct = dcn[j] + dh_t * o * dact(g_code, g)
        da[j] = dct * c_tilde * dact(f_code, i)
        da[H + j] = dct * c_prev[j] * dact(f_code, fg)
        da[2 * H + j] = dct * i * dact(g_code, c_tilde)
        da[3 * H + j] = dh_t * g * dact(f_code, o)
        dcn[j] = dct * fg


@njit(**JIT)
def _step_grads(A_t, gC_t, C_prev, dh, dout_t, has_dout, dc, dA_t, db, mask, has_mask, t, f_code, g_code):
    """The gate gradients of step ``t``, every row: ``dA_t (N, 4H)`` written and added to ``db``;
    ``dc`` goes in as ``dC_t`` and comes out as ``dC_{t-1}``. A padded row gets zeros.

    Its own function so that its arrays can be declared unaliased (``dA_t``, ``dc`` and ``db`` are
    the kernel's own buffers); inside ``_backward`` LLVM ran the scalar copy of this loop.
    """
    wide_vectors()
    unaliased_arguments()
    N = dA_t.shape[0]
    for n in range(N):
        da = borrow(dA_t, n)
        if has_mask and not mask[t, n]:  # padded: the state gradient passes through untouched
            da[:] = 0.0
            continue
        _cell_grads(borrow(A_t, n), borrow(gC_t, n), borrow(C_prev, n), borrow(dh, n), borrow(dout_t, n), has_dout,
                    borrow(dc, n), da, f_code, g_code)
        add_to_(db, da)


@njit(**JIT)
def _backward(x, W, W_R, A, Hs, Cs, gC, dout, has_dout, row0, dh, dc, options, codes, truncate, K):
    """BPTT, in chunks of steps. ``dh``, ``dc`` ``(N, H)`` go in as ``dH_T``, ``dC_T`` and come out as
    ``dH_0``, ``dC_0``. Returns ``dx (T, N, D)``, ``dW``, ``dW_R`` and ``db``.

    The gate gradients ``dA`` of a chunk of ``K`` steps (``_blas.chunk_steps``: a few MB) go
    to ``dx``, ``dW`` and ``dW_R`` with one product each as soon as the chunk is done, so the buffer
    is reused and still in cache, instead of a ``(T, N, 4H)`` array read back from memory at the end.
    """
    wide_vectors()
    mask, has_mask, rdrop, has_rdrop = options
    f_code, g_code = codes
    T, N, D = x.shape
    G4 = A.shape[2]
    H = G4 // 4
    dA = np.empty((K, N, G4), A.dtype)  # gradient of the gate pre-activations, one chunk of steps
    dx = np.empty((T, N, D), A.dtype)
    dW = np.zeros((D, G4), A.dtype)
    dW_R = np.zeros((H, G4), A.dtype)
    db = np.zeros(G4, A.dtype)  # sum of dA over steps and rows
    dh_prev = np.empty((N, H), A.dtype)  # dA_t W_R^T
    h_in = np.empty((K * N, H) if has_rdrop else (0, H), A.dtype)  # H_{t-1} * rdrop, one chunk
    x2, dx2, dA2 = x.reshape(T * N, D), dx.reshape(T * N, D), dA.reshape(K * N, G4)
    Hs2 = Hs.reshape((T + 1) * N, H)
    defaults = f_code == SIGMOID and g_code == TANH
    previous = begin_steps(N, H, 4 * H)
    W_RT = operand(W_R, True, N)  # W_R^T ready for the T products (packed with the loop's threads)
    end_steps(previous)
    hi = T
    while hi > 0:  # chunks [lo, hi), last first
        lo = max(hi - K, 0)
        previous = begin_steps(N, H, 4 * H)
        for t in range(hi - 1, lo - 1, -1):
            dA_t, A_t, gC_t, C_prev = borrow(dA, t - lo), borrow(A, t), borrow(gC, t), borrow(Cs, t)
            dout_t = borrow(dout, t)[row0 : row0 + N] if has_dout else dh  # this batch's rows of dout
            if defaults:  # the activation codes as constants: the switch folds away
                _step_grads(A_t, gC_t, C_prev, dh, dout_t, has_dout, dc, dA_t, db, mask, has_mask, t, SIGMOID, TANH)
            else:
                _step_grads(A_t, gC_t, C_prev, dh, dout_t, has_dout, dc, dA_t, db, mask, has_mask, t, f_code, g_code)
            if truncate > 0 and t > 0 and t % truncate == 0:  # cells.cuts_here
                dh[:] = 0.0
                dc[:] = 0.0
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
    state: tuple[np.ndarray, np.ndarray],
    params: dict[str, np.ndarray],
    *,
    mask: np.ndarray | None = None,
    rdrop: np.ndarray | None = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, Any]]:
    """Run the LSTM over ``x`` (see ``rnnlab.cells.lstm.forward``, same arguments and results).

    ``x (T, N, D)``, ``state = (H_0, C_0)`` each ``(N, H)``, ``params`` ``W (D, 4H)``,
    ``W_R (H, 4H)``, optional ``b (4H,)``; ``mask (T, N)`` bool; ``rdrop (N, H)``.
    Returns ``(out (T, N, H), (H_T, C_T), cache)``.
    """
    f_code = activation_code(recurrent_activation, "recurrent_activation")
    g_code = activation_code(activation)
    x = common.inputs(x)
    dtype = x.dtype
    T, N, D = x.shape
    W, W_R, (b,), (has_b,) = common.weights(params, dtype, GATES, D)
    H = W_R.shape[0]
    h0, c0 = common.states(state, 2, N, H, dtype)
    options = common.step_options(mask, rdrop, T, N, H, dtype)  # (mask, has_mask, rdrop, has_rdrop)
    codes = (f_code, g_code)
    out, final, inner = _split.forward(_whole_forward, x, (h0, c0), options, 4 * H, W, b, W_R, codes)
    cache = dict(x=x, params=params, W=W, W_R=W_R, has_b=has_b, inner=inner, options=options, codes=codes)
    f, g = activations.get(recurrent_activation), activations.get(activation)
    cache.update(common.reference_keys(options, dtype), f=f, g=g)
    return out, final, cache


def _whole_forward(x, states, options, W, b, W_R, codes):
    """The forward pass of one batch (or one part of it): ``(out, (H_T, C_T), what backward needs)``."""
    A, Hs, Cs, gC, out = _forward(x, W, b, W_R, *states, options, codes)
    T = x.shape[0]
    return out if options[1] else Hs[1:], (Hs[T], Cs[T]), dict(x=x, A=A, Hs=Hs, Cs=Cs, gC=gC, options=options)


def _whole_backward(inner, d_out, has_dout, row0, dstates, W, W_R, codes, truncate):
    """BPTT of one batch (or part); ``dstates`` ``(dH_T, dC_T)`` become ``(dH_0, dC_0)`` in place.
    Returns ``(dx, dstates, (dW, dW_R, db))``."""
    x = inner["x"]
    T, N, _ = x.shape
    K = chunk_steps(T, N, 4 * W_R.shape[0] * x.dtype.itemsize)
    A, Hs, Cs, gC, options = (inner[k] for k in ("A", "Hs", "Cs", "gC", "options"))
    dx, dW, dW_R, db = _backward(x, W, W_R, A, Hs, Cs, gC, d_out, has_dout, row0, *dstates, options, codes, truncate,
                                 K)
    return dx, dstates, (dW, dW_R, db)


def backward(
    dout: np.ndarray | None,
    dstate: tuple[np.ndarray | None, np.ndarray | None],
    cache: dict[str, Any],
    *,
    truncate: int | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """BPTT (see ``rnnlab.cells.lstm.backward``): ``dout (T, N, H)`` or None, ``dstate = (dH_T, dC_T)``
    (either may be None). Returns ``(dx (T, N, D), (dH_0, dC_0), grads)``, ``grads`` keyed like params.
    """
    x, W, W_R, inner, codes = (cache[k] for k in ("x", "W", "W_R", "inner", "codes"))
    T, N, _ = x.shape
    H = W_R.shape[0]
    dtype = x.dtype
    d_out, has_dout = common.upstream(dout, (T, N, H), dtype)
    dstates = (common.state_grad(dstate[0], N, H, dtype), common.state_grad(dstate[1], N, H, dtype))
    args = (d_out, has_dout, dstates, W, W_R, codes, common.truncation(truncate))
    dx, (dh, dc), (dW, dW_R, db) = _split.backward(_whole_backward, inner, 4 * H, *args)
    grads = {"W": dW, "W_R": dW_R}
    if cache["has_b"]:
        grads["b"] = db
    return dx, (dh, dc), grads


def prepare(params: dict[str, np.ndarray], dtype: np.dtype | type = np.float32) -> StepWeights:
    """Pack ``params`` once for ``step``: contiguous arrays of one dtype, a zero bias if there is none."""
    return prepare_step(params, dtype, GATES, pack=True)


def step(
    x_t: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    params: dict[str, np.ndarray] | StepWeights,
    *,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step for streaming inference: ``x_t (N, D)``, ``state = (H_{t-1}, C_{t-1})`` each ``(N, H)``.

    Returns the new state ``(H_t, C_t)``; ``H_t`` is also the output. Pass ``prepare(params)``
    instead of the raw ``params`` to skip repacking the weights at every call.
    """
    f_code, g_code = codes(activation, recurrent_activation)
    p, x, (h, c) = arguments(x_t, state, params, GATES)
    if p.halves:  # big weights, packed by prepare as two halves (two cores: _team)
        return run_halves(_step_halves, p, x, h, c, f_code, g_code)
    return _step(x, h, c, p.W, p.W_R, p.WW, p.b, f_code, g_code)


@njit(**JIT)
def _step(x, h_prev, c_prev, W, W_R, WW, b, f_code, g_code):
    """``x (N, D)``, ``h_prev``, ``c_prev`` ``(N, H)`` -> ``(H_t, C_t)``."""
    wide_vectors()
    N = x.shape[0]
    H = W_R.shape[0]
    a = np.empty((N, 4 * H), x.dtype)  # X_t W, then [I|F|C~|O]
    rec = np.empty((N, 4 * H), x.dtype)  # H_{t-1} W_R
    previous = begin_stream_step(N, x.shape[1] + H, 4 * H)
    project_step(x, h_prev, W, W_R, WW, a, rec)
    end_steps(previous)
    h = np.empty((N, H), x.dtype)
    c = np.empty((N, H), x.dtype)
    for n in range(N):
        an, r = a[n], rec[n]
        act_bias_add_(f_code, an[: 2 * H], b[: 2 * H], r[: 2 * H])
        act_bias_add_(g_code, an[2 * H : 3 * H], b[2 * H : 3 * H], r[2 * H : 3 * H])
        act_bias_add_(f_code, an[3 * H :], b[3 * H :], r[3 * H :])
        cn, hn, cp = c[n], h[n], c_prev[n]
        for j in range(H):
            cn[j] = an[H + j] * cp[j] + an[j] * an[2 * H + j]
        act_to(g_code, cn, hn)
        for j in range(H):
            hn[j] = an[3 * H + j] * hn[j]
    return h, c


@njit(**JIT)
def units(xh, WWp, bp, c_prev, j0, a, h, c, f_code, g_code):
    """Units ``j0 : j0 + Hp`` of one step, from their own columns ``WWp (D+H, 4Hp)`` and ``bp (4Hp,)``
    (``_stream._halves``): ``a (N, 4Hp) = [X_t H_{t-1}] WWp``, then the gates into those units of
    ``h`` and ``c`` ``(N, H)``. The same arithmetic as ``_step``."""
    wide_vectors()
    step_dot(xh, WWp, a)
    Hp = a.shape[1] // 4
    for n in range(a.shape[0]):
        an = a[n]
        act_bias_(f_code, an[: 2 * Hp], bp[: 2 * Hp])  # I_t, F_t
        act_bias_(g_code, an[2 * Hp : 3 * Hp], bp[2 * Hp : 3 * Hp])  # C~_t
        act_bias_(f_code, an[3 * Hp :], bp[3 * Hp :])  # O_t
        cn, hn, cp = c[n, j0 : j0 + Hp], h[n, j0 : j0 + Hp], c_prev[n, j0 : j0 + Hp]
        for j in range(Hp):
            cn[j] = an[Hp + j] * cp[j] + an[j] * an[2 * Hp + j]
        act_to(g_code, cn, hn)
        for j in range(Hp):
            hn[j] = an[3 * Hp + j] * hn[j]


@njit(**JIT)
def _step_halves(x, h_prev, c_prev, f_code, g_code, WW0, b0, WW1, b1, ctrl, task, use_team, claim_pauses):
    """``_step`` with the weights in two halves by units: the first computed here, the second by the
    team's worker when ``use_team`` (else here too). Returns ``(H_t, C_t, status)`` (``_team.join``)."""
    N, D = x.shape
    H = h_prev.shape[1]
    H0 = WW0.shape[1] // 4
    xh = np.empty((N, D + H), x.dtype)  # [X_t H_{t-1}], read by both halves
    xh[:, :D] = x
    xh[:, D:] = h_prev
    h = np.empty((N, H), x.dtype)
    c = np.empty((N, H), x.dtype)
    a0 = np.empty((N, WW0.shape[1]), x.dtype)
    a1 = np.empty((N, WW1.shape[1]), x.dtype)
    previous = one_thread()
    status = 1
    if use_team:
        arrays = (xh.ctypes.data, WW1.ctypes.data, b1.ctypes.data, c_prev.ctypes.data, a1.ctypes.data,
                  h.ctypes.data, c.ctypes.data)  # fmt: skip
        seq = post(ctrl, task, LSTM_TASK, 0, xh, H, H0, f_code, g_code, arrays)
        units(xh, WW0, b0, c_prev, 0, a0, h, c, f_code, g_code)
        status = join(ctrl, seq, claim_pauses)
    else:
        units(xh, WW0, b0, c_prev, 0, a0, h, c, f_code, g_code)
    if status == 1:  # no worker took the second half
        units(xh, WW1, b1, c_prev, H0, a1, h, c, f_code, g_code)
    end_steps(previous)
    return h, c, status
