"""The adding-problem experiment's pieces: models, gate opening, the exploding RNN, one measured run."""

import numpy as np
import pytest

from rnnlab.data.synthetic import adding_problem
from rnnlab.diagnostics.experiment import (
    adding_model,
    exploding_rnn,
    flow_at_init,
    learned,
    open_gates,
    train_and_measure,
)
from rnnlab.layers import LSTM, SimpleRNN


def test_adding_models_and_open_gates():
    for kind in ("rnn", "lstm", "gru"):
        m = adding_model(kind, 6, seed=1)
        assert m.layers[0].kind == kind and m.layers[0].name == kind
        assert m(np.zeros((2, 5, 2), "float32")).shape == (2, 1)
    lstm = adding_model("lstm", 6, gate_bias=3.0).layers[0]
    np.testing.assert_array_equal(lstm.params["b"][6:12], 3.0)
    np.testing.assert_array_equal(lstm.params["b"][:6], 0.0)
    gru = adding_model("gru", 6, gate_bias=2.0).layers[0]
    np.testing.assert_array_equal(gru.params["b"][6:12], 2.0)
    with pytest.raises(ValueError, match="LSTM or GRU"):
        open_gates(SimpleRNN(3, input_dim=2), 1.0)
    with pytest.raises(ValueError, match="no bias"):
        open_gates(LSTM(3, input_dim=2, use_bias=False), 1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        adding_model("transformer", 4)


def test_exploding_rnn_scales_the_orthogonal_matrix():
    m = exploding_rnn(5, 2.0, seed=0)
    W_R = m.layers[0].params["W_R"].astype(np.float64)
    np.testing.assert_allclose(W_R.T @ W_R, 4.0 * np.eye(5), atol=1e-5)
    assert m.layers[0].activation == "relu"
    with pytest.raises(ValueError, match="gain"):
        exploding_rnn(5, -1.0)


def test_train_and_measure_small():
    train = adding_problem(32, 8, np.random.default_rng(0))
    val = adding_problem(16, 8, np.random.default_rng(1))
    r = train_and_measure(adding_model("gru", 4), "gru", train, val, epochs=1, batch_size=8, probe=4)
    d = r.to_dict()
    assert d["steps"] == 4 and d["diverged_at_step"] is None
    assert np.isfinite(d["val_mse"]) and np.isfinite(d["ratio_init"]) and np.isfinite(d["ratio_trained"])
    assert set(d["gates_trained"]["gru"]) == {"r", "z", "h~"}
    assert r.flow_init.norms["gru"].shape == (8,)
    flows = flow_at_init({"a": adding_model("rnn", 4)}, *val)
    assert flows["a"].target == "last"
    assert learned(0.01, 0.167) and not learned(0.02, 0.167) and not learned(float("nan"), 0.167)
