"""Compiled (Numba) versions of the three cells: same contract and numbers as ``rnnlab.cells``.

Each module (``rnn``, ``lstm``, ``gru``) mirrors its reference in ``rnnlab.cells`` (the readable
one, checked by finite differences) and adds ``step`` for streaming inference::

    forward(x, state, params, *, mask, rdrop, activation, recurrent_activation[, reset_after])
        -> (out, final_state, cache)
    backward(dout, dstate, cache, *, truncate) -> (dx, dinitial_state, grads)
    prepare(params, dtype) -> StepWeights
    step(x_t, state, params_or_prepared, *, activation, recurrent_activation[, reset_after])
        -> new_state

The cache is the kernels' own (not the reference's): pass it only to the same module's backward.

On glibc, importing this package keeps freed work arrays in the process for the next call
(``_malloc``; ``RNNLAB_SYSTEM_MALLOC=1`` to opt out). Every matrix product goes through
``_blas.gemm``: Intel's MKL when it is installed (the ``mkl`` extra), else SciPy's OpenBLAS;
``_blas.set_blas`` switches, ``_blas.blas_provider`` tells. Batches with enough work run as parts on
the cores (``_split``; with SciPy's OpenBLAS when ``threadpoolctl`` finds it), and with MKL a
prepared LSTM or GRU streaming step with a megabyte of weights or more runs in two halves of units,
one per core (``_team``).

Importing this package needs ``numba`` (the ``fast`` extra). Kernels compile on first use, once per
dtype, and are cached on disk next to the sources (``__pycache__``); ``rnnlab.backend.warmup``
compiles them all up front. Numba's cache tracks each file's own source only: after editing
``_math.py``, ``_blas.py``, ``_common.py``, ``_stream.py`` or ``_team.py`` during development, delete
``kernels/__pycache__``.

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units. Time-major, ``(T, N, .)``.
"""

import importlib.util

for _name in ("numba", "scipy"):  # SciPy's BLAS: the kernels' products without MKL
    if importlib.util.find_spec(_name) is None:
        raise ImportError(
            f"rnnlab.kernels needs {_name}, which is not installed: `pip install 'rnnlab[fast]' scipy`, "
            "or use the NumPy reference (rnnlab.backend.set_backend('numpy'))"
        )

import scipy.linalg.cython_blas  # noqa: E402, F401  (loads SciPy's BLAS, so that threads sees it)

from rnnlab import threads  # noqa: E402
from rnnlab.kernels._malloc import keep_freed_memory  # noqa: E402

MALLOC_TUNED = keep_freed_memory()  # see _malloc: freed work arrays stay for the next call
from rnnlab.kernels import gru, lstm, rnn  # noqa: E402

threads.refresh()
from rnnlab.kernels._stream import StepWeights  # noqa: E402

KERNELS = {"rnn": rnn, "lstm": lstm, "gru": gru}

__all__ = ["KERNELS", "StepWeights", "gru", "lstm", "rnn"]
