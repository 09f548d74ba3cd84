"""``Recurrent.stepper()``: one step at a time gives the layer's forward exactly, on both backends, in
both dtypes, for every cell option; the weights are a snapshot; clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab import backend
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN, Stepper
from tests.helpers import assert_close

BACKENDS = [
    "numpy",
    pytest.param("numba", marks=pytest.mark.skipif(not backend.numba_available(), reason="numba is not installed")),
]
DTYPES = ["float32", "float64"]
TOL = {"float32": 1e-5, "float64": 1e-12}
LAYERS = {
    "rnn": lambda **kw: SimpleRNN(5, **kw),
    "rnn-relu": lambda **kw: SimpleRNN(5, activation="relu", **kw),
    "rnn-nobias": lambda **kw: SimpleRNN(5, use_bias=False, **kw),
    "lstm": lambda **kw: LSTM(5, **kw),
    "lstm-hard": lambda **kw: LSTM(5, recurrent_activation="hard_sigmoid", **kw),
    "lstm-nobias": lambda **kw: LSTM(5, use_bias=False, **kw),
    "gru": lambda **kw: GRU(5, **kw),
    "gru-reset-after": lambda **kw: GRU(5, reset_after=True, **kw),
    "gru-hard-nobias": lambda **kw: GRU(5, recurrent_activation="hard_sigmoid", use_bias=False, **kw),
    "gru-reset-after-nobias": lambda **kw: GRU(5, reset_after=True, use_bias=False, **kw),
}
N, T, D, H = 3, 9, 4, 5


def randomize_biases(layer, rng):
    """Nonzero biases (the initializers give zeros), so that the tests see them used."""
    for key in ("b", "b_R"):
        if key in layer.params:
            layer.params[key][...] = rng.normal(size=layer.params[key].shape)


def make(name, dtype, **kw):
    layer = LAYERS[name](input_dim=D, return_sequences=True, return_state=True, dtype=dtype, seed=11, **kw)
    randomize_biases(layer, np.random.default_rng(5))
    return layer


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LAYERS))
def test_steps_equal_the_full_sequence_forward(name, dtype, backend_name):
    check_steps(name, dtype, backend_name)


@pytest.mark.skipif(not backend.numba_available(), reason="numba is not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [n for n in LAYERS if not n.startswith("rnn")])
def test_steps_in_two_halves_of_units_equal_the_full_sequence_forward(name, dtype, monkeypatch):
    """Big LSTM and GRU weights step in two halves, on two cores with MKL (kernels._team): forced here."""
    from rnnlab.kernels import _team

    monkeypatch.setattr(_team, "TEAM_MIN_BYTES", 0)
    calls = []
    team = _team.team
    monkeypatch.setattr(_team, "team", lambda nbytes: calls.append(nbytes) or team(nbytes))
    check_steps(name, dtype, "numba")
    assert len(calls) == T, "the steps did not run in halves"


def check_steps(name, dtype, backend_name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, T, D)).astype(dtype)
    with backend.use_backend(backend_name):
        layer = make(name, dtype)
        S = len(layer.state_names)
        initial = [rng.normal(scale=0.5, size=(N, H)).astype(dtype) for _ in range(S)]
        seq, *final = layer(x, initial_state=initial)
        step = layer.stepper()
        assert step.backend == backend_name and step.dtype == np.dtype(dtype)
    state = tuple(initial)
    outs = []
    for t in range(T):
        state = step(x[:, t], state)  # x[:, t] is not contiguous: the stepper copes
        assert isinstance(state, tuple) and len(state) == S
        assert all(s.shape == (N, H) and s.dtype == np.dtype(dtype) for s in state)
        outs.append(state[0])
    assert_close(f"{name} outputs", np.stack(outs, axis=1), seq, TOL[dtype])
    for k, (ours, ref) in enumerate(zip(state, final, strict=True)):
        assert_close(f"{name} final state {layer.state_names[k]}", ours, ref, TOL[dtype])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("name", ["lstm", "gru-reset-after", "rnn"])
def test_zero_start_and_one_stream_input(name, backend_name):
    """``state=None`` is zeros; ``x_t (D,)`` gives ``(H,)`` states, the same numbers as a batch of one."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, T, D)).astype("float64")
    with backend.use_backend(backend_name):
        layer = make(name, "float64")
        seq = layer(x)[0]
        step = layer.stepper()
    state = None
    for t in range(T):
        state = step.step(x[0, t], state)
        assert all(s.shape == (H,) for s in state)
        assert_close(f"step {t}", state[0], seq[0, t], 1e-12)
    zeros = step.zero_state()
    assert len(zeros) == len(layer.state_names) and all(z.shape == (H,) and not z.any() for z in zeros)
    assert all(z.shape == (4, H) for z in step.zero_state(4))
    np.testing.assert_array_equal(step(x[0, 0])[0], step(x[0, 0], zeros)[0])  # None is zeros


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_state_built_by_the_caller_equals_the_returned_one(backend_name):
    """The fast path (the tuple the last step returned) and a checked copy give the same step; lists and
    ``(1, H)`` states work for one stream; float64 input runs in the layer's float32."""
    rng = np.random.default_rng(3)
    with backend.use_backend(backend_name):
        step = make("lstm", "float32").stepper()
    x = rng.normal(size=(T, D))  # float64
    state = None
    for t in range(3):
        state = step(x[t], state)
    fast = step(x[3], state)
    copied = step(x[3], [s.copy() for s in state])
    batched = step(x[3], tuple(s[None, :] for s in state))
    assert fast[0].dtype == np.float32
    np.testing.assert_array_equal(fast[0], copied[0])
    np.testing.assert_array_equal(fast[1], copied[1])
    np.testing.assert_array_equal(fast[0], batched[0])
    assert batched[0].shape == (H,)  # the rank follows x_t


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_weights_are_a_snapshot(backend_name):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, D))
    with backend.use_backend(backend_name):
        for name in ("lstm", "gru", "gru-reset-after", "rnn"):
            layer = make(name, "float64")
            step = layer.stepper()
            before = step(x)[0]
            for key in layer.params:
                layer.params[key] += 0.5  # in place: the arrays the stepper was made from
            np.testing.assert_array_equal(step(x)[0], before)
            changed = layer.stepper()(x)[0]  # a new stepper sees the new weights
            assert np.abs(changed - before).max() > 1e-3
            assert_close(f"{name} new stepper", changed, layer(x[:, None, :])[0][:, 0], 1e-12)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_dropout_is_off_and_stateful_carry_is_not_used(backend_name):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(N, T, D)).astype("float32")
    with backend.use_backend(backend_name):
        layer = LSTM(H, dropout=0.5, recurrent_dropout=0.5, stateful=True, return_sequences=True, input_dim=D,
                     seed=2)
        step = layer.stepper()
        layer(x)  # a stateful call: the layer now carries a state, the stepper does not use it
        layer.reset_states()
        seq = layer(x, training=False)
    state = None
    for t in range(T):
        state = step(x[:, t], state)
    assert_close("last output", state[0], seq[:, -1], 1e-5)


def test_the_backend_is_the_one_in_effect_when_made():
    layer = make("gru", "float64")
    with backend.use_backend("numpy"):
        step = layer.stepper()
    assert step.backend == "numpy"
    if backend.numba_available():
        with backend.use_backend("numba"):
            assert step.backend == "numpy" and layer.stepper().backend == "numba"
            x = np.ones((1, D))
            assert_close("numba vs numpy", layer.stepper()(x)[0], step(x)[0], 1e-12)
    assert "Stepper(" in repr(step) and "backend='numpy'" in repr(step)


def test_refusals_are_clear():
    layer = make("lstm", "float32")
    step = layer.stepper()
    with pytest.raises(ValueError, match="Bidirectional and cannot stream.*backward direction"):
        Stepper(Bidirectional(LSTM(H, input_dim=D, name="tagger")))
    with pytest.raises(ValueError, match="'rev' has go_backwards=True and cannot stream"):
        LSTM(H, go_backwards=True, input_dim=D, name="rev").stepper()
    with pytest.raises(ValueError, match="not built yet"):
        GRU(H).stepper()
    with pytest.raises(TypeError, match="only a SimpleRNN, LSTM or GRU layer can stream"):
        Stepper("lstm")
    with pytest.raises(ValueError, match=rf"x_t must have shape \(batch, {D}\).*built for {D} features.*\(2, 7\)"):
        step(np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 4\)"):
        step(np.zeros((2, 3, D), np.float32))
    bad = np.zeros((2, D))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"x_t contains NaN or inf \(first at index \(1, 2\)\)"):
        step(bad)
    with pytest.raises(ValueError, match="x_t contains NaN or inf"):
        step(np.array([0.0, np.inf, 0.0, 0.0]))
    with pytest.raises(TypeError, match="floating-point.*Embedding layer first"):
        step(np.zeros((2, D), np.int64))
    with pytest.raises(ValueError, match=r"state for layer .* tuple of 2 array\(s\) \(h, c\)"):
        step(np.zeros((2, D)), (np.zeros((2, H)),))
    with pytest.raises(ValueError, match=r"state c must have 5 units"):
        step(np.zeros((2, D)), (np.zeros((2, H)), np.zeros((2, 3))))
    with pytest.raises(ValueError, match="batch of 3 but x_t has a batch of 2"):
        step(np.zeros((2, D)), (np.zeros((3, H)), np.zeros((3, H))))
    nan_state = (np.zeros((2, H)), np.full((2, H), np.nan))
    with pytest.raises(ValueError, match="state c contains NaN or inf"):
        step(np.zeros((2, D)), nan_state)
    returned = step(np.zeros((2, D)))  # a state handed out for a batch of 2 is not trusted for a batch of 3
    with pytest.raises(ValueError, match="batch of 2 but x_t has a batch of 3"):
        step(np.zeros((3, D)), returned)
