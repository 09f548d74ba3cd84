"""FeatureEmbedding: concatenated lookups, per-feature gradients, word dropout, bad ids."""

import numpy as np
import pytest

from rnnlab.layers.feature_embedding import FeatureEmbedding
from tests.helpers import assert_close, numerical_grad


def test_lookups_concatenate_and_gradients_match_central_differences():
    layer = FeatureEmbedding([6, 4], [3, 2], dtype="float64", seed=0)
    x = np.array([[[1, 2], [5, 3], [1, 0]], [[2, 1], [0, 0], [0, 0]]])
    out, cache = layer.forward(x)
    assert out.shape == (2, 3, 5)
    np.testing.assert_array_equal(out[0, 1], np.concatenate([layer.params["E0"][5], layer.params["E1"][3]]))
    np.testing.assert_array_equal(layer.compute_mask(x, None), x[..., 0] != 0)
    dout = np.random.default_rng(1).normal(size=out.shape)
    layer.backward(dout, cache)
    grads = dict(layer.grads)
    for k in ("E0", "E1"):
        assert_close(f"d{k}", grads[k], numerical_grad(lambda: float((layer(x) * dout).sum()), layer.params[k]), 1e-8)


def test_word_dropout_replaces_only_real_words_and_only_in_training():
    layer = FeatureEmbedding([50, 4], [3, 2], word_dropout=0.5, seed=0)
    x = np.stack([np.arange(2, 42).reshape(4, 10), np.ones((4, 10), int)], axis=-1)
    x[0, 5:, 0] = 0
    _, cache = layer.forward(x, training=True)
    dropped = cache["x"][..., 0] == 1
    assert 0.3 < dropped[x[..., 0] != 0].mean() < 0.7
    assert np.all(cache["x"][0, 5:, 0] == 0)  # padding stays padding
    np.testing.assert_array_equal(layer.forward(x)[1]["x"], x)


@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((2, 3, 3), int), ValueError, r"shape \(\.\.\., 2\)"),
    (np.full((2, 3, 2), 6), ValueError, r"feature 0 holds id 6, outside its table's range \[0, 6\)"),
    (np.zeros((2, 3, 2)), TypeError, "integer ids"),
])
def test_bad_ids_are_refused(bad, exc, match):
    with pytest.raises(exc, match=match):
        FeatureEmbedding([6, 4], [3, 2])(bad)
