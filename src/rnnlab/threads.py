"""BLAS threads for the recurrent loops.

A recurrent step multiplies a small ``(N, H)`` state by ``W_R (H, G*H)``. For such products a second
BLAS thread costs more in hand-offs than it saves, and when the other cores are busy (another job,
a data loader) OpenBLAS's waiting threads slow the loop down many times over: measured here, an
epoch slice of the POS tagger (N = 32, H = 128) took 28.3 s with OpenBLAS's two threads on a loaded
2-core machine and 1.6 s with one. So the loops run with one BLAS thread when a step's product is
smaller than ``SMALL_STEP_WORK`` multiply-adds, and with BLAS's own setting above it. The compiled
kernels apply that rule themselves when they can set their BLAS's threads, and ``for_cell`` leaves
them alone: on MKL to the per-step products only (MKL has a per-thread setting), so that the big
products before and after the loop still use every core; on SciPy's OpenBLAS to the whole call;
and on both they run a batch with enough work as parts on the cores, each part on one BLAS thread
(``rnnlab.kernels._split``).

Uses ``threadpoolctl`` when it is installed; without it, nothing is limited.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator, Sequence
from typing import Any

SMALL_STEP_WORK = 1 << 23  # N * H * G*H multiply-adds of one step's recurrent product

_controller: Any = None
_looked = False


def refresh() -> None:
    """Forget the list of BLAS libraries, so that the next limit sees every one loaded by then.

    ``threadpoolctl`` lists the libraries loaded when its controller is made; the compiled kernels
    call MKL or SciPy's BLAS, a library loaded later (``rnnlab.kernels`` calls this on import).
    """
    global _controller, _looked
    _controller, _looked = None, False


def _get_controller() -> Any:
    global _controller, _looked
    if not _looked:
        _looked = True
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = None
        else:
            _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit every loaded BLAS to ``n`` threads inside the block (None: leave it alone)."""
    controller = _get_controller()
    if n is None or controller is None:
        yield
        return
    with controller.limit(limits=n, user_api="blas"):
        yield


def for_recurrent_step(batch: int, units: int, gates: int) -> contextlib.AbstractContextManager[None]:
    """The thread setting for a loop whose step multiplies ``(batch, units)`` by ``(units, gates*units)``."""
    return blas_threads(1 if batch * units * gates * units < SMALL_STEP_WORK else None)


def for_cell(cell: Any, batch: int, units: int, gates: int) -> contextlib.AbstractContextManager[None]:
    """The thread setting around a call of ``cell.forward``/``backward``: ``for_recurrent_step``, or
    nothing when the cell chooses its own threads (the compiled kernels on MKL, or on SciPy's
    OpenBLAS when ``threadpoolctl`` finds it: ``rnnlab.kernels._blas.call_threads``)."""
    manages = getattr(cell, "manages_threads", None)
    if manages is not None and manages():
        return contextlib.nullcontext()
    return for_recurrent_step(batch, units, gates)


def other_blas(keep: Collection[str]) -> list[Any]:
    """``threadpoolctl``'s controllers of the BLAS libraries loaded now except the files ``keep``
    (resolved paths): for ``on_one_thread``. Empty without ``threadpoolctl``."""
    controller = _get_controller()
    if controller is None:
        return []
    return [lib for lib in controller.lib_controllers
            if lib.user_api == "blas" and os.path.realpath(lib.filepath) not in keep]


@contextlib.contextmanager
def on_one_thread(libraries: Sequence[Any]) -> Iterator[None]:
    """The BLAS ``libraries`` (from ``other_blas``) on one thread inside the block, restored after."""
    previous = [lib.num_threads for lib in libraries]
    for lib, n in zip(libraries, previous, strict=True):
        if n > 1:
            lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libraries, previous, strict=True):
            if n > 1:
                lib.set_num_threads(n)
