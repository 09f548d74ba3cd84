"""Dense, Embedding and Dropout: gradients by central differences, masks, bad input."""

import numpy as np
import pytest

from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.embedding import Embedding
from tests.helpers import assert_close, numerical_grad


@pytest.mark.parametrize("activation", [None, "tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)], ids=["vector", "sequence"])
def test_dense_gradients(activation, shape):
    rng = np.random.default_rng(0)
    layer = Dense(4, activation=activation, dtype="float64", seed=1)
    x = rng.normal(size=shape)
    out, cache = layer.forward(x)
    assert out.shape == (*shape[:-1], 4)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout, cache)
    grads = dict(layer.grads)

    def f():
        return float((layer(x) * dout).sum())

    assert_close("dx", dx, numerical_grad(f, x), 1e-7)
    for k, v in layer.params.items():
        assert_close(f"d{k}", grads[k], numerical_grad(f, v), 1e-7)


def test_embedding_gradient_accumulates_repeated_ids_and_masks_zero():
    layer = Embedding(5, 3, mask_zero=True, dtype="float64", seed=0)
    x = np.array([[1, 2, 2, 0], [4, 1, 0, 0]])
    out, cache = layer.forward(x)
    np.testing.assert_array_equal(out[0, 1], layer.params["E"][2])
    np.testing.assert_array_equal(layer.compute_mask(x, None), x != 0)
    dout = np.random.default_rng(1).normal(size=out.shape)
    layer.backward(dout, cache)
    np.testing.assert_allclose(layer.grads["E"][2], dout[0, 1] + dout[0, 2])
    np.testing.assert_allclose(layer.grads["E"][3], 0.0)


@pytest.mark.parametrize("bad, exc, match", [
    (np.array([[0.5, 1.0]]), TypeError, "integer token ids"),
    (np.array([[1, 5]]), ValueError, r"token id 5, outside the embedding's range \[0, 5\)"),
    (np.array([[-1, 2]]), ValueError, "token id -1"),
])
def test_embedding_refuses_bad_ids(bad, exc, match):
    with pytest.raises(exc, match=match):
        Embedding(5, 3)(bad)


def test_dropout_scales_kept_units_and_is_off_at_inference():
    layer = Dropout(0.25, seed=0)
    x = np.ones((200, 50), np.float32)
    out, cache = layer.forward(x, training=True)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(layer.backward(np.ones_like(x), cache), out)
    np.testing.assert_array_equal(layer(x), x)


@pytest.mark.parametrize("K, V", [(1300, 50), (40, 1000), (1, 3), (0, 4), (64, 1)])
def test_scatter_add_rows_equals_np_add_at(K, V):
    from rnnlab.layers.embedding import scatter_add_rows

    rng = np.random.default_rng(K)
    ids, rows = rng.integers(0, V, K), rng.normal(size=(K, 5))
    start = rng.normal(size=(V, 5))
    expected = start.copy()
    np.add.at(expected, ids, rows)
    got = scatter_add_rows(start.copy(), ids, rows)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    untouched = np.setdiff1d(np.arange(V), ids)
    np.testing.assert_array_equal(got[untouched], start[untouched])
