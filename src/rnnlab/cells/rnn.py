r"""Elman RNN: forward pass and backpropagation through time over a whole sequence.

The first note's ``h^t = f(w_x x^t + w_h h^{t-1})`` (the third note's ``s_t = f(U x_t + W s_{t-1})``),
vectorised over a minibatch in the fourth note's matrix form, with ``f`` = ``activation``::

    H_t = f(X_t W + H_{t-1} W_R + B)

``W`` is ``(D, H)``, ``W_R`` is ``(H, H)``, ``b`` is ``(H,)``.

Backward (min-char-rnn's ``dhraw = (1 - h*h) * dh`` for tanh), with ``dH_t`` the total gradient
reaching ``H_t`` from the output at ``t`` and from step ``t + 1``::

    dA_t     = dH_t * f'(A_t)          gradient of the pre-activation
    dH_{t-1} = dA_t W_R^T
    dW = sum_t X_t^T dA_t     dW_R = sum_t H_{t-1}^T dA_t     db = sum_t sum_n dA_t

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units. Time-major, ``(T, N, .)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import activations
from rnnlab.cells._common import cuts_here, input_param_grads, prepare_mask, project_inputs

GATES = 1
STATES = ("h",)


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
    """Run the Elman RNN over ``x``: ``x (T, N, D)``, ``state = (H_0,)``, ``params`` W, W_R, b.

    ``recurrent_activation`` is accepted for a uniform cell interface and ignored (no gates).
    Returns ``(out (T, N, H), (H_T,), cache)``; ``out`` is 0 at padded steps.
    """
    W, W_R, b = params["W"], params["W_R"], params.get("b")
    (h0,) = state
    T, N, _ = x.shape
    H = W_R.shape[0]
    fn = activations.get(activation)
    m, partial = prepare_mask(mask, x.dtype)

    A = project_inputs(x, W, b)  # (T, N, H): X_t W + B, then + H_{t-1} W_R, then f(.) in place
    Hs = np.empty((T + 1, N, H), x.dtype)  # H_0 .. H_T
    Hs[0] = h0
    rec = np.empty((N, H), x.dtype)  # H_{t-1} W_R
    hd = np.empty((N, H), x.dtype) if rdrop is not None else None

    for t in range(T):
        h_prev = Hs[t] if hd is None else np.multiply(Hs[t], rdrop, out=hd)
        a = A[t]
        a += np.matmul(h_prev, W_R, out=rec)
        Hs[t + 1] = fn(a, out=a)
        if partial is not None and partial[t]:
            np.copyto(Hs[t + 1], Hs[t], where=~mask[t][:, None])

    out = Hs[1:] if m is None else Hs[1:] * m
    cache = dict(x=x, params=params, A=A, Hs=Hs, m=m, partial=partial, rdrop=rdrop, fn=fn)
    return out, (Hs[T],), cache


def backward(
    dout: np.ndarray | None,
    dstate: tuple[np.ndarray | None],
    cache: dict[str, Any],
    *,
    truncate: int | None = None,
    dh_record: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, np.ndarray]]:
    """BPTT: ``dout (T, N, H)`` or None, ``dstate = (dH_T,)``; returns ``(dx, (dH_0,), grads)``.

    ``dh_record``: optional ``(T, N, H)`` buffer, filled with ``dL/dH_t``, the total gradient reaching the
    state after step ``t`` (for gradient-flow diagnostics).
    """
    x, params, A, Hs, m, partial, rdrop, fn = (
        cache[k] for k in ("x", "params", "A", "Hs", "m", "partial", "rdrop", "fn")
    )
    W, W_R = params["W"], params["W_R"]
    T, N, _ = x.shape
    H = W_R.shape[0]
    dtype = x.dtype

    dA = np.empty((T, N, H), dtype)  # gradient of the pre-activations A_t
    dh = np.zeros((N, H), dtype) if dstate[0] is None else np.array(dstate[0], dtype)  # dL/dH_t
    W_RT = np.ascontiguousarray(W_R.T)

    for t in reversed(range(T)):
        dh_t = dh if dout is None else dh + dout[t]
        if dh_record is not None:
            dh_record[t] = dh_t
        masked = partial is not None and partial[t]
        if masked:
            dh_skip = dh * (1.0 - m[t])
            dh_t = dh_t * m[t]
        np.multiply(dh_t, fn.grad(A[t]), out=dA[t])  # A[t] holds H_t = f(A_t) before masking
        dh = dA[t] @ W_RT
        if rdrop is not None:
            dh *= rdrop
        if masked:
            dh += dh_skip
        if cuts_here(t, truncate):
            dh[...] = 0.0

    dx, dW, db = input_param_grads(x, dA, W, "b" in params)
    h_in = Hs[:T] if rdrop is None else Hs[:T] * rdrop
    grads = {"W": dW, "W_R": h_in.reshape(T * N, H).T @ dA.reshape(T * N, H)}
    if db is not None:
        grads["b"] = db
    return dx, (dh,), grads
