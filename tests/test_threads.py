"""BLAS threads of the recurrent loops: small steps run on one thread, in every BLAS loaded."""

import os
import subprocess
import sys

import pytest

from rnnlab import backend

PROBE = """
from threadpoolctl import threadpool_info
from rnnlab import threads
with threads.for_recurrent_step(32, 64, 4):  # the controller is made before SciPy's BLAS is loaded
    pass
import rnnlab.kernels  # loads SciPy's BLAS, which the kernels call
with threads.for_recurrent_step(32, 64, 4):
    inside = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
print(len(inside), sorted(set(inside.values())))
"""


@pytest.mark.skipif(not backend.numba_available(), reason="numba is not installed")
def test_small_steps_limit_the_blas_the_kernels_call_too():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    libraries, counts = int(out[0]), out[1:]
    assert libraries >= 2, f"expected NumPy's and SciPy's BLAS to be loaded, saw {libraries}"
    assert counts == ["[1]"], f"every BLAS should run one thread for a small step, saw thread counts {counts}"


def test_large_steps_leave_blas_alone():
    from threadpoolctl import threadpool_info

    from rnnlab import threads

    before = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    with threads.for_recurrent_step(128, 512, 4):
        inside = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert inside == before


def test_on_one_thread_holds_the_given_libraries_and_restores_them():
    from threadpoolctl import threadpool_info, threadpool_limits

    from rnnlab import threads

    def counts():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    with threadpool_limits(2, user_api="blas"):
        before = counts()
        libraries = threads.other_blas(keep=set())
        assert sorted(lib.filepath for lib in libraries) == sorted(before)
        kept = sorted(before)[0]
        others = threads.other_blas(keep={os.path.realpath(kept)})
        assert kept not in [lib.filepath for lib in others] and len(others) == len(before) - 1
        with threads.on_one_thread(others):
            inside = counts()
        assert inside == {path: (n if path == kept else 1) for path, n in before.items()}
        assert counts() == before
