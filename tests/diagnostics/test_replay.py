"""The replay on reference cells computes exactly what the layers' own forward/backward compute."""

import numpy as np
import pytest

from rnnlab.diagnostics import _replay
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN
from rnnlab.layers.dense import Dense
from rnnlab.layers.embedding import Embedding
from rnnlab.models import Sequential
from tests.helpers import assert_close

N, T, D, H = 3, 6, 4, 5


def models():
    f64 = {"dtype": "float64"}
    yield "rnn", Sequential([SimpleRNN(H, seed=0, **f64), Dense(2, seed=1, **f64)]), None
    yield "stack+mask", Sequential([LSTM(H, return_sequences=True, seed=0, **f64),
                                    GRU(H, return_sequences=True, go_backwards=True, seed=1, **f64),
                                    Dense(2, seed=2, **f64)]), np.array([T, 4, 1])
    yield "bidirectional+mask", Sequential([Bidirectional(GRU(H, return_sequences=True, reset_after=True, seed=0,
                                                              **f64), merge_mode="sum"),
                                            Dense(2, seed=1, **f64)]), np.array([2, T, 3])
    yield "truncated", Sequential([SimpleRNN(H, return_sequences=True, truncate_gradient=2, seed=0, **f64),
                                   Dense(2, seed=1, **f64)]), None


@pytest.mark.parametrize("name,model,lengths", list(models()), ids=[m[0] for m in models()])
def test_outputs_and_input_gradients_equal_the_models_own(name, model, lengths):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, D))
    mask = None if lengths is None else np.arange(T)[None, :] < lengths[:, None]
    out, caches, _ = model.forward(x, mask)
    dout = rng.normal(size=out.shape)
    dx = model.backward(dout, caches)
    replay = _replay.forward(model.layers, x, mask)
    assert_close(f"{name} outputs", replay.outputs, out, 1e-13)
    grads = {k: v.copy() for k, v in model.grads.items()}
    dx_replay = _replay.backward(replay, dout)
    assert_close(f"{name} dx", dx_replay, dx, 1e-12)
    for k, v in model.grads.items():
        np.testing.assert_array_equal(v, grads[k], err_msg=f"{name}: replay changed gradient {k}")
    for d in replay.directions:
        assert d.dh is not None and d.dh.shape == (T, N, H)


def test_embedding_model_with_mask_zero():
    model = Sequential([Embedding(7, D, mask_zero=True, seed=0, dtype="float64"),
                        LSTM(H, seed=1, dtype="float64"), Dense(1, input_dim=H, seed=2, dtype="float64")])
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 1, 2, 3], [2, 0, 0, 0, 0, 0]])
    out, _, _ = model.forward(ids)
    replay = _replay.forward(model.layers, ids, None)
    assert_close("outputs", replay.outputs, out, 1e-13)
    assert replay.directions[0].mask is not None


def test_float64_layers_are_independent_copies():
    layer = LSTM(H, input_dim=D, seed=0)
    (twin,) = _replay.float64_layers([layer])
    assert twin is not layer and twin.dtype == np.float64
    assert all(v.dtype == np.float64 for v in twin.params.values())
    twin.params["W"][...] = 0
    assert np.abs(layer.params["W"]).sum() > 0
