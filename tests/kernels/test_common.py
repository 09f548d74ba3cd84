"""``rnnlab.kernels._common``: argument checks at the kernels' boundary, with actionable messages."""

import numpy as np
import pytest

from rnnlab import cells, threads
from rnnlab.kernels import _blas, _split, gru, lstm, rnn

from ._parity import Problem, check, compare


def _lstm_problem():
    p = Problem("lstm")
    return p.x, p.state, p.params


def test_rejects_integer_inputs():
    x, state, params = _lstm_problem()
    with pytest.raises(TypeError, match="x must be float32 or float64, got int64"):
        lstm.forward(x.astype(np.int64), state, params)


def test_rejects_batch_major_or_flat_inputs():
    x, state, params = _lstm_problem()
    with pytest.raises(ValueError, match=r"time-major \(T, N, D\)"):
        lstm.forward(x[0], state, params)


def test_rejects_mismatched_weights_and_biases():
    x, state, params = _lstm_problem()
    with pytest.raises(ValueError, match=r"expected W \(D, 4H\) and W_R \(H, 4H\)"):
        lstm.forward(x, state, {**params, "W_R": params["W_R"][:, :-1]})
    with pytest.raises(ValueError, match=r"b must have shape \(4H,\)"):
        lstm.forward(x, state, {**params, "b": params["b"][:-1]})


def test_rejects_bad_states_and_options():
    x, state, params = _lstm_problem()
    T, N, _ = x.shape
    with pytest.raises(ValueError, match="state must hold 2 array"):
        lstm.forward(x, state[:1], params)
    with pytest.raises(ValueError, match=r"initial state must have shape \(N, H\)"):
        lstm.forward(x, (state[0], state[1][:, :-1]), params)
    with pytest.raises(ValueError, match=r"mask must have shape \(T, N\)"):
        lstm.forward(x, state, params, mask=np.ones((N, T), bool))
    with pytest.raises(ValueError, match=r"rdrop must have shape \(N, H\)"):
        lstm.forward(x, state, params, rdrop=np.ones((N, 1)))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        lstm.forward(x, state, params, activation="gelu")


def test_rejects_bad_upstream_gradients_and_truncation():
    x, state, params = _lstm_problem()
    out, final, cache = lstm.forward(x, state, params)
    with pytest.raises(ValueError, match="dout must have the shape of the output"):
        lstm.backward(out[:-1], final, cache)
    with pytest.raises(ValueError, match=r"dstate entry must be None or of shape \(N, H\)"):
        lstm.backward(out, (final[0][:1], None), cache)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="truncate must be None or a positive number of steps"):
            lstm.backward(out, final, cache, truncate=bad)


@pytest.mark.parametrize("module", [rnn, lstm, gru], ids=["rnn", "lstm", "gru"])
def test_read_only_and_strided_inputs_give_the_same_numbers(module):
    kind = module.__name__.rsplit(".", 1)[1]
    p = Problem(kind, T=4, N=3)
    x = np.asfortranarray(p.x)  # not C-contiguous
    params = {k: v.copy() for k, v in p.params.items()}
    for v in params.values():
        v.setflags(write=False)
    out, final, _ = module.forward(x, p.state, params)
    ref_out, ref_final, _ = cells.CELLS[kind].forward(p.x, p.state, p.params)
    compare({"out": out, "final": final[0]}, {"out": ref_out, "final": ref_final[0]}, np.float64)


def test_float32_parameters_follow_the_inputs_dtype():
    p = Problem("rnn", dtype=np.float32)
    params64 = {k: v.astype(np.float64) for k, v in p.params.items()}
    out, _, cache = rnn.forward(p.x, p.state, params64)
    assert out.dtype == np.float32
    _, _, grads = rnn.backward(out, (None,), cache)
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("module", [rnn, lstm, gru], ids=["rnn", "lstm", "gru"])
def test_weights_with_odd_strides_on_a_length_one_axis(module):
    # NumPy calls a (1, G*H) array C-contiguous whatever its row stride: a transposed (G*H, 1)
    # weight (D = 1, as PyTorch stores weight_ih) has strides (8, 8). BLAS must not take that
    # stride for a leading dimension (it once left dx uninitialised).
    kind = module.__name__.rsplit(".", 1)[1]
    p = Problem(kind, T=3, N=4, D=1, H=2)
    column = np.empty((p.params["W"].shape[1], 1))  # (G*H, 1), strides (8, 8)
    column[:, 0] = p.params["W"][0]
    params = {**p.params, "W": column.T}
    assert params["W"].flags.c_contiguous and params["W"].strides == (8, 8)
    out, _, cache = module.forward(p.x, p.state, params)
    dx, _, grads = module.backward(p.dout_array, p.dstate_arrays, cache)
    ref_out, _, ref_cache = cells.CELLS[kind].forward(p.x, p.state, p.params)
    ref_dx, _, ref_grads = cells.CELLS[kind].backward(p.dout_array, p.dstate_arrays, ref_cache)
    compare({"out": out, "dx": dx, "dW": grads["W"]}, {"out": ref_out, "dx": ref_dx, "dW": ref_grads["W"]}, np.float64)


@pytest.mark.parametrize("module", [rnn, lstm, gru], ids=["rnn", "lstm", "gru"])
def test_cache_carries_the_reference_option_entries(module):
    kind = module.__name__.rsplit(".", 1)[1]
    p = Problem(kind, mask="holes", rdrop=True)
    _, _, cache = module.forward(p.x, p.state, p.params, **p.options())
    _, _, ref = cells.CELLS[kind].forward(p.x, p.state, p.params, **p.options())
    np.testing.assert_array_equal(cache["rdrop"], ref["rdrop"])
    np.testing.assert_array_equal(cache["m"], ref["m"])
    np.testing.assert_array_equal(cache["partial"], ref["partial"])
    _, _, cache = module.forward(p.x, p.state, p.params)
    assert cache["rdrop"] is None and cache["m"] is None and cache["partial"] is None


@pytest.mark.parametrize(("variant", "H"), [("rnn", 1500), ("lstm", 1024), ("gru", 1024), ("gru_after", 1024)])
@pytest.mark.parametrize("rdrop", [False, True])
def test_packed_products_on_two_mkl_threads_match_the_reference(blas_provider, variant, H, rdrop, monkeypatch):
    """A whole batch whose per-step products are big enough for two MKL threads (``begin_steps``)
    runs them on packed weights, packed with those threads: the numbers are the reference's."""
    G = {"rnn": 1, "lstm": 4}.get(variant, 3)
    assert 4 * H * G * H >= threads.SMALL_STEP_WORK  # the products use every MKL thread
    monkeypatch.setattr(_split, "MIN_PART_WORK", 1 << 62)  # whole, also in the forced-split mode
    assert _split.parts(1, 4, H, G * H) is None
    previous = _blas.set_pack_min_work(0)
    try:
        check(variant=variant, T=1, N=4, D=3, H=H, rdrop=rdrop, dstate=(True,) * (2 if variant == "lstm" else 1))
    finally:
        _blas.set_pack_min_work(previous)
