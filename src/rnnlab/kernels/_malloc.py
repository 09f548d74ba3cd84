"""Keep freed buffers in the process: glibc ``malloc`` settings for the kernels' per-call arrays.

Every forward and backward allocates its work arrays (gate values, states, gradients: from a few
hundred kB to tens of MB) and frees them when the step is done. With glibc's defaults, blocks of
this size are ``mmap``ed and handed back to the system at every ``free``, and the next call pays a
page fault and a page of zeros for every 4 kB it touches again. Measured here (MKL, float32,
forward + backward back to back): the LSTM at (T, N, D, H) = (100, 32, 32, 64) took 8.5 ms whole and
6.2 ms split over the two cores with the defaults, 5.3 and 3.6 ms with the settings below; at
(100, 64, 128, 128) 34.8 / 25.1 ms against 31.6 / 23.5 ms.

So, on import of ``rnnlab.kernels``, blocks up to ``MMAP_THRESHOLD`` come from the heap and up to
``TRIM_THRESHOLD`` of freed heap stays with the process for the next call (what a caching
allocator does). The cost is memory held after a peak. Set the environment variable
``RNNLAB_SYSTEM_MALLOC=1`` to leave glibc's settings alone. Elsewhere (macOS, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's own upper bound for its adaptive threshold
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Apply the settings; True when glibc took them."""
    if os.environ.get("RNNLAB_SYSTEM_MALLOC", "") not in ("", "0"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
