r"""GRU, in both variants: forward pass and backpropagation through time over a whole sequence.

The equations of the lecture notes (fourth note, section 5), vectorised over a minibatch, with
``f`` = ``recurrent_activation`` (sigmoid in the notes) and ``g`` = ``activation`` (tanh)::

    R_t  = f(X_t W^(IR) + H_{t-1} W^(RR) + B^(R))                   reset gate
    Z_t  = f(X_t W^(IZ) + H_{t-1} W^(RZ) + B^(Z))                   update gate
    H~_t = g(X_t W^(IH) + (R_t * H_{t-1}) W^(RH) + B^(H))            candidate (reset_after=False)
    H_t  = Z_t * H_{t-1} + (1 - Z_t) * H~_t

``reset_after=False`` (the default) is the notes' form above: the reset gate multiplies the state
*before* the recurrent matrix. ``reset_after=True`` is PyTorch's and cuDNN's form, which applies
it *after* the matrix and has a second, recurrent bias ``b_R``::

    H~_t = g(X_t W^(IH) + B^(H) + R_t * (H_{t-1} W^(RH) + B_R^(H)))

and adds ``B_R^(R)``, ``B_R^(Z)`` to the two gates. The two are different functions; only the
second has a PyTorch counterpart.

Blocks are stored in the notes' order ``[r | z | h~]`` (also PyTorch's order; Keras uses
``[z | r | h]``): ``W (D, 3H)``, ``W_R (H, 3H)``, ``b (3H,)`` and, with ``reset_after``, ``b_R (3H,)``.

Backward, with ``dH_t`` the total gradient reaching ``H_t``::

    dZ   = dH_t * (H_{t-1} - H~_t)       dH~ = dH_t * (1 - Z_t)       dA_h = dH~ * g'(.)
    reset_after=False:  d(R*H) = dA_h W^(RH)^T    dR = d(R*H) * H_{t-1}
    reset_after=True:   dR = dA_h * (H_{t-1} W^(RH) + B_R^(H))
    dA_r = dR * f'(.)        dA_z = dZ * f'(.)
    dH_{t-1} = dH_t * Z_t + (recurrent-matrix terms) [+ d(R*H) * R_t before the reset]

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units. Time-major, ``(T, N, .)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import activations
from rnnlab.cells._common import cuts_here, input_param_grads, prepare_mask, project_inputs

GATES = 3
STATES = ("h",)


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
    """Run the GRU over ``x``.

    Args:
        x: inputs, ``(T, N, D)``.
        state: ``(H_0,)``, ``(N, H)``.
        params: ``W (D, 3H)``, ``W_R (H, 3H)``, optional ``b (3H,)``; ``b_R (3H,)`` if ``reset_after``.
        mask: ``(T, N)`` bool, True where a step is real.
        rdrop: recurrent dropout mask ``(N, H)``, already scaled by ``1 / (1 - rate)``.
        reset_after: False for the notes' GRU, True for PyTorch's.

    Returns:
        ``(out (T, N, H), (H_T,), cache)``; ``out`` is 0 at padded steps.
    """
    W, W_R, b = params["W"], params["W_R"], params.get("b")
    (h0,) = state
    T, N, _ = x.shape
    H = W_R.shape[0]
    f, g = activations.get(recurrent_activation), activations.get(activation)
    m, partial = prepare_mask(mask, x.dtype)

    A = project_inputs(x, W, b)  # (T, N, 3H): X_t W + B, completed and activated in place
    Hs = np.empty((T + 1, N, H), x.dtype)  # H_0 .. H_T
    Hs[0] = h0
    hd = np.empty((N, H), x.dtype) if rdrop is not None else None
    if reset_after:
        b_R = params.get("b_R")
        HR = np.empty((T, N, 3 * H), x.dtype)  # H_{t-1} W_R + B_R
        W_R_rz = W_R_h = RH = None
    else:
        W_R_rz = np.ascontiguousarray(W_R[:, : 2 * H])  # (H, 2H)
        W_R_h = np.ascontiguousarray(W_R[:, 2 * H :])  # (H, H)
        rec_rz = np.empty((N, 2 * H), x.dtype)
        rec_h = np.empty((N, H), x.dtype)
        RH = np.empty((T, N, H), x.dtype)  # R_t * H_{t-1}
        HR = None

    for t in range(T):
        h_prev = Hs[t]
        h_in = h_prev if hd is None else np.multiply(h_prev, rdrop, out=hd)
        a = A[t]
        if reset_after:
            hr = np.matmul(h_in, W_R, out=HR[t])
            if b_R is not None:
                hr += b_R
            a[:, : 2 * H] += hr[:, : 2 * H]
            r = f(a[:, :H], out=a[:, :H])
            z = f(a[:, H : 2 * H], out=a[:, H : 2 * H])
            a[:, 2 * H :] += r * hr[:, 2 * H :]
        else:
            a[:, : 2 * H] += np.matmul(h_in, W_R_rz, out=rec_rz)
            r = f(a[:, :H], out=a[:, :H])
            z = f(a[:, H : 2 * H], out=a[:, H : 2 * H])
            rh = np.multiply(r, h_in, out=RH[t])
            a[:, 2 * H :] += np.matmul(rh, W_R_h, out=rec_h)
        h_tilde = g(a[:, 2 * H :], out=a[:, 2 * H :])
        # H_t = Z * H_{t-1} + (1 - Z) * H~  =  H~ + Z * (H_{t-1} - H~)
        h = np.subtract(h_prev, h_tilde, out=Hs[t + 1])
        h *= z
        h += h_tilde
        if partial is not None and partial[t]:
            np.copyto(h, h_prev, where=~mask[t][:, None])

    out = Hs[1:] if m is None else Hs[1:] * m
    cache = dict(
        x=x,
        params=params,
        A=A,
        Hs=Hs,
        HR=HR,
        RH=RH,
        W_R_rz=W_R_rz,
        W_R_h=W_R_h,
        m=m,
        partial=partial,
        rdrop=rdrop,
        f=f,
        g=g,
        reset_after=reset_after,
    )
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
    x, params, A, Hs, HR, RH = (cache[k] for k in ("x", "params", "A", "Hs", "HR", "RH"))
    m, partial, rdrop, f, g = (cache[k] for k in ("m", "partial", "rdrop", "f", "g"))
    reset_after = cache["reset_after"]
    W, W_R = params["W"], params["W_R"]
    T, N, _ = x.shape
    H = W_R.shape[0]
    dtype = x.dtype

    dA = np.empty((T, N, 3 * H), dtype)  # gradient of the pre-activations fed by X_t W + B
    dh = np.zeros((N, H), dtype) if dstate[0] is None else np.array(dstate[0], dtype)  # dL/dH_t
    if reset_after:
        dHR = np.empty((T, N, 3 * H), dtype)  # gradient of H_{t-1} W_R + B_R
        W_RT = np.ascontiguousarray(W_R.T)  # (3H, H)
    else:
        W_R_rzT = np.ascontiguousarray(cache["W_R_rz"].T)  # (2H, H)
        W_R_hT = np.ascontiguousarray(cache["W_R_h"].T)  # (H, H)

    for t in reversed(range(T)):
        a = A[t]
        r, z, h_tilde = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        h_prev = Hs[t]
        h_in = h_prev if rdrop is None else h_prev * rdrop
        dh_t = dh if dout is None else dh + dout[t]
        if dh_record is not None:
            dh_record[t] = dh_t
        masked = partial is not None and partial[t]
        if masked:
            dh_skip = dh * (1.0 - m[t])
            dh_t = dh_t * m[t]
        da = dA[t]
        dz = dh_t * (h_prev - h_tilde)
        np.multiply(dh_t * (1.0 - z), g.grad(h_tilde), out=da[:, 2 * H :])
        if reset_after:
            dr = da[:, 2 * H :] * HR[t][:, 2 * H :]
        else:
            drh = da[:, 2 * H :] @ W_R_hT  # gradient of R_t * H_{t-1}
            dr = drh * h_in
        np.multiply(dr, f.grad(r), out=da[:, :H])
        np.multiply(dz, f.grad(z), out=da[:, H : 2 * H])
        if reset_after:
            dhr = dHR[t]
            dhr[:, : 2 * H] = da[:, : 2 * H]
            np.multiply(da[:, 2 * H :], r, out=dhr[:, 2 * H :])
            dh_in = dhr @ W_RT
        else:
            dh_in = da[:, : 2 * H] @ W_R_rzT
            dh_in += drh * r
        if rdrop is not None:
            dh_in *= rdrop
        dh = dh_in
        dh += dh_t * z
        if masked:
            dh += dh_skip
        if cuts_here(t, truncate):
            dh[...] = 0.0

    dx, dW, db = input_param_grads(x, dA, W, "b" in params)
    h_in = Hs[:T] if rdrop is None else Hs[:T] * rdrop  # (T, N, H)
    h2 = h_in.reshape(T * N, H)
    grads = {"W": dW}
    if reset_after:
        dHR2 = dHR.reshape(T * N, 3 * H)
        grads["W_R"] = h2.T @ dHR2
        if "b_R" in params:
            grads["b_R"] = dHR2.sum(axis=0)
    else:
        dA2 = dA.reshape(T * N, 3 * H)
        grads["W_R"] = np.concatenate([h2.T @ dA2[:, : 2 * H], RH.reshape(T * N, H).T @ dA2[:, 2 * H :]], axis=1)
    if db is not None:
        grads["b"] = db
    return dx, (dh,), grads
