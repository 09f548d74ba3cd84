"""Pieces every cell's time loop shares: the input projection, masks and the truncation rule.

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units, ``G`` gate blocks (RNN 1,
GRU 3, LSTM 4). Everything here is time-major, ``(T, N, ...)``.
"""

from __future__ import annotations

import numpy as np


def project_inputs(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``X_t W + B`` for all time steps as one matrix product: ``(T, N, D) -> (T, N, G*H)``.

    Returns a fresh C-contiguous buffer that the loop then fills in place with the recurrent term.
    """
    T, N, D = x.shape
    xw = x.reshape(T * N, D) @ W  # (T*N, G*H)
    if b is not None:
        xw += b
    return xw.reshape(T, N, W.shape[1])


def input_param_grads(
    x: np.ndarray, dA: np.ndarray, W: np.ndarray, with_bias: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """After the backward loop: ``dx = dA W^T``, ``dW = X^T dA``, ``db = sum dA``, one product each.

    ``dA`` is the gradient of the pre-activations that ``project_inputs`` produced, ``(T, N, G*H)``.
    """
    T, N, D = x.shape
    dA2 = dA.reshape(T * N, -1)  # (T*N, G*H)
    dx = (dA2 @ W.T).reshape(T, N, D)
    dW = x.reshape(T * N, D).T @ dA2  # (D, G*H)
    db = dA2.sum(axis=0) if with_bias else None
    return dx, dW, db


def prepare_mask(mask: np.ndarray | None, dtype: np.dtype) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Turn a boolean ``(T, N)`` step mask into a float ``(T, N, 1)`` mask and a ``(T,)`` flag.

    The flag says which steps have at least one padded row, so the loop skips mask arithmetic on
    steps where every sequence is real.
    """
    if mask is None or mask.all():
        return None, None
    m = mask.astype(dtype)[:, :, None]  # (T, N, 1)
    return m, ~mask.all(axis=1)


def cuts_here(t: int, truncate: int | None) -> bool:
    """True when truncated BPTT stops the state gradient from flowing from step ``t`` to ``t - 1``.

    With ``truncate = k`` the sequence is cut into windows of ``k`` steps counted from the first
    processed step, ``[0, k), [k, 2k), ...``: the gradient of the state that enters a window
    (the state ``H_{t-1}`` at ``t = k, 2k, ...``) is set to zero, so the loss at step ``t`` reaches
    back only to the start of its own window, at most ``k`` steps. Gradients of the parameters and
    of the inputs inside each window are exact. This is exactly what training on windows of ``k``
    steps with the state carried forward (and detached) between windows computes; the initial state
    of the whole sequence belongs to the first window and still receives its gradient.
    """
    return truncate is not None and t > 0 and t % truncate == 0
