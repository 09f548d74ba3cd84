"""The streaming worker's loop (``_team``): claim each posted task and compute its half of a step.

Kept apart from ``_team`` because it calls into the cell modules, which import ``_team``.

Shapes: ``N`` batch, ``K = D + H`` stacked inputs, ``H`` units, ``H0`` units of the first half,
``H1 = H - H0`` of the second, the worker's.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit

from rnnlab.kernels import lstm, rnn
from rnnlab.kernels._math import JIT
from rnnlab.kernels._team import (
    C_OUT,
    C_PREV,
    CLAIMED,
    DONE,
    DTYPE,
    F_,
    G_,
    H0_,
    H_,
    H_OUT,
    K_,
    KIND,
    LSTM,
    N_,
    POSTED,
    STOP,
    WW,
    XH,
    A,
    B,
    as_pointer,
    atomic_load,
    atomic_store,
    compare_swap,
    pause,
)


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
def _run(task, dtype):
    N, K, H, H0 = task[N_], task[K_], task[H_], task[H0_]
    gates = 4 if task[KIND] == LSTM else 1
    GH1 = gates * (H - H0)
    xh = carray(as_pointer(task[XH], dtype), (N, K))
    WW1 = carray(as_pointer(task[WW], dtype), (K, GH1))
    b1 = carray(as_pointer(task[B], dtype), (GH1,))
    a1 = carray(as_pointer(task[A], dtype), (N, GH1))
    h = carray(as_pointer(task[H_OUT], dtype), (N, H))
    if task[KIND] == LSTM:
        c_prev = carray(as_pointer(task[C_PREV], dtype), (N, H))
        c = carray(as_pointer(task[C_OUT], dtype), (N, H))
        lstm.units(xh, WW1, b1, c_prev, H0, a1, h, c, task[F_], task[G_])
    else:
        rnn.units(xh, WW1, b1, H0, a1, h, task[G_])
