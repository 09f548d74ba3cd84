"""Gate statistics on constructed cases whose answer is known.

With ``W_R = 0`` each gate depends on ``x_t`` alone, so an input of +-20 on one feature drives a gate
to ``sigmoid(+-20)``: 1 or 0 up to 2e-9. The fraction near the top at step ``t`` is then the share
of sequences whose input is +20 at ``t``.
"""

import numpy as np
import pytest

from rnnlab.cells import lstm
from rnnlab.diagnostics import gate_statistics, gates_from_cache
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN
from rnnlab.layers.dense import Dense
from rnnlab.models import Sequential

N, T, H = 4, 6, 3


def signs() -> np.ndarray:
    """``(N, T)`` of +-1: row n is +1 at steps t with (t + n) % 3 == 0, else -1."""
    t, n = np.meshgrid(np.arange(T), np.arange(N))
    return np.where((t + n) % 3 == 0, 1.0, -1.0)


def driven_layer(cls, block: int, **kwargs):
    """A layer whose gate ``block`` is sigmoid(20 * x[..., 0]) and every other pre-activation is 0."""
    layer = cls(H, input_dim=1, dtype="float64", **kwargs)
    G = layer.gates
    layer.params["W"][...] = 0.0
    layer.params["W_R"][...] = 0.0
    layer.params["b"][...] = 0.0
    if "b_R" in layer.params:
        layer.params["b_R"][...] = 0.0
    layer.params["W"][0, block * H : (block + 1) * H] = 20.0
    assert layer.params["W"].shape == (1, G * H)
    return layer


def test_lstm_forget_gate_saturation_follows_the_input():
    s = signs()
    stats = gate_statistics(driven_layer(LSTM, 1, unit_forget_bias=False), s[:, :, None])["lstm"]
    expected_high = (s > 0).mean(axis=0)  # (T,)
    np.testing.assert_allclose(stats.high["f"], expected_high)
    np.testing.assert_allclose(stats.low["f"], 1.0 - expected_high)
    np.testing.assert_allclose(stats.mean["f"], expected_high, atol=1e-8)
    for gate in ("i", "o"):  # sigmoid(0) = 0.5: never near either end
        np.testing.assert_allclose(stats.mean[gate], 0.5)
        assert np.all(stats.high[gate] == 0) and np.all(stats.low[gate] == 0)
    np.testing.assert_allclose(stats.mean["c~"], 0.0)  # tanh(0); tanh's range is [-1, 1]
    assert np.all(stats.low["c~"] == 0) and np.all(stats.high["c~"] == 0)
    summary = stats.summary()
    assert summary["f"]["high"] == pytest.approx(expected_high.mean())
    assert stats.gates == ["i", "f", "c~", "o"]


def test_gru_update_gate_and_candidate_range():
    s = signs()
    stats = gate_statistics(driven_layer(GRU, 1), s[:, :, None])["gru"]
    np.testing.assert_allclose(stats.high["z"], (s > 0).mean(axis=0))
    np.testing.assert_allclose(stats.mean["r"], 0.5)
    # Candidate driven to tanh(+-20) = +-1: near the top where the input is +1, the bottom where -1.
    stats_h = gate_statistics(driven_layer(GRU, 2), s[:, :, None])["gru"]
    np.testing.assert_allclose(stats_h.high["h~"], (s > 0).mean(axis=0))
    np.testing.assert_allclose(stats_h.low["h~"], (s < 0).mean(axis=0))


def test_padded_steps_are_left_out():
    s = signs()
    lengths = np.array([T, T, 2, 1])
    stats = gate_statistics(driven_layer(LSTM, 1, unit_forget_bias=False), s[:, :, None], lengths=lengths)["lstm"]
    real = np.arange(T)[None, :] < lengths[:, None]  # (N, T)
    expected = ((s > 0) & real).sum(axis=0) / real.sum(axis=0)
    np.testing.assert_allclose(stats.high["f"], expected)
    np.testing.assert_array_equal(stats.weight, real.sum(axis=0))


def test_go_backwards_and_bidirectional_report_input_time_order():
    s = signs()
    x = s[:, :, None]
    expected = (s > 0).mean(axis=0)
    back = driven_layer(LSTM, 1, unit_forget_bias=False, go_backwards=True)
    np.testing.assert_allclose(gate_statistics(back, x)["lstm"].high["f"], expected)
    fwd = driven_layer(LSTM, 1, unit_forget_bias=False, return_sequences=True)
    bwd = driven_layer(LSTM, 1, unit_forget_bias=False, return_sequences=True)
    bi = Bidirectional(fwd, backward_layer=bwd)
    lengths = np.array([T, 4, 3, 2])
    stats = gate_statistics(bi, x, lengths=lengths)
    real = np.arange(T)[None, :] < lengths[:, None]
    exp_masked = ((s > 0) & real).sum(axis=0) / real.sum(axis=0)
    assert list(stats) == [f"{bi.name}/forward", f"{bi.name}/backward"]
    for label in stats:
        np.testing.assert_allclose(stats[label].high["f"], exp_masked, err_msg=label)


def test_sequential_model_skips_layers_without_gates():
    model = Sequential([SimpleRNN(H, return_sequences=True, input_dim=1, seed=0, name="r"),
                        GRU(H, return_sequences=True, seed=1, name="g"), Dense(1, seed=2)])
    x = np.random.default_rng(0).normal(size=(N, T, 1))
    model.forward(x)
    stats = gate_statistics(model, x)
    assert list(stats) == ["g"]
    assert stats["g"].mean["z"].shape == (T,)


def test_gates_from_cache_directly():
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(2, 4 * H)), "W_R": rng.normal(size=(H, 4 * H)), "b": rng.normal(size=4 * H)}
    x = rng.normal(size=(T, N, 2))
    _, _, cache = lstm.forward(x, (np.zeros((N, H)), np.zeros((N, H))), params)
    out = gates_from_cache("lstm", cache, eps=0.25)
    f = cache["A"][:, :, H : 2 * H]
    np.testing.assert_allclose(out["mean"]["f"], f.mean(axis=(1, 2)))
    np.testing.assert_allclose(out["high"]["f"], (f >= 0.75).mean(axis=(1, 2)))
    np.testing.assert_allclose(out["low"]["f"], (f <= 0.25).mean(axis=(1, 2)))


def test_errors():
    with pytest.raises(ValueError, match="'lstm' and 'gru'"):
        gates_from_cache("rnn", {})
    with pytest.raises(ValueError, match="eps must be"):
        gates_from_cache("lstm", {"A": np.zeros((1, 1, 4))}, eps=0.7)
    with pytest.raises(TypeError, match="Sequential model or an LSTM/GRU"):
        gate_statistics(Dense(1, input_dim=1), np.zeros((1, 2, 1)))
    with pytest.raises(ValueError, match="not built"):
        gate_statistics(LSTM(H), np.zeros((1, 2, 1)))
