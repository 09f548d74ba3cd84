"""Two cores for one streaming step: the units of the step split between this thread and a worker.

A batch-1 step reads all of its weights once (``[X_t H_{t-1}] [W; W_R]``) and does little else, so
its speed is the speed at which one core reads them. An L2 cache here holds 2 MB per core: the LSTM
with ``H = 256`` (2 MB of float32 weights) spills it and a whole step took 35 us, while half of those
weights on each of two cores stays in each core's cache. ``prepare`` then packs the weights as two
halves by units (``halves``: the ``[i|f|c~|o]`` columns of units ``0:H0`` and ``H0:H``); this thread
computes the first half of a step, a worker thread the second, and each writes its units of
``H_t`` (and ``C_t``). Measured here (MKL, float32): two threads each reading its own 1 MB half
over and over take 11.5 us per step together; one thread reading all 2 MB takes 31 us.

The hand-off has to cost well under a microsecond, so it is not a Python queue: the worker runs a
compiled loop that watches a control word (``_worker.serve``), and this thread posts a task with one
atomic store (``post``) and waits with another loop (``join``). Each posted task is claimed by a
compare-and-swap, by the worker or, when the worker does not claim it within ``CLAIM_PAUSES``
(asleep, or not scheduled), by this thread, which then computes both halves itself: a step never
waits on a worker that is not running. The worker spins for ``SPIN_PAUSES`` (0.3 ms here) after
its last task and then sleeps on an event. A step that finds it asleep computes both halves, and
wakes it only when steps come faster than ``WAKE_GAP`` (it started less than that after the
previous step ended): a stream slower than that (a sensor at 1 kHz) would find the worker asleep
again at every step, and waking it would only burn its spin on the other core.

Used only with MKL (one BLAS thread for each of the two threads, ``_blas.set_local_threads``) when
MKL may use two threads (``threadpoolctl`` limits and ``MKL_NUM_THREADS`` count: limiting BLAS to
one thread turns the team off) and the weights are ``TEAM_MIN_BYTES`` or more; otherwise, or while
another thread holds the team, the step computes the two halves one after the other. Either way
the numbers are those of the whole step up to the order of the sums inside the BLAS products.

Measured here (float32, batch 1, ``benchmarks``' protocol), whole step -> halves: LSTM ``D = H =
256`` 35 -> 20 us, 512: 206 -> 170 us; GRU 256: 20 -> 17.6 us, 512: 154 -> 119 us. With another
process keeping one core busy, the LSTM at 256 took 40 us in halves against 34 us whole (the
worker is not always running: steps take their half back). The RNN's steps stay whole
(``_stream.prepare_step`` says why).

Shapes: ``N`` batch, ``D`` inputs (the LSTM's halves take ``[X_t H_{t-1}]``, ``D + H`` wide; the
GRU's take ``X_t`` and ``H_{t-1}`` apart), ``H`` units, ``H0`` units of the first half.
"""

from __future__ import annotations

import atexit
import os
import platform
import threading
import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from rnnlab.kernels import _blas
from rnnlab.kernels._math import JIT

TEAM_MIN_BYTES = 1 << 20  # weights of a step (LSTM, GRU) from which it runs as two halves on two cores
SPIN_PAUSES = 1 << 15  # pause instructions the idle worker spins before it sleeps (measured 0.3 ms here)
CLAIM_PAUSES = 1 << 8  # pause instructions a step waits for the worker to claim its task (2.5-5 us here)
WAKE_GAP = 300e-6  # seconds between steps below which a step wakes a sleeping worker (about its spin)

# the control words (int64), each on its own cache line
POSTED, CLAIMED, DONE, ASLEEP, DEAD, STOP = (8 * k for k in range(6))
CONTROL_WORDS = 48
# the task (int64): what the worker computes (cell, phase, sizes, activation codes) and the addresses
# of the arrays it reads and writes, from ARRAYS on, in the order of the cell's ``units`` function
KIND, PHASE, DTYPE, N_, D_, H_, H0_, F_, G_ = range(9)
ARRAYS = 9
TASK_WORDS = 24
LSTM, GRU_AFTER, GRU_BEFORE = range(3)  # KIND


# ---------------------------------------------------------------------------------------------
# atomics on int64 words, and the spin-wait hint
# ---------------------------------------------------------------------------------------------


def _word(context, builder, arrty, arr, idx):
    array = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, arrty, array, [idx])


@intrinsic
def atomic_load(typingctx, arr, idx):
    """``arr[idx]`` read with acquire ordering (an int64 array)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_word(context, builder, signature.args[0], *args), "acquire", 8)

    return types.int64(arr, idx), codegen


@intrinsic
def atomic_store(typingctx, arr, idx, value):
    """``arr[idx] = value`` with sequential consistency (an int64 array)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        arr_, idx_, value_ = args
        value_ = context.cast(builder, value_, signature.args[2], types.int64)
        builder.store_atomic(value_, _word(context, builder, signature.args[0], arr_, idx_), "seq_cst", 8)
        return context.get_dummy_value()

    return types.void(arr, idx, value), codegen


@intrinsic
def compare_swap(typingctx, arr, idx, expected, value):
    """Atomically: if ``arr[idx] == expected``, set it to ``value``. Returns whether it did."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        arr_, idx_, expected_, value_ = args
        expected_ = context.cast(builder, expected_, signature.args[2], types.int64)
        value_ = context.cast(builder, value_, signature.args[3], types.int64)
        ptr = _word(context, builder, signature.args[0], arr_, idx_)
        pair = builder.cmpxchg(ptr, expected_, value_, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)

    return types.boolean(arr, idx, expected, value), codegen


_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


@intrinsic
def pause(typingctx):
    """The x86 ``pause`` hint of a spin-wait loop (nothing on other machines)."""

    def codegen(context, builder, signature, args):
        if _X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def as_pointer(typingctx, address, dtype):
    """The integer ``address`` as a pointer to ``dtype`` (``np.float32`` or ``np.float64``), for
    ``numba.carray``: how the worker sees the arrays of a task."""
    if not (isinstance(address, types.Integer) and isinstance(dtype, types.NumberClass)):
        return None
    ptrty = types.CPointer(dtype.instance_type)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptrty))

    return ptrty(address, dtype), codegen


# ---------------------------------------------------------------------------------------------
# the step's side: post a task, compute the first half, join
# ---------------------------------------------------------------------------------------------


@njit(inline="always", **JIT)
def post(ctrl, task, kind, phase, x, H, H0, f_code, g_code, addresses):
    """Describe the worker's half of a step in ``task`` and publish it. Returns its sequence number.

    ``x (N, D)`` gives the batch, the input width and the dtype; the worker's half is units ``H0:H``;
    ``addresses`` (``a.ctypes.data`` of each array, a tuple) are the arrays of the cell's ``units``
    function, which ``_worker`` rebuilds in the same order.
    """
    task[KIND] = kind
    task[PHASE] = phase
    task[DTYPE] = 0 if x.itemsize == 4 else 1  # float32 or float64
    task[N_] = x.shape[0]
    task[D_] = x.shape[1]
    task[H_] = H
    task[H0_] = H0
    task[F_] = f_code
    task[G_] = g_code
    for k in range(len(addresses)):
        task[ARRAYS + k] = addresses[k]
    seq = atomic_load(ctrl, POSTED) + 1
    atomic_store(ctrl, POSTED, seq)  # seq_cst: the task's words are visible before it
    return seq


@njit(inline="always", **JIT)
def join(ctrl, seq, claim_pauses):
    """Wait for task ``seq``: 0 when the worker did it, 1 when this thread took it back (the worker
    did not claim it in time: compute it here), 2 when the worker died holding it."""
    pauses = 0
    claimed = False
    while True:
        if atomic_load(ctrl, DONE) == seq:
            return 0
        if not claimed:
            if atomic_load(ctrl, CLAIMED) == seq:
                claimed = True  # the worker has it: wait for it
            elif (pauses >= claim_pauses or atomic_load(ctrl, ASLEEP) != 0) and compare_swap(
                ctrl, CLAIMED, seq - 1, seq
            ):
                return 1
        if atomic_load(ctrl, DEAD) != 0:
            return 2
        pause()
        pauses += 1


# ---------------------------------------------------------------------------------------------
# the worker's side (its loop, ``_worker.serve``, runs the cells' halves)
# ---------------------------------------------------------------------------------------------


@njit(**JIT)
def _pending(ctrl):
    """Whether a task is posted and not yet claimed (read with sequential consistency after
    ``atomic_store(ctrl, ASLEEP, 1)``, so a step that posts meanwhile sees the worker asleep)."""
    return atomic_load(ctrl, POSTED) != atomic_load(ctrl, CLAIMED)


@njit(**JIT)
def _set(ctrl, index, value):
    atomic_store(ctrl, index, value)


class Team:
    """The worker thread and the words it shares with the steps (one team per process)."""

    def __init__(self) -> None:
        self.ctrl = np.zeros(CONTROL_WORDS, np.int64)
        self.task = np.zeros(TASK_WORDS, np.int64)
        self.lock = threading.Lock()  # one stepping thread at a time
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.last_step = 0.0  # time.perf_counter() at the end of the last step

    def start(self) -> None:
        from rnnlab.kernels import _worker  # the cells' halves (it imports the cell modules)

        # compiled (or loaded from the disk cache) here, before the thread starts: a worker compiling
        # on its own would hold the GIL for seconds while the steps wait for it between calls
        _worker.compile_serve()
        self.thread = threading.Thread(target=self._loop, args=(_worker.serve,), name="rnnlab-step", daemon=True)
        self.thread.start()

    def _loop(self, serve) -> None:
        _blas.set_local_threads(1)
        ctrl = self.ctrl
        try:
            while serve(ctrl, self.task, SPIN_PAUSES) == 1:
                _set(ctrl, ASLEEP, 1)
                if not _pending(ctrl):
                    self.wake.wait()
                self.wake.clear()
                _set(ctrl, ASLEEP, 0)
        except BaseException:
            _set(ctrl, DEAD, 1)
            raise

    def after_step(self, status: int, started: float) -> None:
        """After each step (``started``: its ``time.perf_counter()`` at the start): wake a sleeping
        worker for the next steps when this step had to take its half back (``join`` returned 1)
        and it started less than ``WAKE_GAP`` after the previous step ended. Raises when the worker
        died (``join`` returned 2)."""
        if status == 2:
            raise RuntimeError("rnnlab's streaming worker thread stopped with an error; see the traceback above")
        if status == 1 and self.ctrl[ASLEEP] and started - self.last_step < WAKE_GAP:
            self.wake.set()
        self.last_step = time.perf_counter()

    def stop(self) -> None:
        _set(self.ctrl, STOP, 1)
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=1.0)


_team: Team | None = None


def team(weight_bytes: int) -> Team | None:
    """The team for a step with ``weight_bytes`` of weights, started on first use, or None
    when the step should run on this thread alone (small weights, no MKL, MKL limited to one thread,
    one core, or another thread holds the team: the caller must then ``release`` nothing)."""
    global _team
    if weight_bytes < TEAM_MIN_BYTES or _blas.CPUS < 2 or _blas.blas_provider() != "mkl" or _blas.max_threads() < 2:
        return None
    if _team is None:
        _team = Team()
        _team.start()
    if not _team.lock.acquire(blocking=False):
        return None
    return _team


def _forget() -> None:
    """In a forked child the worker thread is gone: the next step starts a new team."""
    global _team
    _team = None


def _stop_at_exit() -> None:
    if _team is not None:
        _team.stop()


os.register_at_fork(after_in_child=_forget)
atexit.register(_stop_at_exit)
