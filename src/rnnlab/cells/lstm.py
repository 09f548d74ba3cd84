r"""LSTM: forward pass and backpropagation through time over a whole sequence.

The equations of the lecture notes (fourth note, section 4), vectorised over a minibatch, with
``f`` = ``recurrent_activation`` (sigmoid in the notes) and ``g`` = ``activation`` (tanh)::

    I_t  = f(X_t W^(II) + H_{t-1} W^(RI) + B^(I))          input gate
    F_t  = f(X_t W^(IF) + H_{t-1} W^(RF) + B^(F))          forget gate
    C~_t = g(X_t W^(IC) + H_{t-1} W^(RC) + B^(C))          candidate cell state
    O_t  = f(X_t W^(IO) + H_{t-1} W^(RO) + B^(O))          output gate
    C_t  = F_t * C_{t-1} + I_t * C~_t
    H_t  = O_t * g(C_t)

The four gate matrices are stored side by side in the order ``[i | f | c~ | o]`` (Keras' and
PyTorch's order): ``W = [W^(II) W^(IF) W^(IC) W^(IO)]`` of shape ``(D, 4H)``,
``W_R = [W^(RI) ...]`` of shape ``(H, 4H)``, ``b`` of shape ``(4H,)``.

Backward, with ``dH_t`` the total gradient reaching ``H_t`` (from the output at ``t`` and from step
``t + 1``) and ``dC_t`` the gradient reaching ``C_t`` from step ``t + 1``::

    dO     = dH_t * g(C_t)
    dC     = dC_t + dH_t * O_t * g'(C_t)
    dI     = dC * C~_t        dF = dC * C_{t-1}        dC~ = dC * I_t
    dA     = [dI f'(.), dF f'(.), dC~ g'(.), dO f'(.)]      gradient of the pre-activations
    dH_{t-1} = dA W_R^T       dC_{t-1} = dC * F_t
    dW = sum_t X_t^T dA_t     dW_R = sum_t H_{t-1}^T dA_t     db = sum_t sum_n dA_t

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units. Time-major, ``(T, N, .)``.

Options shared by all cells (see ``rnnlab.cells``): a step ``mask`` (a padded step keeps the state
and outputs zero), a recurrent-dropout mask ``rdrop`` multiplied into ``H_{t-1}`` before ``W_R``
(one mask per sequence, reused at every step), and ``truncate`` for truncated BPTT.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import activations
from rnnlab.cells._common import cuts_here, input_param_grads, prepare_mask, project_inputs

GATES = 4
STATES = ("h", "c")


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
    """Run the LSTM over ``x``.

    Args:
        x: inputs, ``(T, N, D)``.
        state: ``(H_0, C_0)``, each ``(N, H)``.
        params: ``W (D, 4H)``, ``W_R (H, 4H)``, optional ``b (4H,)``.
        mask: ``(T, N)`` bool, True where a step is real.
        rdrop: recurrent dropout mask ``(N, H)``, already scaled by ``1 / (1 - rate)``.

    Returns:
        ``(out, (H_T, C_T), cache)``: ``out (T, N, H)`` is ``H_t`` at real steps and 0 at padded ones.
    """
    W, W_R, b = params["W"], params["W_R"], params.get("b")
    h0, c0 = state
    T, N, _ = x.shape
    H = W_R.shape[0]
    f, g = activations.get(recurrent_activation), activations.get(activation)
    m, partial = prepare_mask(mask, x.dtype)

    A = project_inputs(x, W, b)  # (T, N, 4H): X_t W + B, then + H_{t-1} W_R, then activated in place
    Hs = np.empty((T + 1, N, H), x.dtype)  # H_0 .. H_T
    Cs = np.empty((T + 1, N, H), x.dtype)  # C_0 .. C_T
    gC = np.empty((T, N, H), x.dtype)  # g(C_t), before masking
    Hs[0], Cs[0] = h0, c0
    rec = np.empty((N, GATES * H), x.dtype)  # H_{t-1} W_R
    hd = np.empty((N, H), x.dtype) if rdrop is not None else None  # H_{t-1} * rdrop
    ic = np.empty((N, H), x.dtype)  # I_t * C~_t

    for t in range(T):
        h_prev = Hs[t] if hd is None else np.multiply(Hs[t], rdrop, out=hd)
        a = A[t]
        a += np.matmul(h_prev, W_R, out=rec)
        i = f(a[:, :H], out=a[:, :H])
        fg = f(a[:, H : 2 * H], out=a[:, H : 2 * H])
        c_tilde = g(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
        o = f(a[:, 3 * H :], out=a[:, 3 * H :])
        c = np.multiply(fg, Cs[t], out=Cs[t + 1])
        c += np.multiply(i, c_tilde, out=ic)
        np.multiply(o, g(c, out=gC[t]), out=Hs[t + 1])
        if partial is not None and partial[t]:  # padded rows keep their state
            keep = ~mask[t][:, None]
            np.copyto(Hs[t + 1], Hs[t], where=keep)
            np.copyto(Cs[t + 1], Cs[t], where=keep)

    out = Hs[1:] if m is None else Hs[1:] * m
    cache = dict(x=x, params=params, A=A, Hs=Hs, Cs=Cs, gC=gC, m=m, partial=partial, rdrop=rdrop, f=f, g=g)
    return out, (Hs[T], Cs[T]), cache


def backward(
    dout: np.ndarray | None,
    dstate: tuple[np.ndarray | None, np.ndarray | None],
    cache: dict[str, Any],
    *,
    truncate: int | None = None,
    dh_record: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """BPTT through the sequence that ``forward`` ran.

    Args:
        dout: gradient of the outputs, ``(T, N, H)``, or None.
        dstate: gradients of ``(H_T, C_T)``, each ``(N, H)`` or None.
        truncate: cut the state gradient every ``truncate`` steps (see ``cells.cuts_here``).
        dh_record: optional ``(T, N, H)`` buffer, filled with ``dL/dH_t``, the total gradient reaching
            the hidden state after step ``t`` (for gradient-flow diagnostics).

    Returns:
        ``(dx (T, N, D), (dH_0, dC_0), grads)`` with ``grads`` keyed like ``params``.
    """
    x, params, A, Hs, Cs, gC = (cache[k] for k in ("x", "params", "A", "Hs", "Cs", "gC"))
    m, partial, rdrop, f, g = (cache[k] for k in ("m", "partial", "rdrop", "f", "g"))
    W, W_R = params["W"], params["W_R"]
    T, N, _ = x.shape
    H = W_R.shape[0]
    dtype = x.dtype

    dA = np.empty((T, N, GATES * H), dtype)  # gradient of the gate pre-activations
    dh = np.zeros((N, H), dtype) if dstate[0] is None else np.array(dstate[0], dtype)  # dL/dH_t
    dc = np.zeros((N, H), dtype) if dstate[1] is None else np.array(dstate[1], dtype)  # dL/dC_t
    W_RT = np.ascontiguousarray(W_R.T)  # (4H, H)

    for t in reversed(range(T)):
        a = A[t]
        i, fg, c_tilde, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        dh_t = dh if dout is None else dh + dout[t]
        if dh_record is not None:
            dh_record[t] = dh_t
        masked = partial is not None and partial[t]
        if masked:  # padded rows: the state passes through untouched, the cell gets nothing
            mt = m[t]
            dh_skip, dc_skip = dh * (1.0 - mt), dc * (1.0 - mt)
            dh_t = dh_t * mt
            dc = dc * mt
        gc = gC[t]
        dct = dc + dh_t * o * g.grad(gc)
        da = dA[t]
        np.multiply(dct * c_tilde, f.grad(i), out=da[:, :H])
        np.multiply(dct * Cs[t], f.grad(fg), out=da[:, H : 2 * H])
        np.multiply(dct * i, g.grad(c_tilde), out=da[:, 2 * H : 3 * H])
        np.multiply(dh_t * gc, f.grad(o), out=da[:, 3 * H :])
        dc = dct * fg
        dh = da @ W_RT
        if rdrop is not None:
            dh *= rdrop
        if masked:
            dh += dh_skip
            dc += dc_skip
        if cuts_here(t, truncate):
            dh[...] = 0.0
            dc[...] = 0.0

    dx, dW, db = input_param_grads(x, dA, W, "b" in params)
    h_in = Hs[:T] if rdrop is None else Hs[:T] * rdrop  # what multiplied W_R at each step
    grads = {"W": dW, "W_R": h_in.reshape(T * N, H).T @ dA.reshape(T * N, GATES * H)}
    if db is not None:
        grads["b"] = db
    return dx, (dh, dc), grads
