"""The streaming worker's loop (``_team``): claim each posted task and compute its half of a step.

Kept apart from ``_team`` because it calls into the cell modules, which import ``_team``.

Shapes: ``N`` batch, ``D`` the width of the first operand (LSTM: ``[X_t H_{t-1}]``, GRU: ``X_t``),
``H`` units, ``H0`` units of the first half, ``H1 = H - H0`` of the second, the worker's.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, types

from rnnlab.kernels import gru, lstm
from rnnlab.kernels._math import JIT
from rnnlab.kernels._team import (
    ARRAYS,
    CLAIMED,
    D_,
    DONE,
    DTYPE,
    F_,
    G_,
    GRU_AFTER,
    H0_,
    H_,
    KIND,
    LSTM,
    N_,
    PHASE,
    POSTED,
    STOP,
    as_pointer,
    atomic_load,
    atomic_store,
    compare_swap,
    pause,
)


def compile_serve() -> None:
    """Compile ``serve`` (or load it from the disk cache) for the team's arrays, before any thread runs it."""
    serve.compile((types.int64[::1], types.int64[::1], types.int64))


@njit(**JIT)
def serve(ctrl, task, spin_pauses):
    """Claim and run each posted task. Returns 0 when asked to stop, 1 after ``spin_pauses`` pauses
    without a task (the caller then sleeps until a step wakes it)."""
    idle = 0
    while True:
        claimed = atomic_load(ctrl, CLAIMED)
        if atomic_load(ctrl, POSTED) == claimed + 1:
            if compare_swap(ctrl, CLAIMED, claimed, claimed + 1):
                run(task)
                atomic_store(ctrl, DONE, claimed + 1)
            idle = 0
            continue
        if atomic_load(ctrl, STOP) != 0:
            return 0
        pause()
        idle += 1
        if idle >= spin_pauses:
            return 1


@njit(**JIT)
def run(task):
    """The second half of the step that ``task`` describes (``_team.post``)."""
    if task[DTYPE] == 0:
        _run(task, np.float32)
    else:
        _run(task, np.float64)


@njit(inline="always", **JIT)
def _array(task, k, dtype, shape):
    """Array ``k`` of the task (``_team.post``'s ``addresses[k]``), of ``shape``."""
    return carray(as_pointer(task[ARRAYS + k], dtype), shape)


@njit(inline="always", **JIT)
def _run(task, dtype):
    """Rebuild the arrays of the task, in the order of the cell's ``units`` call (see the cell's
    ``_step_halves``), and run that call on units ``H0:H``."""
    kind, N, D, H, H0, f_code, g_code = task[KIND], task[N_], task[D_], task[H_], task[H0_], task[F_], task[G_]
    H1 = H - H0
    if kind == LSTM:  # D is the width of [X_t H_{t-1}]
        G = 4 * H1
        lstm.units(_array(task, 0, dtype, (N, D)), _array(task, 1, dtype, (D, G)), _array(task, 2, dtype, (G,)),
                   _array(task, 3, dtype, (N, H)), H0, _array(task, 4, dtype, (N, G)), _array(task, 5, dtype, (N, H)),
                   _array(task, 6, dtype, (N, H)), f_code, g_code)  # fmt: skip
    else:
        G = 3 * H1
        x, h_prev = _array(task, 0, dtype, (N, D)), _array(task, 1, dtype, (N, H))
        W1, W_R1, b1 = _array(task, 2, dtype, (D, G)), _array(task, 3, dtype, (H, G)), _array(task, 4, dtype, (G,))
        if kind == GRU_AFTER:
            gru.units_after(x, h_prev, W1, W_R1, b1, _array(task, 5, dtype, (G,)), H0, _array(task, 6, dtype, (N, G)),
                            _array(task, 7, dtype, (N, G)), _array(task, 8, dtype, (N, H)), f_code, g_code)  # fmt: skip
        else:
            gru.units_before(task[PHASE], x, h_prev, W1, W_R1, b1, H0, _array(task, 5, dtype, (N, G)),
                             _array(task, 6, dtype, (N, 2 * H1)), _array(task, 7, dtype, (N, H)),
                             _array(task, 8, dtype, (N, H)), f_code, g_code)  # fmt: skip
