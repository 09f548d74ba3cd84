"""Bidirectional: merge modes, per-sequence reversal, gradients."""

import numpy as np
import pytest

from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN
from rnnlab.layers.bidirectional import reversal_index
from tests.helpers import assert_close, numerical_grad


def test_reversal_index_reverses_each_rows_real_steps():
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 1, 1, 1]], bool)
    idx = reversal_index(mask, 3, 4)
    assert idx[:, 0].tolist() == [2, 1, 0, 3]
    assert idx[:, 1].tolist() == [0, 1, 2, 3]
    assert idx[:, 2].tolist() == [0, 3, 2, 1]
    np.testing.assert_array_equal(np.take_along_axis(idx, idx, axis=0), np.repeat(np.arange(4)[:, None], 3, 1))


def test_backward_direction_starts_at_each_sequences_last_real_step():
    rng = np.random.default_rng(0)
    x, lengths = rng.normal(size=(3, 6, 2)), np.array([6, 3, 1])
    bi = Bidirectional(LSTM(4, return_sequences=True, seed=0, dtype="float64"), merge_mode=None)
    _, back = bi(x, lengths=lengths)
    for n, L in enumerate(lengths):  # each sequence alone, reversed, through the backward layer
        alone = bi.backward_layer(x[n : n + 1, :L][:, ::-1])
        np.testing.assert_allclose(back[n, :L], alone[0, ::-1], rtol=1e-12)
        assert np.all(back[n, L:] == 0)


@pytest.mark.parametrize("merge_mode, width", [("concat", 8), ("sum", 4), ("mul", 4), ("ave", 4)])
def test_merge_modes(merge_mode, width):
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    bi = Bidirectional(GRU(4, return_sequences=True, seed=0), merge_mode=merge_mode)
    assert bi(x).shape == (2, 5, width)


@pytest.mark.parametrize(
    "layer",
    [
        SimpleRNN(3, return_sequences=True),
        LSTM(3, return_sequences=True),
        GRU(3, return_sequences=True),
        LSTM(3, return_state=True),
        GRU(3, reset_after=True, return_sequences=True, return_state=True),
    ],
    ids=["rnn-seq", "lstm-seq", "gru-seq", "lstm-last-state", "gru-ra-seq-state"],
)
@pytest.mark.parametrize("merge_mode", ["concat", "mul", "ave"])
def test_gradients_match_central_differences(layer, merge_mode):
    config = {**layer.get_config(), "dtype": "float64", "seed": 2, "recurrent_initializer": "glorot_uniform"}
    bi = Bidirectional(type(layer)(**config), merge_mode=merge_mode)
    rng = np.random.default_rng(5)
    x, lengths = rng.normal(size=(3, 5, 2)), np.array([5, 2, 4])
    out, cache = bi.forward(x, lengths=lengths)
    outs = out if isinstance(out, list) else [out]
    douts = [rng.normal(size=o.shape) for o in outs]
    dx, _ = bi.backward(douts if isinstance(out, list) else douts[0], cache)
    grads = dict(bi.grads)

    def f():
        o = bi(x, lengths=lengths)
        return float(sum((a * d).sum() for a, d in zip(o if isinstance(o, list) else [o], douts, strict=True)))

    assert_close("dx", dx, numerical_grad(f, x), 1e-6)
    for key in ("forward/W_R", "backward/W_R", "backward/W", "forward/b"):
        assert_close(f"d{key}", grads[key], numerical_grad(f, bi.params[key]), 1e-6)


def test_refuses_what_it_cannot_wrap():
    with pytest.raises(TypeError, match="wraps a SimpleRNN, LSTM or GRU"):
        Bidirectional("lstm")
    with pytest.raises(ValueError, match="unknown merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards=False"):
        Bidirectional(LSTM(2, go_backwards=True))
