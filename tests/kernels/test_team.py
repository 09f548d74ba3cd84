"""``rnnlab.kernels._team``: a prepared streaming step split in two halves of units, the second on a
worker thread, gives the numbers of the whole step, and never waits on a worker that is not there."""

import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from rnnlab.kernels import _blas, _stream, _team, _worker, gru, lstm, rnn
from tests.helpers import run_forked

from ._parity import Problem, step_through

REAL_MAX_THREADS = _blas.max_threads  # before any fixture replaces it
REAL_MIN_BYTES = _team.TEAM_MIN_BYTES
CELLS = {"lstm": lstm, "gru": gru, "gru_after": gru}  # Problem's variants
ACTIVATIONS = {
    "lstm": {"activation": "tanh", "recurrent_activation": "hard_sigmoid"},
    "gru": {"activation": "tanh", "recurrent_activation": "hard_sigmoid"},
    "gru_after": {"activation": "tanh", "recurrent_activation": "sigmoid"},
}


@pytest.fixture
def halves(monkeypatch):
    """Every prepared step in halves, whatever the size of its weights."""
    monkeypatch.setattr(_team, "TEAM_MIN_BYTES", 0)


@pytest.fixture
def mkl_two_cores(monkeypatch, halves):
    if _blas.mkl_library() is None:
        pytest.skip("the team runs with MKL only")
    monkeypatch.setattr(_blas, "max_threads", lambda: 2)
    monkeypatch.setattr(_blas, "CPUS", 2)
    _worker.compile_serve()  # not in the tests' deadlines
    previous = _blas.blas_provider()
    _blas.set_blas("mkl")
    yield _team.team(1 << 40) or pytest.fail("the team should be available")
    _team._team.lock.release()
    _blas.set_blas(previous)


def _problem(kind, dtype=np.float64, N=3, **kw):
    return Problem(kind, dtype=dtype, T=12, N=N, D=5, H=7, **ACTIVATIONS[kind], **kw)


def test_gru_halves_keep_w_and_w_r_apart(halves):
    p = _problem("gru_after")
    W0, W_R0, b0, b_R0, W1, W_R1, b1, b_R1 = gru.prepare(p.params, np.float64).halves
    H, H0 = 7, 3
    for k, (Wk, W_Rk, bk, b_Rk, units) in enumerate(((W0, W_R0, b0, b_R0, slice(0, H0)),
                                                      (W1, W_R1, b1, b_R1, slice(H0, H)))):  # fmt: skip
        cols = np.concatenate([np.arange(H)[units] + g * H for g in range(3)])
        np.testing.assert_array_equal(Wk, p.params["W"][:, cols], err_msg=f"W{k}")
        np.testing.assert_array_equal(W_Rk, p.params["W_R"][:, cols], err_msg=f"W_R{k}")
        np.testing.assert_array_equal(bk, p.params["b"][cols], err_msg=f"b{k}")
        np.testing.assert_array_equal(b_Rk, p.params["b_R"][cols], err_msg=f"b_R{k}")


def test_halves_hold_the_gate_blocks_of_their_units():
    rng = np.random.default_rng(0)
    K, H, gates = 5, 7, 4
    WW, b = rng.standard_normal((K, gates * H)), rng.standard_normal(gates * H)
    WW0, b0, WW1, b1 = _stream._halves(WW, b, gates, H)
    assert WW0.shape == (K, gates * 3) and WW1.shape == (K, gates * 4)
    assert WW0.flags.c_contiguous and WW1.flags.c_contiguous
    for g in range(gates):  # block g of each half is block g of WW, restricted to the half's units
        np.testing.assert_array_equal(WW0[:, g * 3 : (g + 1) * 3], WW[:, g * H : g * H + 3])
        np.testing.assert_array_equal(WW1[:, g * 4 : (g + 1) * 4], WW[:, g * H + 3 : (g + 1) * H])
        np.testing.assert_array_equal(b1[g * 4 : (g + 1) * 4], b[g * H + 3 : (g + 1) * H])
    np.testing.assert_array_equal(b0[:3], b[:3])


def test_the_rnn_is_never_packed_in_halves(halves):
    """MKL's own two threads read the RNN's tall stack as fast (see _stream.prepare_step)."""
    prepared = rnn.prepare(Problem("rnn", T=3, N=2, D=5, H=7).params, np.float64)
    assert prepared.halves == () and prepared.WW.size > 0


def test_only_big_weights_are_packed_in_halves(monkeypatch):
    monkeypatch.setattr(_team, "TEAM_MIN_BYTES", REAL_MIN_BYTES)
    p = _problem("lstm")
    assert lstm.prepare(p.params, np.float64).halves == ()  # 12 x 28 float64: far below a megabyte
    big = {"W": np.zeros((256, 1024), np.float32), "W_R": np.zeros((256, 1024), np.float32)}
    prepared = lstm.prepare(big, np.float32)  # 2 MB
    assert [a.shape for a in prepared.halves] == [(512, 512), (512,), (512, 512), (512,)]
    assert prepared.WW.size == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize("kind", list(CELLS))
def test_a_step_in_halves_on_two_threads_gives_the_whole_step(mkl_two_cores, monkeypatch, kind, N, dtype):
    module, p = CELLS[kind], _problem(kind, dtype, N)
    prepared = module.prepare(p.params, dtype)
    statuses = []
    after_step = mkl_two_cores.after_step
    monkeypatch.setattr(mkl_two_cores, "after_step", lambda s, t: (statuses.append(s), after_step(s, t)))
    mkl_two_cores.lock.release()  # the fixture held it
    try:  # until the worker took part in a run (it may be asleep, or the cores busy, at first)
        deadline = time.monotonic() + 20
        while True:
            statuses.clear()
            outs, state = step_through(module, p, prepared)
            if 0 in statuses or time.monotonic() > deadline:
                break
    finally:
        mkl_two_cores.lock.acquire()
    assert 0 in statuses, "the worker computed no half"
    monkeypatch.setattr(_team, "TEAM_MIN_BYTES", 1 << 60)
    whole = module.prepare(p.params, dtype)
    assert whole.halves == ()
    ref_outs, ref_state = step_through(module, p, whole)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(outs, ref_outs, rtol=tol, atol=tol)
    for a, b in zip(state, ref_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", list(CELLS))
def test_without_the_team_both_halves_run_here(halves, kind):
    """SciPy's OpenBLAS, or MKL limited to one thread: no worker, the same numbers."""
    module, p = CELLS[kind], _problem(kind)
    prepared = module.prepare(p.params, np.float64)
    assert prepared.halves
    previous = _blas.blas_provider()
    _blas.set_blas("scipy")
    try:
        assert _team.team(1 << 40) is None
        outs, _ = step_through(module, p, prepared)
    finally:
        _blas.set_blas(previous)
    ref, _ = step_through(module, p, p.params)  # a plain dict: the whole step
    np.testing.assert_allclose(outs, ref, rtol=1e-12, atol=1e-12)


def test_no_team_when_blas_is_limited_to_one_thread(monkeypatch, halves):
    if _blas.mkl_library() is None:
        pytest.skip("the team runs with MKL only")
    monkeypatch.setattr(_blas, "max_threads", REAL_MAX_THREADS)
    monkeypatch.setattr(_blas, "CPUS", 2)
    previous = _blas.blas_provider()
    _blas.set_blas("mkl")
    try:
        with threadpool_limits(1):
            assert _team.team(1 << 40) is None
    finally:
        _blas.set_blas(previous)


def _step_args(dtype=np.float64):
    p = _problem("lstm", dtype, N=2)
    prepared = lstm.prepare(p.params, dtype)
    return p, prepared, (p.x[0], p.state[0], p.state[1], 1, 0, *prepared.halves)


def test_a_task_nobody_claims_is_taken_back(halves):
    """A worker that never answers (asleep, or not scheduled): the step computes the half itself."""
    p, _, args = _step_args()
    ctrl, task = np.zeros(_team.CONTROL_WORDS, np.int64), np.zeros(_team.TASK_WORDS, np.int64)
    h, c, status = lstm._step_halves(*args, ctrl, task, True, 1000)
    assert status == 1 and ctrl[_team.CLAIMED] == ctrl[_team.POSTED] == 1
    ctrl[_team.ASLEEP] = 1  # a worker known to be asleep: taken back at once
    h2, c2, status = lstm._step_halves(*args, ctrl, task, True, 1 << 60)
    assert status == 1 and ctrl[_team.CLAIMED] == 2
    ref_h, ref_c = lstm.step(p.x[0], p.state, p.params, activation="tanh", recurrent_activation="sigmoid")
    for got in (h, h2):
        np.testing.assert_allclose(got, ref_h, rtol=1e-12, atol=1e-12)
    for got in (c, c2):
        np.testing.assert_allclose(got, ref_c, rtol=1e-12, atol=1e-12)


def test_a_dead_worker_is_an_error_not_a_hang(halves):
    _, _, args = _step_args()
    ctrl, task = np.zeros(_team.CONTROL_WORDS, np.int64), np.zeros(_team.TASK_WORDS, np.int64)
    ctrl[_team.DEAD] = 1
    *_, status = lstm._step_halves(*args, ctrl, task, True, 1 << 60)
    assert status == 2
    with pytest.raises(RuntimeError, match="worker thread stopped"):
        _team.Team().after_step(status, 0.0)


def test_a_sleeping_worker_is_woken_by_the_step_that_finds_it_asleep(mkl_two_cores, monkeypatch):
    team = mkl_two_cores
    team.lock.release()
    try:
        p, prepared, _ = _step_args(np.float32)
        monkeypatch.setattr(_team, "SPIN_PAUSES", 1)  # the worker sleeps as soon as it is idle...
        for _ in range(2):
            lstm.step(p.x[0], p.state, prepared, activation="tanh", recurrent_activation="hard_sigmoid")
        for _ in range(200):  # ... (a sleeping worker's loop reads SPIN_PAUSES when it wakes)
            if team.ctrl[_team.ASLEEP]:
                break
            threading.Event().wait(0.005)
        assert team.ctrl[_team.ASLEEP] == 1
        monkeypatch.setattr(_team, "SPIN_PAUSES", 1 << 15)
        statuses = []
        after_step = team.after_step
        monkeypatch.setattr(team, "after_step", lambda s, t: (statuses.append(s), after_step(s, t)))
        deadline = time.monotonic() + 20
        while 0 not in statuses and time.monotonic() < deadline:  # steps until the woken worker answers
            lstm.step(p.x[0], p.state, prepared, activation="tanh", recurrent_activation="hard_sigmoid")
        assert statuses[0] == 1  # computed here, and the worker woken
        assert 0 in statuses, "the woken worker took no task"
    finally:
        team.lock.acquire()


def test_a_slow_stream_leaves_the_worker_asleep(mkl_two_cores, monkeypatch):
    """Steps further apart than WAKE_GAP would find the worker asleep again: they do not wake it."""
    team = mkl_two_cores
    team.lock.release()
    try:
        p, prepared, _ = _step_args(np.float32)
        monkeypatch.setattr(_team, "SPIN_PAUSES", 1)
        monkeypatch.setattr(_team, "WAKE_GAP", 0.05)  # wide enough that a preempted test does not flake
        deadline = time.monotonic() + 20
        while not team.ctrl[_team.ASLEEP] and time.monotonic() < deadline:
            lstm.step(p.x[0], p.state, prepared)
            time.sleep(0.002)
        assert team.ctrl[_team.ASLEEP] == 1
        team.wake.clear()
        for _ in range(3):
            time.sleep(2 * _team.WAKE_GAP + 0.005)
            lstm.step(p.x[0], p.state, prepared)
            assert not team.wake.is_set(), "a step after a long gap woke the worker"
        lstm.step(p.x[0], p.state, prepared)  # right after the previous one
        assert team.wake.is_set()
    finally:
        monkeypatch.setattr(_team, "SPIN_PAUSES", 1 << 15)
        team.wake.set()
        team.lock.acquire()


def test_the_gap_is_counted_from_the_end_of_a_step_to_the_start_of_the_next(monkeypatch):
    """A step longer than WAKE_GAP (LSTM, H = 512: 0.35 ms done here) right after another still wakes."""
    monkeypatch.setattr(_team, "WAKE_GAP", 0.05)  # wide enough that a preempted test does not flake
    team = _team.Team()  # never started: only its bookkeeping
    team.ctrl[_team.ASLEEP] = 1
    team.after_step(1, time.perf_counter())
    started = time.perf_counter()  # back to back
    time.sleep(3 * _team.WAKE_GAP)  # a long step
    team.after_step(1, started)
    assert team.wake.is_set()
    team.wake.clear()
    time.sleep(3 * _team.WAKE_GAP)  # a pause between steps
    team.after_step(1, time.perf_counter())
    assert not team.wake.is_set()


def test_threads_stepping_at_once_each_get_their_numbers(mkl_two_cores):
    mkl_two_cores.lock.release()
    try:
        p, prepared, _ = _step_args(np.float64)
        ref, _ = step_through(lstm, p, p.params)
        results = [None] * 4

        def go(k):
            results[k] = step_through(lstm, p, prepared)[0]

        threads = [threading.Thread(target=go, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        mkl_two_cores.lock.acquire()
    for got in results:
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def _step_in_child(queue):
    p, prepared, _ = _step_args(np.float64)
    queue.put(float(step_through(lstm, p, prepared)[0].sum()))


def test_a_forked_child_starts_a_team_of_its_own(mkl_two_cores):
    """The parent's worker thread does not survive a fork; the child must not wait for it."""
    p, prepared, _ = _step_args(np.float64)
    mkl_two_cores.lock.release()
    try:
        expected = float(step_through(lstm, p, prepared)[0].sum())  # the parent's worker runs now
        hung, exitcode, result = run_forked(_step_in_child, timeout=60)
    finally:
        mkl_two_cores.lock.acquire()
    assert not hung and exitcode == 0, "the child hung or failed"
    assert result == pytest.approx(expected, rel=1e-12)
