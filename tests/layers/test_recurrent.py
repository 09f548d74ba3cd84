"""The recurrent layers' public pair: outputs, gradients, dropout, state handling and bad input."""

import numpy as np
import pytest

from rnnlab.layers import GRU, LSTM, SimpleRNN
from tests.helpers import assert_close, numerical_grad

LAYERS = [
    ("SimpleRNN", lambda **kw: SimpleRNN(3, **kw)),
    ("LSTM", lambda **kw: LSTM(3, **kw)),
    ("GRU", lambda **kw: GRU(3, **kw)),
    ("GRU-reset_after", lambda **kw: GRU(3, reset_after=True, **kw)),
]
ids = [name for name, _ in LAYERS]
makers = [make for _, make in LAYERS]


def batch(seed=0, N=3, T=5, D=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, T, D)), np.array([5, 2, 4])


@pytest.mark.parametrize("make", makers, ids=ids)
def test_output_structure_follows_keras(make):
    x, _ = batch()
    layer = make(seed=0)
    assert layer(x).shape == (3, 3)
    layer = make(return_sequences=True, return_state=True, seed=0)
    out = layer(x)
    assert out[0].shape == (3, 5, 3)
    assert len(out) == 1 + len(layer.state_names)
    np.testing.assert_array_equal(out[0][:, -1], out[1])
    assert layer(x).__class__ is list and out[0].dtype == np.float32


@pytest.mark.parametrize("make", makers, ids=ids)
@pytest.mark.parametrize(
    "options",
    [
        dict(return_sequences=True),
        dict(return_sequences=False, return_state=True),
        dict(return_sequences=True, go_backwards=True),
        dict(return_sequences=True, truncate_gradient=2),
    ],
    ids=["seq", "last+state", "backwards", "truncated"],
)
def test_layer_gradients_match_central_differences(make, options):
    x, lengths = batch(1)
    layer = make(dtype="float64", seed=3, recurrent_initializer="glorot_uniform", **options)
    layer.build(2)
    rng = np.random.default_rng(7)
    for v in layer.params.values():
        v += rng.normal(0, 0.3, v.shape)
    h0 = [rng.normal(size=(3, 3)) for _ in layer.state_names]
    out, cache = layer.forward(x, initial_state=h0, lengths=lengths)
    douts = [rng.normal(size=o.shape) for o in (out if isinstance(out, list) else [out])]
    dout = douts if isinstance(out, list) else douts[0]
    dx, dh0 = layer.backward(dout, cache)
    if options.get("truncate_gradient"):
        # truncation is checked against detached windows in tests/cells; here: it changes the result
        layer.truncate_gradient = None
        dx_full, _ = layer.backward(dout, layer.forward(x, initial_state=h0, lengths=lengths)[1])
        assert np.abs(dx_full - dx).max() > 1e-6
        return

    def f():
        o = layer(x, initial_state=h0, lengths=lengths)
        return float(sum((a * d).sum() for a, d in zip(o if isinstance(o, list) else [o], douts, strict=True)))

    grads = dict(layer.grads)
    assert_close("dx", dx, numerical_grad(f, x), 1e-6)
    for name, s, ds in zip(layer.state_names, h0, dh0, strict=True):
        assert_close(f"d{name}0", ds, numerical_grad(f, s), 1e-6)
    for name, v in layer.params.items():
        assert_close(f"d{name}", grads[name], numerical_grad(f, v), 1e-6)


@pytest.mark.parametrize("make", makers, ids=ids)
def test_dropout_gradient_with_a_fixed_mask_and_off_at_inference(make):
    x, lengths = batch(2)
    layer = make(dtype="float64", dropout=0.3, recurrent_dropout=0.4, return_sequences=True, seed=1)
    layer.build(2)
    dout = np.random.default_rng(3).normal(size=(3, 5, 3))

    def f():
        layer.rng = np.random.default_rng(42)  # the same dropout masks at every evaluation
        return float((layer.forward(x, lengths=lengths, training=True)[0] * dout).sum())

    layer.rng = np.random.default_rng(42)
    out, cache = layer.forward(x, lengths=lengths, training=True)
    dx, _ = layer.backward(dout, cache)
    grads = dict(layer.grads)
    assert_close("dx", dx, numerical_grad(f, x), 1e-6)
    for name, v in layer.params.items():
        assert_close(f"d{name}", grads[name], numerical_grad(f, v), 1e-6)
    assert cache["xdrop"] is not None and np.any(cache["xdrop"] == 0)
    # training=False: no dropout, deterministic
    a, b = layer(x, lengths=lengths), layer(x, lengths=lengths)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, out)


def test_recurrent_dropout_mask_is_the_same_at_every_step():
    layer = SimpleRNN(4, recurrent_dropout=0.5, dtype="float64", seed=0)
    x = np.zeros((2, 6, 1))
    _, cache = layer.forward(x, training=True)
    rdrop = cache["cell_cache"]["rdrop"]
    assert rdrop.shape == (2, 4)  # one mask per sequence, reused by the cell at every step
    assert set(np.unique(rdrop)) <= {0.0, 2.0}


@pytest.mark.parametrize("make", makers, ids=ids)
def test_go_backwards_reads_the_sequence_reversed(make):
    x, _ = batch(4)
    fwd = make(return_sequences=True, seed=5, dtype="float64")
    bwd = make(return_sequences=True, go_backwards=True, seed=5, dtype="float64")
    np.testing.assert_allclose(bwd(x), fwd(x[:, ::-1]), rtol=1e-12)


def test_float32_and_float64_agree():
    x, lengths = batch(5)
    a = LSTM(4, return_sequences=True, seed=0, dtype="float64")
    b = LSTM(4, return_sequences=True, seed=0, dtype="float32")
    b.build(2)
    a.build(2)
    b.params = {k: v.astype(np.float32) for k, v in a.params.items()}
    assert np.abs(a(x, lengths=lengths) - b(x, lengths=lengths)).max() < 1e-5


def test_stateful_layer_carries_its_state():
    x, _ = batch(6, T=6)
    whole = GRU(3, seed=0, dtype="float64", return_sequences=True)
    parts = GRU(3, seed=0, dtype="float64", return_sequences=True, stateful=True)
    np.testing.assert_allclose(np.concatenate([parts(x[:, :3]), parts(x[:, 3:])], axis=1), whole(x), rtol=1e-12)
    parts.reset_states()
    np.testing.assert_allclose(parts(x[:, :3]), whole(x)[:, :3], rtol=1e-12)
    with pytest.raises(ValueError, match="batch size 3"):
        parts(x[:2, :3])


def test_unit_forget_bias_and_initializers():
    layer = LSTM(4, input_dim=3, seed=0)
    np.testing.assert_array_equal(layer.params["b"][4:8], 1.0)
    W_R = layer.params["W_R"].astype(np.float64)
    np.testing.assert_allclose(W_R @ W_R.T, np.eye(4), atol=1e-6)  # orthogonal rows
    assert LSTM(4, input_dim=3, unit_forget_bias=False).params["b"].max() == 0.0


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.zeros((3, 2)), ValueError, r"rank 3 \(batch, time, features\), got shape \(3, 2\)"),
        (np.zeros((3, 5, 7)), ValueError, "7 features per step but the layer was built for 2"),
        (np.zeros((3, 5, 2), dtype=np.int64), TypeError, "floating-point array, got dtype int64"),
        (np.full((3, 5, 2), np.nan), ValueError, r"NaN or inf \(first at index \(0, 0, 0\)\)"),
        (np.zeros((3, 0, 2)), ValueError, "is empty"),
        ([np.zeros((4, 2)), np.zeros((2, 2))], ValueError, "ragged list of sequences"),
    ],
)
def test_bad_input_is_refused_clearly(bad, exc, match):
    layer = LSTM(3, input_dim=2)
    with pytest.raises(exc, match=match):
        layer(bad)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(mask=np.ones((3, 4), bool)), ValueError, r"mask must have shape \(batch, time\) = \(3, 5\)"),
        (dict(mask=np.ones((3, 5)) * 0.5), TypeError, "mask must be boolean"),
        (dict(lengths=np.array([5, 0, 2])), ValueError, "sequence 1 has length 0"),
        (dict(lengths=np.array([5, 6, 2])), ValueError, "only 5 steps"),
        (dict(lengths=np.array([5, 2])), ValueError, r"lengths must have shape \(3,\)"),
        (dict(mask=np.array([[1] * 5, [0] * 5, [1] * 5], bool)), ValueError, "sequence 1 has no real step"),
        (dict(initial_state=[np.zeros((3, 3))]), ValueError, "list of 2 arrays"),
        (dict(initial_state=[np.zeros((3, 3)), np.zeros((2, 3))]), ValueError, r"must have shape \(3, 3\)"),
    ],
)
def test_bad_masks_lengths_and_states_are_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        LSTM(3, input_dim=2).forward(np.zeros((3, 5, 2)), **kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(units=0), ValueError, "units must be a positive integer, got 0"),
        (dict(units=2.5), TypeError, "units must be a positive integer"),
        (dict(units=3, activation="swish"), ValueError, "unknown activation 'swish'"),
        (dict(units=3, recurrent_activation="step"), ValueError, "unknown recurrent_activation 'step'"),
        (dict(units=3, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
        (dict(units=3, truncate_gradient=0), ValueError, "truncate_gradient must be a positive integer"),
        (dict(units=3, dtype="float16"), ValueError, "'float32' or 'float64'"),
        (dict(units=3, kernel_initializer="he"), ValueError, "unknown kernel_initializer 'he'"),
    ],
)
def test_bad_constructor_arguments_are_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        LSTM(**kwargs)


def test_config_rebuilds_the_same_layer():
    layer = GRU(5, reset_after=True, recurrent_activation="hard_sigmoid", dropout=0.1, seed=3)
    clone = GRU(**layer.get_config())
    assert clone.get_config() == layer.get_config()
    x, _ = batch()
    np.testing.assert_array_equal(clone(x), layer(x))
