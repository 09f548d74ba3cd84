"""Data parallelism over the batch: the sequences of a batch split into parts, one thread each.

The sequences of a batch never meet: row ``n`` of ``H_t`` depends on row ``n`` of ``H_{t-1}`` and
``X_t`` only. So a cell's forward and backward can run on the parts of a batch independently, with
no synchronisation inside the time loop, and the results joined afterwards: outputs, states and
``dx`` are the parts' rows side by side, the weight gradients the sum of the parts'. Each part is
the unchanged compiled kernel on a C-contiguous copy of its rows (the backward reads its rows of
``d_out`` in place, from ``row0``), on its own thread (the kernels release the GIL), with one BLAS
thread each, so the per-step products and the gate arithmetic, which are sequential within a
sequence, use every core.

Measured here (2 cores, MKL, float32, forward + backward, calls back to back as in a training loop),
against the whole batch with two BLAS threads for the big products: LSTM (T, N, D, H) =
(100, 32, 32, 64) 7.3 -> 3.6 ms, (100, 64, 128, 128) 32.0 -> 23.8 ms, (1000, 16, 1, 128) 64.0 -> 41.5 ms;
GRU (100, 32, 32, 64) 4.8 -> 3.4 ms; RNN (100, 64, 128, 128) 10.7 -> 7.0 ms. A split call needs
both cores awake: after 10 ms or more of idle it ran up to twice as slow for a few calls.

Used when the kernels can set their BLAS's threads (``_blas.manages_threads``): MKL, whose setting is
per thread, or SciPy's OpenBLAS found by ``threadpoolctl``, whose setting is global and is held at
one thread while the parts run (``_blas.one_thread_each``; another thread of the program calling
SciPy's BLAS meanwhile gets one thread too). As many parts as the BLAS may use threads
(``_blas.max_threads``: ``threadpoolctl`` limits and ``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS``
count), so a caller who limits BLAS to one thread gets one thread. Results equal the unsplit ones
up to the order of the sums of the weight gradients.

With SciPy's OpenBLAS (``rnnlab bench --blas scipy``, 2026-11-23 11:18 UTC, against the same
command before the split ran there, 11:11 UTC; ms): LSTM (100, 32, 32, 64) 5.89 -> 3.75,
(100, 64, 128, 128) 53.4 -> 27.9, (1000, 16, 1, 128) 112.9 -> 45.1; GRU 4.56 -> 3.01, 43.9 -> 27.8,
66.2 -> 40.9; RNN (100, 64, 128, 128) 13.2 -> 10.7, (1000, 16, 1, 128) 18.5 -> 11.3. At (100, 64,
256, 256) and (50, 128, 512, 512), where the whole call had OpenBLAS's two threads, two alternating
rounds were within 5 % either way, except the RNN at (100, 64, 256, 256): 42.8-43.7 -> 26.1-27.3.

Shapes: ``T`` time, ``N`` batch, ``H`` units, ``G`` gate blocks; a part is a slice of the ``N`` rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from rnnlab.kernels import _blas

# multiply-adds of a part's recurrent products over all steps (T n H G H), at least. Below it the
# hand-off costs more than half the work saves: measured with the speed benchmark's protocol (calls
# warmed up, as in a training loop), the RNN at (100, 32, 32, 64) (6.6e6 per part) took 1.63 ms
# whole and 1.98 ms split, while the GRU there (2.0e7) took 5.0 and 3.4 ms, the LSTM (2.6e7) 5.4 and
# 3.7 ms.
MIN_PART_WORK = 1 << 24
MIN_PART_ROWS = 2  # sequences per part, at least

_executor: ThreadPoolExecutor | None = None
_workers = 0


def parts(T: int, N: int, H: int, GH: int) -> list[slice] | None:
    """The row slices to run in parallel, or None to run the batch whole.

    As many parts as MKL may use threads (and cores exist), fewer when a part would hold fewer than
    ``MIN_PART_ROWS`` sequences or less than ``MIN_PART_WORK`` of recurrent products, where the
    hand-off to a thread would eat the gain. (Inside a step, with cold caches, ``os.cpu_count`` and
    ``np.linspace`` here took 32 and 53 us of 100 us; 10 us without them, LSTM (100, 32, 32, 64).)
    """
    if not _blas.manages_threads():  # SciPy's BLAS whose threads the kernels cannot set
        return None
    k = min(_blas.max_threads(), _blas.CPUS, N // MIN_PART_ROWS)
    while k > 1 and T * (N // k) * H * GH < MIN_PART_WORK:
        k -= 1
    if k < 2:
        return None
    return [slice(N * i // k, N * (i + 1) // k) for i in range(k)]


def rows(a: np.ndarray, part: slice) -> np.ndarray:
    """Rows ``part`` of an ``(N, ...)`` array, C-contiguous."""
    return np.ascontiguousarray(a[part])


def steps(a: np.ndarray, part: slice) -> np.ndarray:
    """Rows ``part`` of every step of a ``(T, N, ...)`` array, C-contiguous (an empty array stays as is)."""
    return a if a.size == 0 else np.ascontiguousarray(a[:, part])


def options(opts: tuple[np.ndarray, bool, np.ndarray, bool], part: slice) -> tuple[np.ndarray, bool, np.ndarray, bool]:
    """The kernels' ``(mask (T, N), has_mask, rdrop (N, H), has_rdrop)`` for the rows ``part``."""
    mask, has_mask, rdrop, has_rdrop = opts
    return (steps(mask, part) if has_mask else mask, has_mask, rows(rdrop, part) if has_rdrop else rdrop, has_rdrop)


def join_rows(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``(n_i, ...)`` parts stacked: ``(N, ...)``."""
    return np.concatenate(arrays, axis=0)


def total(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The sum of the parts' weight gradients."""
    out = arrays[0].copy()
    for a in arrays[1:]:
        out += a
    return out


def run(fn: Callable[..., Any], arguments: Sequence[tuple[Any, ...]]) -> list[Any]:
    """``[fn(*args) for args in arguments]``, the first on this thread, the others on worker threads,
    each with one BLAS thread. An exception in any part is raised here, after every part ended."""
    pool = _pool(len(arguments) - 1)
    with _blas.one_thread_each():
        futures = [pool.submit(fn, *args) for args in arguments[1:]]
        try:
            first = fn(*arguments[0])
        finally:
            others = [f.exception() for f in futures]  # wait for every part
        for error in others:
            if error is not None:
                raise error
        return [first, *(f.result() for f in futures)]


def _pool(workers: int) -> ThreadPoolExecutor:
    global _executor, _workers
    if _executor is None or _workers < workers:
        if _executor is not None:
            _executor.shutdown(wait=True)
        _executor = ThreadPoolExecutor(workers, thread_name_prefix="rnnlab-part", initializer=_one_blas_thread)
        _workers = workers
    return _executor


def _forget_pool() -> None:
    """In a forked child the pool's threads are gone: start a new pool there (instead of waiting forever)."""
    global _executor, _workers
    _executor, _workers = None, 0


os.register_at_fork(after_in_child=_forget_pool)


def _one_blas_thread() -> None:
    _blas.set_local_threads(1)


def forward(whole: Callable[..., Any], x: np.ndarray, states: tuple[np.ndarray, ...],
            opts: tuple[np.ndarray, bool, np.ndarray, bool], GH: int, *rest: Any) -> tuple[np.ndarray, tuple, dict]:
    """A cell's ``whole(x, states, options, *rest) -> (out, final_states, inner)`` on ``x (T, N, D)``:
    on the parts of the batch in parallel when ``parts`` says so, else whole (with ``call_threads``).
    ``GH`` is the width of ``W_R``. The inner cache of a split run is ``{"parts", "inners"}``.

    Each part copies its own rows of ``x`` and writes its rows of ``out (T, N, H)`` on its own
    thread (``backward`` writes its rows of ``dx`` likewise, and reads its rows of ``d_out`` in
    place). Done on this thread before and after the parts, those copies and joins took 1.5 ms of a
    26.4 ms LSTM step at (100, 64, 128, 128);
    in the parts, the step measured 24.6 and 25.7 ms against 26.5 and 27.3 ms before (and 3.7
    against 3.9 ms at (100, 32, 32, 64)).
    """
    T, N, D = x.shape
    H = states[0].shape[1]
    parts_ = parts(T, N, H, GH)
    if not parts_:
        with _blas.call_threads(T * N, max(D, H), GH, N * H * GH):
            return whole(x, states, opts, *rest)
    out = np.empty((T, N, H), x.dtype)
    results = run(_forward_part, [(whole, x, states, opts, p, out, rest) for p in parts_])
    final = tuple(join_rows([r[0][k] for r in results]) for k in range(len(states)))
    return out, final, {"parts": parts_, "inners": [r[1] for r in results]}


def _forward_part(whole: Callable[..., Any], x: np.ndarray, states: tuple[np.ndarray, ...],
                  opts: tuple[np.ndarray, bool, np.ndarray, bool], part: slice, out: np.ndarray,
                  rest: tuple[Any, ...]) -> tuple[tuple, dict]:
    """One part of ``forward``, on its thread: its rows of ``out`` written, ``(final_states, inner)`` returned."""
    part_out, final, inner = whole(steps(x, part), tuple(rows(s, part) for s in states), options(opts, part), *rest)
    out[:, part] = part_out
    return final, inner


def backward(whole: Callable[..., Any], inner: dict, GH: int, d_out: np.ndarray, has_dout: bool,
             dstates: tuple[np.ndarray, ...], *rest: Any) -> tuple[np.ndarray, tuple[np.ndarray, ...], tuple]:
    """A cell's ``whole(inner, d_out, has_dout, row0, dstates, *rest) -> (dx, dstates_0, grads)`` the way
    ``forward`` ran: on its parts (each part reading its rows of ``d_out`` from ``row0`` and writing its rows of
    ``dx (T, N, D)`` on its own thread; the initial-state gradients joined, the weight gradients
    summed), or whole."""
    if "parts" not in inner:
        T, N, D = inner["x"].shape
        H = dstates[0].shape[1]
        with _blas.call_threads(T * N, max(D, H), GH, N * H * GH):
            return whole(inner, d_out, has_dout, 0, dstates, *rest)
    T, _, D = inner["inners"][0]["x"].shape
    N = inner["parts"][-1].stop
    dx = np.empty((T, N, D), inner["inners"][0]["x"].dtype)
    arguments = [(whole, part_inner, d_out, has_dout, dstates, p, dx, rest)
                 for p, part_inner in zip(inner["parts"], inner["inners"], strict=True)]
    results = run(_backward_part, arguments)
    d0 = tuple(join_rows([r[0][k] for r in results]) for k in range(len(dstates)))
    grads = tuple(total([r[1][k] for r in results]) for k in range(len(results[0][1])))
    return dx, d0, grads


def _backward_part(whole: Callable[..., Any], part_inner: dict, d_out: np.ndarray, has_dout: bool,
                   dstates: tuple[np.ndarray, ...], part: slice, dx: np.ndarray,
                   rest: tuple[Any, ...]) -> tuple[tuple, tuple]:
    """One part of ``backward``, on its thread: its rows of ``dx`` written, ``(dstates_0, grads)`` returned.
    The kernel reads its rows of ``d_out`` in place (from row ``part.start``): a copy of them took
    1-4 % of the step (4 MB per part at (T, N, H) = (1000, 16, 128))."""
    dstates_part = tuple(rows(d, part) for d in dstates)
    part_dx, d0, grads = whole(part_inner, d_out, has_dout, part.start, dstates_part, *rest)
    dx[:, part] = part_dx
    return d0, grads
