"""``rnnlab.kernels._blas``: the kernels' matrix products, from MKL or SciPy's OpenBLAS.

Shapes: ``m``, ``n``, ``k`` of ``C (m, n) = op(A) (m, k) op(B) (k, n)``.
"""

import ctypes
import threading
from pathlib import Path

import numpy as np
import pytest
import threadpoolctl
from numba import njit

from rnnlab.kernels import _blas, _split

RTOL = {np.float64: 1e-13, np.float32: 2e-6}
REAL_MAX_THREADS = _blas.max_threads  # before the mkl-split fixture replaces it


@njit
def _gemm(a, b, c, beta, trans_a, trans_b):
    _blas.gemm(a, b, c, beta, trans_a, trans_b)


def _operand(rng, rows, cols, dtype, strided):
    """A ``(rows, cols)`` operand; ``strided``: a column block of a wider matrix (row stride > cols)."""
    wide = rng.standard_normal((rows, cols + 3)).astype(dtype)
    return wide[:, 1 : cols + 1] if strided else np.ascontiguousarray(wide[:, :cols])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("m", "n", "k"), [(5, 7, 3), (1, 8, 6), (6, 1, 4), (1, 1, 9), (33, 17, 65)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("strided", [False, True])
def test_gemm_matches_numpy(blas_provider, dtype, m, n, k, trans_a, trans_b, strided):
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a = _operand(rng, *((k, m) if trans_a else (m, k)), dtype, strided)
    b = _operand(rng, *((n, k) if trans_b else (k, n)), dtype, strided)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    for beta in (0.0, 1.0):
        c = c0.copy()
        _gemm(a, b, c, beta, trans_a, trans_b)
        want = expected + beta * c0
        err = np.max(np.abs(c - want)) / np.max(np.abs(want))
        assert err < RTOL[dtype], f"{blas_provider}: relative error {err:.2e} (beta={beta})"


@njit
def _step_dot(a, b, out):
    _blas.step_dot(a, b, out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("k", "n"), [(300, 260), (7, 5), (512, 1)])
@pytest.mark.parametrize("strided", [False, True])
def test_step_products_match_numpy(blas_provider, dtype, k, n, strided):
    """A streaming step's ``out (1, n) = a (1, k) @ b (k, n)``: SciPy's OpenBLAS through ``?gemv`` from
    ``GEMV_MIN_WORK`` multiply-adds, otherwise (and MKL) through ``?gemm``; what ``out`` held (NaN
    here) is ignored; two rows go to ``?gemm`` whatever their size."""
    rng = np.random.default_rng(k + n)
    b = _operand(rng, k, n, dtype, strided)  # strided: a column block of a wider matrix
    for rows in (1, 2):
        a = _operand(rng, rows, k, dtype, False)
        out = np.full((rows, n), np.nan, dtype)
        _step_dot(a, b, out)
        want = a.astype(np.float64) @ b.astype(np.float64)
        err = np.max(np.abs(out - want)) / np.max(np.abs(want))
        assert err < RTOL[dtype], f"{blas_provider}: relative error {err:.2e} ({rows} rows)"


def test_one_row_step_products_go_to_gemv_on_scipy_only():
    index = 11  # sgemv's entry of the table
    calls = []
    previous = _blas.blas_provider()
    try:
        _blas.set_blas("scipy")
        scipy_sgemv = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 11)(_blas._table[index])

        @ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 11)
        def spy(*args):
            calls.append(1)
            scipy_sgemv(*args)

        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((1, 512)).astype(np.float32), rng.standard_normal((512, 256)).astype(np.float32)
        assert 512 * 256 >= _blas.GEMV_MIN_WORK > 512 * 8
        small = rng.standard_normal((512, 8)).astype(np.float32)
        saved = _blas._table[index]
        _blas._table[index] = ctypes.cast(spy, ctypes.c_void_p).value
        try:
            c = np.zeros((1, 256), np.float32)
            _step_dot(a, b, c)
            _step_dot(a, small, np.zeros((1, 8), np.float32))  # below GEMV_MIN_WORK: ?gemm
            _step_dot(np.vstack([a, a]), b, np.zeros((2, 256), np.float32))  # two rows: ?gemm
            _gemm(a, b, np.zeros((1, 256), np.float32), 0.0, False, False)  # the training kernels' gemm: ?gemm
        finally:
            _blas._table[index] = saved
        assert calls == [1]
        np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-4)
        if _blas.mkl_library() is not None:
            _blas.set_blas("mkl")
            assert not _blas._table[index], "MKL's ?gemm takes one-row products itself"
    finally:
        _blas.set_blas(previous)


def test_gemm_with_empty_inner_dimension_scales_c(blas_provider):
    c = np.ones((3, 4))
    _gemm(np.empty((3, 0)), np.empty((0, 4)), c, 0.5, False, False)
    assert np.array_equal(c, np.full((3, 4), 0.5))


def test_auto_picks_mkl_exactly_when_it_is_installed():
    previous = _blas.blas_provider()
    try:
        assert _blas.set_blas("auto") == ("mkl" if _blas.mkl_library() is not None else "scipy")
        assert _blas.blas_provider() in _blas.PROVIDERS
    finally:
        _blas.set_blas(previous)


def test_unknown_provider_and_missing_mkl_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="unknown BLAS provider 'openblas'; expected one of mkl, scipy, auto"):
        _blas.set_blas("openblas")
    previous = _blas.blas_provider()
    with monkeypatch.context() as patch:
        patch.setattr(_blas, "mkl_library", lambda: None)
        with pytest.raises(ImportError, match="pip install mkl"):
            _blas.set_blas("mkl")
        assert _blas.blas_provider() == previous, "a refused switch must leave the provider as it was"
        assert _blas.set_blas("auto") == "scipy"


def test_compiled_code_calls_through_the_table_at_call_time():
    """Swapping the table's sgemm entry reroutes kernels that are already compiled."""
    calls = []
    scipy_sgemm = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)(_blas._scipy_addresses()[0])

    @ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)
    def spy(*args):
        calls.append(1)
        scipy_sgemm(*args)

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(12, dtype=np.float32).reshape(3, 4)
    c = np.zeros((2, 4), np.float32)
    _gemm(a, b, c, 0.0, False, False)  # compiled before the swap
    saved = _blas._table[0]
    _blas._table[0] = ctypes.cast(spy, ctypes.c_void_p).value
    try:
        c[:] = 0.0
        _gemm(a, b, c, 0.0, False, False)
    finally:
        _blas._table[0] = saved
    assert calls == [1]
    assert np.array_equal(c, a @ b)


def test_small_calls_run_on_one_thread_and_big_calls_on_all(blas_provider):
    max_threads = REAL_MAX_THREADS
    before = max_threads()
    if before < 2:
        pytest.skip("the kernels' BLAS runs on one thread here")
    # the LSTM at (T, N, D, H) = (100, 32, 32, 64): below SMALL_CALL_WORK (MKL) and SMALL_STEP_WORK (SciPy)
    with _blas.call_threads(100 * 32, 64, 256, 32 * 64 * 256):
        inside_small = max_threads()
    with _blas.call_threads(50 * 128, 512, 2048, 128 * 512 * 2048):  # (50, 128, 512, 512): above both
        inside_big = max_threads()
    assert max_threads() == before, "the setting must be restored"
    assert inside_small == 1
    assert inside_big == before
    if blas_provider == "scipy":  # a global setting: seen from any thread inside the block
        seen = []
        with _blas.call_threads(100 * 32, 64, 256, 32 * 64 * 256):
            thread = threading.Thread(target=lambda: seen.append(max_threads()))
            thread.start()
            thread.join()
        assert seen == [1]


def test_kernels_choose_their_own_threads_when_they_can_set_them(blas_provider, monkeypatch):
    from rnnlab import cells, kernels, threads

    assert kernels.lstm.manages_threads()  # MKL, or SciPy's OpenBLAS found by threadpoolctl
    assert not hasattr(cells.lstm, "manages_threads")
    # the reference cells get the layers' limit (one thread for small steps); the kernels set their own
    assert type(threads.for_cell(cells.lstm, 32, 64, 4)).__name__ != "nullcontext"
    assert type(threads.for_cell(kernels.lstm, 32, 64, 4)).__name__ == "nullcontext"
    if blas_provider == "scipy":  # a BLAS threadpoolctl cannot control: the layers limit it, no split
        monkeypatch.setattr(_blas, "_scipy_controller", [None])
        assert not kernels.lstm.manages_threads()
        assert type(threads.for_cell(kernels.lstm, 32, 64, 4)).__name__ != "nullcontext"
        assert REAL_MAX_THREADS() == 1
        assert _split.parts(100, 64, 128, 512) is None
        with _blas.call_threads(100 * 32, 64, 256, 32 * 64 * 256), _blas.one_thread_each():
            pass  # nothing to set, nothing raised


def test_the_scipy_controller_is_the_library_scipy_ships():
    controller = _blas._scipy_threads()
    if controller is None:
        pytest.skip("threadpoolctl does not see SciPy's BLAS here")
    import scipy

    path = Path(controller.filepath).resolve()
    root = Path(scipy.__file__).resolve().parent
    assert controller.user_api == "blas"
    assert path.is_relative_to(root) or path.parent == root.parent / "scipy.libs" or len(
        [lib for lib in threadpoolctl.ThreadpoolController().lib_controllers if lib.user_api == "blas"]) == 1


@njit
def _times_packed(a, W, trans, out):
    """``out = a @ op(W)`` through ``operand``/``times``; returns how many elements were packed."""
    op = _blas.operand(W, trans, a.shape[0])
    _blas.times(a, op, W, trans, out)
    return op[0].size


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("m", "n", "k"), [(5, 7, 3), (1, 8, 6), (6, 1, 4), (16, 96, 32), (3, 0, 4)])
@pytest.mark.parametrize("trans", [False, True])
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("threshold", [0, 1 << 62], ids=["pack", "plain"])
def test_packed_products_match_numpy(blas_provider, dtype, m, n, k, trans, strided, threshold):
    """Packed (MKL, above the threshold) or not, ``times`` gives ``a @ op(W)``, ``W`` possibly a
    column block of a wider matrix as the GRU's blocks of ``W_R`` are."""
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a = rng.standard_normal((m, k)).astype(dtype)
    W = _operand(rng, *((n, k) if trans else (k, n)), dtype, strided)
    expected = a.astype(np.float64) @ (W.T if trans else W).astype(np.float64)
    previous = _blas.set_pack_min_work(threshold)
    try:
        out = np.full((m, n), np.nan, dtype)
        packed = _times_packed(a, W, trans, out)
    finally:
        _blas.set_pack_min_work(previous)
    assert (packed > 0) == (blas_provider == "mkl" and threshold == 0 and m * n * k > 0)
    if out.size:
        err = np.max(np.abs(out - expected)) / np.max(np.abs(expected))
        assert err < RTOL[dtype], f"{blas_provider}: relative error {err:.2e}"


@njit
def _packed_start(W, m):
    return _blas.pack(W, False, m).ctypes.data


def test_packed_weights_start_on_a_cache_line():
    if _blas.mkl_library() is None:
        pytest.skip("MKL is not installed")
    previous_provider, previous = _blas.blas_provider(), _blas.set_pack_min_work(0)
    try:
        _blas.set_blas("mkl")
        starts = [_packed_start(np.ones((k, 3 * k), np.float32), 4) for k in (3, 5, 17, 64)]
    finally:
        _blas.set_blas(previous_provider)
        _blas.set_pack_min_work(previous)
    assert all(s % _blas.PACK_ALIGN == 0 for s in starts), starts


@njit
def _times_other_rows(a, W, m):
    op = _blas.operand(W, False, m)
    out = np.empty((a.shape[0], W.shape[1]), a.dtype)
    _blas.times(a, op, W, False, out)
    return out


def test_a_packed_operand_refuses_another_number_of_rows(blas_provider):
    """MKL's packed form is made for products of ``m`` rows: another count is an error, not a guess
    (without packing, any count works)."""
    a, W = np.ones((3, 4)), np.ones((4, 5))
    previous = _blas.set_pack_min_work(0)
    try:
        if blas_provider == "mkl":
            with pytest.raises(ValueError, match="another number of rows"):
                _times_other_rows(a, W, 2)
        else:
            assert np.array_equal(_times_other_rows(a, W, 2), a @ W)
    finally:
        _blas.set_pack_min_work(previous)


@njit
def _stream_step_threads(N, K, GH):
    """``begin_stream_step`` then ``end_steps``: (what it returned, the setting in effect between them)."""
    previous = _blas.begin_stream_step(N, K, GH)
    inside = _blas._set_threads_local(0)  # the local setting in effect, put back at once
    _blas._set_threads_local(inside)
    _blas.end_steps(previous)
    return previous, inside


def test_streaming_step_takes_one_blas_thread_only_when_small(blas_provider):
    """A batch-1 step's products below ``STREAM_ONE_THREAD_WORK`` multiply-adds run on one MKL thread
    (MKL would fork its OpenMP team for microseconds of work); bigger ones keep the thread setting,
    and the setting is restored afterwards. SciPy's OpenBLAS has no per-thread setting."""
    small, big = (1, 96, 256), (1, 1024, 512)  # LSTM (D, H) = (32, 64); RNN (512, 512)
    assert small[0] * small[1] * small[2] < _blas.STREAM_ONE_THREAD_WORK <= big[0] * big[1] * big[2]
    before = _blas.set_local_threads(0)
    try:
        if blas_provider == "mkl":
            previous, inside = _stream_step_threads(*small)
            assert inside == 1 and previous == 0
            previous, inside = _stream_step_threads(*big)
            assert previous == -1 and inside == 0
            assert _blas.set_local_threads(0) == 0  # restored
        else:
            assert _stream_step_threads(*small) == (-1, -1)
    finally:
        if before >= 0:
            _blas.set_local_threads(before)
