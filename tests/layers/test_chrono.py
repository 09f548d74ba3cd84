"""Chrono initialization (Tallec & Ollivier 2018): the gate biases, and what they do to the gradient flow."""

import numpy as np
import pytest

from rnnlab.diagnostics.gradflow import layer_gradient_flow
from rnnlab.layers import GRU, LSTM
from rnnlab.models import Sequential, load_model


def test_lstm_forget_bias_is_log_uniform_and_input_bias_its_negative():
    H, T_max = 400, 1000
    layer = LSTM(H, chrono_init=T_max, input_dim=3, seed=0)
    b = layer.params["b"]
    b_i, b_f, b_c, b_o = b[:H], b[H : 2 * H], b[2 * H : 3 * H], b[3 * H :]
    assert np.all((b_f >= 0) & (b_f <= np.log(T_max - 1)))
    np.testing.assert_array_equal(b_i, -b_f)
    assert not b_c.any() and not b_o.any()
    # exp(b_f) is uniform on [1, T_max - 1]: its mean and spread say so (400 draws)
    u = np.exp(b_f.astype(np.float64))
    assert abs(u.mean() - T_max / 2) < 0.1 * T_max
    assert u.min() < 0.1 * T_max and u.max() > 0.9 * T_max


def test_gru_update_bias_is_log_uniform_and_the_rest_zero():
    H = 200
    layer = GRU(H, chrono_init=50, reset_after=True, input_dim=2, seed=1)
    b = layer.params["b"]
    assert np.all((b[H : 2 * H] >= 0) & (b[H : 2 * H] <= np.log(49)))
    assert b[H : 2 * H].std() > 0.3
    assert not b[:H].any() and not b[2 * H :].any() and not layer.params["b_R"].any()


def test_without_chrono_the_defaults_are_unchanged():
    H = 4
    lstm = LSTM(H, input_dim=2, seed=0)
    np.testing.assert_array_equal(lstm.params["b"], np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
    assert not GRU(H, input_dim=2, seed=0).params["b"].any()


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_refuses_what_makes_no_sense(cls):
    with pytest.raises(ValueError, match="use_bias=True"):
        cls(3, chrono_init=100, use_bias=False)
    with pytest.raises(ValueError, match="at least 3"):
        cls(3, chrono_init=2, input_dim=2)
    with pytest.raises((TypeError, ValueError), match="chrono_init"):
        cls(3, chrono_init=-5)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_config_round_trips_through_a_model_file(cls, tmp_path):
    model = Sequential([cls(3, chrono_init=64, seed=0)])
    model(np.zeros((1, 2, 2)))
    model.save(tmp_path / "m.rnnlab")
    loaded = load_model(tmp_path / "m.rnnlab")
    assert loaded.layers[0].chrono_init == 64
    np.testing.assert_array_equal(loaded.layers[0].params["b"], model.layers[0].params["b"])


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_chrono_keeps_the_gradient_alive_over_200_steps(cls):
    """The point of the initialisation: dL/dH_1 relative to dL/dH_T, default init vs chrono."""
    T, N, D, H = 200, 8, 2, 32
    x = np.random.default_rng(0).normal(size=(N, T, D))
    dout = np.zeros((N, T, H))
    dout[:, -1] = np.random.default_rng(1).normal(size=(N, H))
    ratios = {}
    for name, kw in (("default", {}), ("chrono", {"chrono_init": T})):
        layer = cls(H, return_sequences=True, seed=3, dtype="float64", **kw)
        layer(x[:1])
        ratios[name] = layer_gradient_flow(layer, x, dout).ratio()
    # measured (seed 3): LSTM 2.9e-15 -> 3.4e-4, GRU 4.6e-39 -> 0.22; demand ten orders of magnitude
    assert ratios["chrono"] > 1e10 * ratios["default"], ratios
    assert ratios["chrono"] > 1e-5, ratios
