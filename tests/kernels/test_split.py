"""``rnnlab.kernels._split``: a batch run as parts on threads gives the numbers of the whole batch."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from rnnlab.kernels import _blas, _split
from tests.helpers import run_forked

from ._parity import VARIANTS, Problem

PROVIDERS = ["scipy"] + (["mkl"] if _blas.mkl_library() is not None else [])

REAL_MAX_THREADS = _blas.max_threads  # before any fixture replaces it
SIZE = dict(T=30, N=9, D=6, H=16)  # 9 rows: parts of 4 and 5; enough work to split on 2 threads


def _run(problem: Problem, truncate=None):
    module = __import__(f"rnnlab.kernels.{problem.kind}", fromlist=["forward"])
    out, final, cache = module.forward(problem.x, problem.state, problem.params, **problem.options())
    dx, dinit, grads = module.backward(problem.dout_array, problem.dstate_arrays, cache, truncate=truncate)
    return cache, {"out": out, "dx": dx, **{f"final{k}": s for k, s in enumerate(final)},
                   **{f"dinit{k}": s for k, s in enumerate(dinit)}, **{f"d{k}": g for k, g in grads.items()}}


@pytest.fixture(params=PROVIDERS)
def two_cores(request, monkeypatch):
    """Two cores, a BLAS with two threads and the split forced; yields the provider."""
    monkeypatch.setattr(_blas, "max_threads", lambda: 2)
    monkeypatch.setattr(_blas, "CPUS", 2)
    monkeypatch.setattr(_split, "MIN_PART_WORK", 1)
    previous = _blas.blas_provider()
    _blas.set_blas(request.param)
    yield request.param
    _blas.set_blas(previous)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("options", [{}, {"mask": "end", "rdrop": True}], ids=["plain", "mask_rdrop"])
def test_parts_give_the_numbers_of_the_whole_batch(two_cores, monkeypatch, variant, options):
    problem = Problem(variant, **SIZE, **options)
    cache, split = _run(problem, truncate=7)
    assert [(s.start, s.stop) for s in cache["inner"]["parts"]] == [(0, 4), (4, 9)]
    monkeypatch.setattr(_split, "MIN_PART_WORK", 1 << 60)  # now the same problem runs whole
    cache, whole = _run(problem, truncate=7)
    assert "parts" not in cache["inner"]
    for name, value in whole.items():
        np.testing.assert_allclose(split[name], value, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_split_when_blas_is_limited_to_one_thread(monkeypatch, provider):
    """A caller who limits BLAS to one thread (threadpoolctl, MKL_NUM_THREADS) gets one thread."""
    monkeypatch.setattr(_blas, "max_threads", REAL_MAX_THREADS)
    previous = _blas.blas_provider()
    _blas.set_blas(provider)
    try:
        with threadpool_limits(1):
            assert _split.parts(100, 64, 128, 512) is None
        if _blas.CPUS >= 2 and REAL_MAX_THREADS() >= 2:
            assert _split.parts(100, 64, 128, 512) == [slice(0, 32), slice(32, 64)]
    finally:
        _blas.set_blas(previous)


def test_parts_need_rows_and_work(two_cores, monkeypatch):
    assert _split.parts(100, 3, 64, 256) is None  # fewer than 2 rows per part
    assert _split.parts(100, 4, 64, 256) == [slice(0, 2), slice(2, 4)]
    monkeypatch.setattr(_split, "MIN_PART_WORK", 1 << 18)
    assert _split.parts(10, 4, 8, 32) is None  # 2 rows x 10 steps x 8 x 32 multiply-adds: too little


def test_an_error_in_a_worker_part_is_raised_after_every_part_ended(two_cores):
    ended = []

    def work(k):
        ended.append(k)
        if k == 1:
            raise ValueError("part 1 failed")
        return k

    with pytest.raises(ValueError, match="part 1 failed"):
        _split.run(work, [(0,), (1,)])
    assert sorted(ended) == [0, 1]
    assert _split.run(work, [(0,), (2,)]) == [0, 2]


def _split_in_child(queue):
    queue.put(_split.run(lambda k: k * 10, [(1,), (2,)]))


def test_a_forked_child_runs_parts_on_a_pool_of_its_own(two_cores):
    """The parent's pool threads do not survive a fork; the child must not wait for them."""
    assert _split.run(lambda k: k, [(1,), (2,)]) == [1, 2]  # the parent's pool exists now
    hung, exitcode, result = run_forked(_split_in_child, timeout=30)
    assert not hung and exitcode == 0, "the child hung or failed"
    assert result == [10, 20]
