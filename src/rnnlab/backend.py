"""Which implementation runs the recurrent cells: the NumPy reference or the compiled kernels.

==========  ====================================================================================
backend     cells
==========  ====================================================================================
``numpy``   ``rnnlab.cells``: the readable reference, verified by finite differences
``numba``   ``rnnlab.kernels``: the same contract and the same numbers, compiled with Numba
``auto``    ``numba`` when it can be imported (with SciPy, whose BLAS it calls), else ``numpy``
==========  ====================================================================================

``auto`` is the default. The choice is made here and only here, by ``set_backend`` or the
``use_backend`` context manager; no environment variable changes it. ``get_cell(kind)`` returns the
module (``forward``/``backward``, plus ``step`` for ``numba``) that the layers should call.

The kernels compile on first use and are cached on disk; ``warmup`` compiles (or loads) them (all,
or the cells a model uses) up front and returns the seconds it took, so that compilation is not
mistaken for run time. ``announce_compilation`` says so on stderr while a block compiles some
(the command line wraps every command that does not prepare them itself), so that a first run's
compiling (10 s to a minute or two) is not mistaken for a hang.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TextIO

import numpy as np

__all__ = ["BACKENDS", "KINDS", "announce_compilation", "get_backend", "get_cell", "numba_available", "set_backend",
           "use_backend", "warmup"]

BACKENDS = ("numpy", "numba", "auto")
KINDS = ("rnn", "lstm", "gru")

_selected = "auto"  # what set_backend was given; "auto" is resolved at each lookup


_found: dict[str, bool] = {}  # package -> installed; looked up once (find_spec costs ~30 us, asked per layer call)


def _installed(name: str) -> bool:
    if name not in _found:
        _found[name] = importlib.util.find_spec(name) is not None
    return _found[name]


def numba_available() -> bool:
    """True when the compiled kernels can be used: ``numba`` and ``scipy`` are installed."""
    return all(_installed(name) for name in ("numba", "scipy"))


def _resolve(name: str) -> str:
    if name == "auto":
        return "numba" if numba_available() else "numpy"
    return name


def set_backend(name: str) -> None:
    """Select the backend for every later ``get_cell``: ``"numpy"``, ``"numba"`` or ``"auto"``.

    Raises ``ValueError`` for an unknown name and ``ImportError`` for ``"numba"`` without Numba.
    """
    global _selected
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    if name == "numba" and not numba_available():
        missing = [m for m in ("numba", "scipy") if not _installed(m)]
        raise ImportError(
            f"backend 'numba' needs {' and '.join(missing)}, which is not installed; install the compiled "
            "kernels with `pip install 'rnnlab[fast]' scipy`, or use set_backend('numpy')"
        )
    _selected = name


def get_backend() -> str:
    """The backend in effect, ``"numpy"`` or ``"numba"`` (``"auto"`` already resolved)."""
    return _resolve(_selected)


@contextmanager
def use_backend(name: str) -> Iterator[str]:
    """``with use_backend("numpy"): ...`` selects a backend for the block and restores the previous one."""
    global _selected
    previous = _selected
    set_backend(name)
    try:
        yield get_backend()
    finally:
        _selected = previous


def get_cell(kind: str) -> ModuleType:
    """The module of cell ``kind`` (``"rnn"``, ``"lstm"``, ``"gru"``) under the current backend."""
    if kind not in KINDS:
        raise ValueError(f"unknown cell kind {kind!r}; expected one of {', '.join(KINDS)}")
    package = "rnnlab.kernels" if get_backend() == "numba" else "rnnlab.cells"
    return importlib.import_module(f"{package}.{kind}")


def warmup(dtype: np.dtype | type | str = np.float32, kinds: Sequence[str] = KINDS, *,
           streaming: bool = True) -> float:
    """Compile (or load from the disk cache) the kernels of the current backend for ``dtype``.

    Runs the forward and backward of each cell in ``kinds`` (default: all three) once on a tiny
    problem, which compiles every option at once (options are runtime flags, not separate
    compilations), and Adam's compiled update. With ``streaming`` (the default) also each cell's
    ``step``, whole and in the two halves of units that big streaming weights take, with the loop of
    the worker thread (``kernels._team``). Returns the seconds it took: 0.0 for the ``numpy``
    backend, which has nothing to compile.

    Measured cold here (float32, 2026-11-23): everything 117-119 s; with ``streaming=False``, what
    ``rnnlab train`` compiles, the RNN 15 s, the LSTM 17-19 s, the GRU (both variants) 40 s.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"warmup dtype must be float32 or float64, got {dtype}")
    if isinstance(kinds, str) or not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"warmup kinds must be a non-empty sequence of {', '.join(KINDS)}, got {kinds!r}")
    if get_backend() != "numba":
        return 0.0
    from rnnlab.kernels import _worker
    from rnnlab.kernels._stream import prepare_step
    from rnnlab.kernels.optim import adam_update

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    T, N, D, H = 2, 2, 2, 2
    x = rng.standard_normal((T, N, D)).astype(dtype)
    variants = {"rnn": [{}], "lstm": [{}], "gru": [{"reset_after": False}, {"reset_after": True}]}
    for kind in dict.fromkeys(kinds):
        cell = get_cell(kind)
        G = cell.GATES
        params = {
            k: rng.standard_normal(s).astype(dtype)
            for k, s in (("W", (D, G * H)), ("W_R", (H, G * H)), ("b", (G * H,)), ("b_R", (G * H,)))
        }
        state = tuple(np.zeros((N, H), dtype) for _ in cell.STATES)
        for extra in variants[kind]:
            out, final, cache = cell.forward(x, state, params, **extra)
            cell.backward(out, final, cache)
            if streaming:
                cell.step(x[0], state, cell.prepare(params, dtype), **extra)
                halves = prepare_step(params, dtype, G, pack=True, min_bytes=0)  # run here: weights this small
                cell.step(x[0], state, halves, **extra)  # never go to the worker
    p, g, m, v = (rng.standard_normal(4).astype(dtype) for _ in range(4))
    adam_update(p, g, np.zeros_like(m), np.abs(v), beta_1=0.9, beta_2=0.999, epsilon=1e-7, step_size=1e-3,
                bias_correction2=0.5)
    if streaming:
        _worker.compile_serve()
    return time.perf_counter() - start


@contextmanager
def announce_compilation(stream: TextIO | None = None) -> Iterator[None]:
    """Inside the block, a kernel that compiles (a disk-cache miss: the first use on this machine or
    after an upgrade; loading from the cache is silent) is announced once on ``stream`` (default
    ``sys.stderr``), and the seconds spent compiling are reported when the block ends.

    Uses Numba's ``numba:compile`` events (fired only on a cache miss); a no-op without Numba.
    """
    if not _installed("numba"):
        yield
        return
    from numba.core import event

    class _Announcer(event.Listener):
        def __init__(self) -> None:
            self.depth, self.seconds, self.began, self.announced = 0, 0.0, 0.0, False

        def on_start(self, ev: Any) -> None:
            if self.depth == 0:
                if not self.announced:
                    self.announced = True
                    print("rnnlab: compiling the recurrent kernels for this machine (first use only: 10 s to a "
                          "minute or two; cached on disk afterwards) ...", file=stream or sys.stderr, flush=True)
                self.began = time.perf_counter()
            self.depth += 1

        def on_end(self, ev: Any) -> None:
            self.depth -= 1
            if self.depth == 0:
                self.seconds += time.perf_counter() - self.began

    listener = _Announcer()
    try:
        with event.install_listener("numba:compile", listener):
            yield
    finally:
        if listener.announced:
            print(f"rnnlab: kernels compiled in {listener.seconds:.1f} s", file=stream or sys.stderr, flush=True)
