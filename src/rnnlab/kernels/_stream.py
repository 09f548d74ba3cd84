"""Streaming inference helpers: weights packed once, and the argument handling of ``step``.

``step`` in each cell module runs one time step with the state carried by the caller. For a batch of
one, every microsecond of Python counts (a PyTorch cell costs 14-35 us per call here), so the
weights are packed once by ``prepare`` (C-contiguous, one dtype, zero biases where absent; RNN and
LSTM: ``[W; W_R]`` stacked; GRU: the recurrent blocks split), each call checks its arguments
cheaply, and the whole step is one compiled function: one BLAS product ``[X_t H_{t-1}] [W; W_R]``
(GRU: two, ``reset_after=False``: three) and one fused pass over the units. LSTM and GRU weights
of ``_team.TEAM_MIN_BYTES`` or more are packed as two halves of units instead (``halves``), which
``run_halves`` runs on two cores.

Shapes: ``N`` batch, ``D`` input features, ``H`` units, ``G`` gate blocks.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from rnnlab.kernels import _common as common
from rnnlab.kernels import _team
from rnnlab.kernels._blas import step_dot
from rnnlab.kernels._math import CODES, JIT, activation_code


class StepWeights(NamedTuple):
    """Weights packed once for ``step``: C-contiguous, one dtype, zero biases where absent."""

    W: np.ndarray  # (D, G*H)
    W_R: np.ndarray  # (H, G*H)
    b: np.ndarray  # (G*H,), zeros without use_bias
    b_R: np.ndarray  # noqa: N815  (G*H,), GRU reset_after's recurrent bias, zeros when absent
    W_R_rz: np.ndarray  # (H, 2H) GRU's W_R[:, :2H], (0, 0) for the other cells
    W_R_h: np.ndarray  # (H, H) GRU's W_R[:, 2H:], (0, 0) for the other cells
    WW: np.ndarray  # (D+H, G*H) [W; W_R] (W and W_R are views of it): one product per step; or (0, 0)
    # big weights as two halves by units, for two cores (``_team``), each holding the G gate blocks of
    # the half's units: LSTM (WW0, b0, WW1, b1), WWk (D+H, G*Hk); GRU (W0, W_R0, b0, b_R0, W1,
    # W_R1, b1, b_R1), Wk (D, 3Hk), W_Rk (H, 3Hk); () otherwise
    halves: tuple[np.ndarray, ...] = ()

    @property
    def dtype(self) -> np.dtype:
        return self.W.dtype


def prepare_step(
    params: dict[str, np.ndarray] | StepWeights,
    dtype: np.dtype | type,
    gates: int,
    pack: bool = False,
    min_bytes: int | None = None,
) -> StepWeights:
    """``params`` as ``StepWeights`` of ``dtype`` (returned as is when already packed in that dtype).

    ``pack`` (what ``prepare`` does; a plain dict passed to ``step`` is not copied) stores RNN and
    LSTM weights as ``[W; W_R]`` in one array, so that a step makes one product ``[X_t H_{t-1}] WW``
    instead of two (a third faster for weights of a few MB, which are read from memory at every
    step), and LSTM and GRU weights of ``min_bytes`` (default ``_team.TEAM_MIN_BYTES``) or more as
    two halves of units. Not the RNN's: MKL's own two threads read its tall ``(D+H, H)`` stack as
    fast (measured here, batch 1, ``D = H`` = 512, 768, 1024: 22.3, 90.0, 211.7 us whole against
    26.0, 100.8, 215.7 us in halves).
    """
    dtype = np.dtype(dtype)
    if isinstance(params, StepWeights):
        if params.dtype == dtype:
            return params
        params = params._asdict()
    if dtype not in common.FLOATS:
        raise TypeError(f"step runs in float32 or float64, got {dtype}")
    W, W_R = common.as_c(params["W"], dtype), common.as_c(params["W_R"], dtype)
    H = W_R.shape[0]
    if W_R.shape != (H, gates * H) or W.shape[1] != gates * H:
        raise ValueError(f"expected W (D, {gates}H) and W_R (H, {gates}H), got W {W.shape} and W_R {W_R.shape}")
    b, b_R = params.get("b"), params.get("b_R")
    b = np.zeros(gates * H, dtype) if b is None else common.as_c(b, dtype)
    b_R = np.zeros(gates * H, dtype) if b_R is None else common.as_c(b_R, dtype)
    none = np.empty((0, 0), dtype)
    WW, halves = none, ()
    min_bytes = _team.TEAM_MIN_BYTES if min_bytes is None else min_bytes
    if pack and gates > 1 and (W.shape[0] + H) * gates * H * dtype.itemsize >= min_bytes and H >= 2:
        if gates == 3:  # GRU: W and W_R apart (R_t multiplies H_{t-1} W_R alone)
            W0, b0, W1, b1 = _halves(W, b, gates, H)
            W_R0, b_R0, W_R1, b_R1 = _halves(W_R, b_R, gates, H)
            halves = (W0, W_R0, b0, b_R0, W1, W_R1, b1, b_R1)
        else:
            halves = _halves(np.concatenate([W, W_R]), b, gates, H)
    elif pack and gates != 3:
        WW = np.concatenate([W, W_R])  # (D+H, G*H)
        W, W_R = WW[: W.shape[0]], WW[W.shape[0] :]
    rz_h = gates == 3 and not halves  # the GRU's whole step multiplies by W_R's blocks apart
    return StepWeights(
        W,
        W_R,
        b,
        b_R,
        common.as_c(W_R[:, : 2 * H], dtype) if rz_h else none,
        common.as_c(W_R[:, 2 * H :], dtype) if rz_h else none,
        WW,
        halves,
    )


def _halves(WW: np.ndarray, b: np.ndarray, gates: int, H: int) -> tuple[np.ndarray, ...]:
    """``(WW0, b0, WW1, b1)``: the columns of units ``0:H0`` and ``H0:H`` of each of the ``gates``
    blocks of ``WW (K, G*H)`` and ``b``, each half contiguous, ``H0 = H // 2``."""
    H0 = H // 2
    out = []
    for units in (slice(0, H0), slice(H0, H)):
        cols = np.concatenate([np.arange(H)[units] + g * H for g in range(gates)])
        out += [np.ascontiguousarray(WW[:, cols]), np.ascontiguousarray(b[cols])]
    return tuple(out)


def run_halves(kernel: Any, p: StepWeights, *args: Any) -> Any:
    """``kernel(*args, *p.halves, ctrl, task, use_team, claim_pauses)``, a cell's ``_step_halves``:
    the second half on the team's worker when ``_team.team`` gives the team, else both halves here.
    The kernel returns its results and ``join``'s status last; this returns the results."""
    started = time.perf_counter()
    team = _team.team(sum(a.nbytes for a in p.halves))
    if team is None:
        return kernel(*args, *p.halves, _NO_CTRL, _NO_TASK, False, 0)[:-1]
    try:
        *results, status = kernel(*args, *p.halves, team.ctrl, team.task, True, _team.CLAIM_PAUSES)
    finally:
        team.lock.release()
    team.after_step(status, started)
    return tuple(results)


_NO_CTRL = np.zeros(_team.CONTROL_WORDS, np.int64)
_NO_TASK = np.zeros(_team.TASK_WORDS, np.int64)


def codes(activation: str, recurrent_activation: str) -> tuple[int, int]:
    """``(f, g)`` codes: the recurrent activation and the activation, validated once per name."""
    f = CODES.get(recurrent_activation) if isinstance(recurrent_activation, str) else None
    g = CODES.get(activation) if isinstance(activation, str) else None
    if f is None:
        f = activation_code(recurrent_activation, "recurrent_activation")
    if g is None:
        g = activation_code(activation)
    return f, g


def arguments(
    x_t: np.ndarray, state: tuple[np.ndarray, ...], params: dict[str, np.ndarray] | StepWeights, gates: int
) -> tuple[StepWeights, np.ndarray, tuple[np.ndarray, ...]]:
    """Packed weights, and ``x_t`` and the state as C-contiguous arrays of the weights' dtype.

    The dtype is the packed weights' own, or ``x_t``'s when ``params`` is a plain dict.
    """
    if type(params) is not StepWeights:  # plain dict: used as is (no stacked copy)
        params = prepare_step(params, common.float_dtype(x_t), gates)
    dtype = params.W.dtype
    return params, _ready(x_t, dtype), tuple(_ready(s, dtype) for s in state)


def _ready(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable:
        return a  # the common case, checked without a call into NumPy
    return common.as_c(a, dtype)


@njit(inline="always", **JIT)
def project_step(x, h, W, W_R, WW, a, rec):
    """``a = X_t W`` and ``rec = H_{t-1} W_R``, or with stacked ``WW``: ``a = [X_t H_{t-1}] WW``, ``rec = 0``."""
    if WW.shape[0] == 0:
        step_dot(x, W, a)
        step_dot(h, W_R, rec)
        return
    N, D = x.shape
    xh = np.empty((N, D + h.shape[1]), x.dtype)
    xh[:, :D] = x
    xh[:, D:] = h
    step_dot(xh, WW, a)
    rec[:] = 0.0
