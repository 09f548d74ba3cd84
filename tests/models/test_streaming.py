"""``Sequential.stepper()``: a model run one step at a time gives ``forward``/``predict`` exactly; states
can be carried, saved and restored; clear refusals; ``tasks.chars.sample`` generates the same text as
before it streamed."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab import backend
from rnnlab.data import CharVocab
from rnnlab.layers import GRU, LSTM, Bidirectional, Layer, SequentialStepper, SimpleRNN
from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.feature_embedding import FeatureEmbedding
from rnnlab.models import Sequential
from rnnlab.tasks import chars
from tests.helpers import assert_close

BACKENDS = [
    "numpy",
    pytest.param("numba", marks=pytest.mark.skipif(not backend.numba_available(), reason="numba is not installed")),
]
DTYPES = ["float32", "float64"]
TOL = {"float32": 1e-5, "float64": 1e-12}
V, N, T = 11, 3, 8


def randomize_biases(model, rng):
    for layer in model.layers:
        for key in ("b", "b_R"):
            if key in layer.params:
                layer.params[key][...] = rng.normal(scale=0.5, size=layer.params[key].shape)


def stacked_lm(dtype, mask_zero=False, last_sequences=True):
    """Embedding + 2 LSTMs + Dropout + Dense, built."""
    model = Sequential([
        Embedding(V, 6, mask_zero=mask_zero, dtype=dtype, seed=1),
        LSTM(7, return_sequences=True, dtype=dtype, seed=2),
        LSTM(5, return_sequences=last_sequences, recurrent_activation="hard_sigmoid", dtype=dtype, seed=3),
        Dropout(0.3, dtype=dtype),
        Dense(V, dtype=dtype, seed=4),
    ])
    model(np.ones((1, 2), np.int64))  # builds the layers
    randomize_biases(model, np.random.default_rng(7))
    return model


def stream(stepper, x):
    """Step through ``x (N, T, ...)`` one step at a time; outputs stacked to ``(N, T, ...)``."""
    return np.stack([stepper.step(x[:, t]) for t in range(x.shape[1])], axis=1)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_stacked_lstms_step_to_the_forward_outputs(dtype, backend_name):
    ids = np.random.default_rng(0).integers(1, V, size=(N, T))
    with backend.use_backend(backend_name):
        model = stacked_lm(dtype)
        ref = model(ids)  # (N, T, V)
        predicted = model.predict(ids)
        gen = model.stepper()
    assert isinstance(gen, SequentialStepper)
    out = stream(gen, ids)
    assert out.shape == (N, T, V) and out.dtype == np.dtype(dtype)
    assert_close("stepped vs forward", out, ref, TOL[dtype])
    assert_close("stepped vs predict", out, predicted, TOL[dtype])
    gen.reset()  # one stream at a time, ids as plain ints: each row alone
    for n in range(N):
        gen.reset()
        row = np.stack([gen.step(int(i)) for i in ids[n]])
        assert row.shape == (T, V)
        assert_close(f"stream {n}", row, ref[n], TOL[dtype])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_many_to_one_outputs_the_prediction_so_far(dtype, backend_name):
    """A final recurrent layer with ``return_sequences=False``: the output after step ``t`` is the model's
    output for the sequence cut after ``t``."""
    ids = np.random.default_rng(1).integers(1, V, size=(N, T))
    with backend.use_backend(backend_name):
        model = stacked_lm(dtype, last_sequences=False)
        refs = [model(ids[:, : t + 1]) for t in range(T)]  # (N, V) each
        gen = model.stepper()
    for t in range(T):
        assert_close(f"prefix {t + 1}", gen.step(ids[:, t]), refs[t], TOL[dtype])


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_padding_id_zero_keeps_the_state_as_forward_does(backend_name):
    ids = np.random.default_rng(2).integers(1, V, size=(N, T))
    ids[0, 5:] = 0  # right padding
    ids[1, 2] = 0  # a gap
    ids[2, :2] = 0  # left padding
    with backend.use_backend(backend_name):
        for last_sequences in (True, False):
            model = stacked_lm("float64", mask_zero=True, last_sequences=last_sequences)
            gen = model.stepper()
            out = stream(gen, ids)
            ref = model(ids)
            if last_sequences:
                assert_close("padded sequences", out, ref, 1e-12)
            else:
                assert_close("padded, many-to-one", out[:, -1], ref, 1e-12)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_feature_embedding_and_float_input_models(backend_name):
    rng = np.random.default_rng(3)
    feats = np.stack([rng.integers(1, 9, size=(N, T)), rng.integers(0, 4, size=(N, T))], axis=-1)  # (N, T, 2)
    x = rng.normal(size=(N, T, 4))
    with backend.use_backend(backend_name):
        tagger = Sequential([FeatureEmbedding([9, 4], [5, 2], dtype="float64", seed=1),
                             GRU(6, return_sequences=True, reset_after=True, dtype="float64", seed=2),
                             Dense(3, activation="sigmoid", dtype="float64", seed=3)])
        sensor = Sequential([Dropout(0.2), SimpleRNN(6, activation="relu", return_sequences=True, seed=4),
                             Dense(5, activation="tanh", seed=5), GRU(4, return_sequences=True, seed=6),
                             Dense(2, seed=7)])
        tag_ref, sensor_ref = tagger(feats), sensor(x)
        tag_gen, sensor_gen = tagger.stepper(), sensor.stepper()
    assert_close("feature embedding", stream(tag_gen, feats), tag_ref, 1e-12)
    assert_close("float input", stream(sensor_gen, x), sensor_ref, 1e-5)
    tag_gen.reset()
    sensor_gen.reset()
    one = np.stack([tag_gen.step(feats[1, t]) for t in range(T)])  # (F,) ids: one stream
    assert one.shape == (T, 3)
    assert_close("one stream of features", one, tag_ref[1], 1e-12)
    one = np.stack([sensor_gen(x[2, t]) for t in range(T)])  # (D,) floats: one stream
    assert one.shape == (T, 2)
    assert_close("one stream of floats", one, sensor_ref[2], 1e-5)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_states_can_be_read_restored_and_reset(backend_name):
    ids = np.random.default_rng(4).integers(1, V, size=(N, T))
    with backend.use_backend(backend_name):
        model = stacked_lm("float64")
        gen, fresh = model.stepper(), model.stepper()
    assert gen.states == [None, None]
    for t in range(3):
        gen.step(ids[:, t])
    saved = gen.states
    assert [len(s) for s in saved] == [2, 2] and saved[0][0].shape == (N, 7) and saved[1][1].shape == (N, 5)
    kept = [tuple(a.copy() for a in s) for s in saved]
    first = stream(gen, ids[:, 3:])
    for s, k in zip(saved, kept, strict=True):  # later steps made new arrays: the saved list is intact
        for a, b in zip(s, k, strict=True):
            np.testing.assert_array_equal(a, b)
    gen.states = saved
    np.testing.assert_array_equal(stream(gen, ids[:, 3:]), first)
    gen.reset()
    assert gen.states == [None, None]
    np.testing.assert_array_equal(stream(gen, ids[:, :2]), stream(fresh, ids[:, :2]))
    gen.states = [None, saved[1]]  # None is zeros for that layer
    assert gen.states[0] is None
    gen.states = None
    assert gen.states == [None, None]
    # one stream: (H,) arrays are accepted as a batch of one
    gen.step(3)
    one = [tuple(a[0] for a in s) for s in gen.states]
    gen.states = one
    assert gen.states[0][0].shape == (1, 7)
    with pytest.raises(ValueError, match=r"one entry per recurrent layer \(2: lstm, lstm_1\)"):
        gen.states = [saved[0]]
    with pytest.raises(ValueError, match=r"states of 'lstm_1' c must have 5 units"):
        gen.states = [saved[0], (saved[1][0], np.zeros((N, 4)))]
    with pytest.raises(ValueError, match=r"states are for different batch sizes \[1, 3\]"):
        gen.states = [saved[0], one[1]]
    gen.states = saved  # a batch of 3 is carried: a batch of 2 is refused until reset()
    with pytest.raises(ValueError, match="carries states for a batch of 3, got a batch of 2; call reset()"):
        gen.step(ids[:2, 0])
    gen.reset()
    assert gen.step(ids[:2, 0]).shape == (2, V)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_weights_are_a_snapshot(backend_name):
    ids = np.random.default_rng(5).integers(1, V, size=(N, T))
    with backend.use_backend(backend_name):
        model = stacked_lm("float64")
        gen = model.stepper()
        before = stream(gen, ids)
        model.set_weights({k: v + 0.25 for k, v in model.get_weights().items()})  # in place
        gen.reset()
        np.testing.assert_array_equal(stream(gen, ids), before)
        after = stream(model.stepper(), ids)
        assert np.abs(after - before).max() > 1e-3
        assert_close("a new stepper sees the new weights", after, model(ids), 1e-12)


class Doubler(Layer):
    def forward(self, x, **kwargs):
        return 2 * x, None


def test_refusals_name_the_layer():
    lstm = LSTM(4, return_sequences=True, input_dim=3)
    bidi = Sequential([Embedding(V, 3), Bidirectional(LSTM(4, return_sequences=True), name="context"), Dense(2)])
    bidi(np.ones((1, 2), np.int64))
    with pytest.raises(ValueError, match="layer 'context' is Bidirectional and cannot stream"):
        bidi.stepper()
    backwards = Sequential([GRU(4, go_backwards=True, return_sequences=True, input_dim=3, name="rev"), Dense(2)])
    backwards(np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="layer 'rev' has go_backwards=True and cannot stream"):
        backwards.stepper()
    middle = Sequential([LSTM(4, input_dim=3, name="encoder"), LSTM(4, input_dim=4)])
    with pytest.raises(ValueError, match="follows 'encoder', which has return_sequences=False.*encoder"):
        middle.stepper()
    with pytest.raises(TypeError, match=r"layer 1 \('doubler', Doubler\) cannot stream"):
        Sequential([lstm, Doubler()]).stepper()
    with pytest.raises(ValueError, match="Embedding\\).*must be the model's first layer"):
        Sequential([Dense(3, input_dim=3), Embedding(V, 3)]).stepper()
    with pytest.raises(ValueError, match="not built yet"):
        Sequential([Embedding(V, 3), LSTM(4), Dense(2)]).stepper()
    with pytest.raises(ValueError, match="no layers"):
        Sequential().stepper()

    floats = Sequential([lstm, Dense(2, input_dim=4)]).stepper()
    with pytest.raises(ValueError, match=r"x_t must have shape \(batch, 3\).*got shape \(2, 5\)"):
        floats.step(np.zeros((2, 5)))
    bad = np.zeros((2, 3))
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match=r"x_t contains NaN or inf \(first at index \(0, 1\)\)"):
        floats.step(bad)
    with pytest.raises(TypeError, match="floating-point.*Embedding layer first"):
        floats.step(np.zeros((2, 3), np.int32))
    assert floats.states == [None]  # a refused step changes nothing

    lm = stacked_lm("float32").stepper()
    with pytest.raises(ValueError, match=f"token id {V}, outside the embedding's range"):
        lm.step(V)
    with pytest.raises(ValueError, match=r"one token id or a \(batch,\) array of ids.*\(2, 2\)"):
        lm.step(np.ones((2, 2), np.int64))
    with pytest.raises(TypeError, match="integer token ids"):
        lm.step(1.0)
    tagger = Sequential([FeatureEmbedding([5, 3], [2, 2]), GRU(3, return_sequences=True)])
    tagger(np.ones((1, 2, 2), np.int64))
    with pytest.raises(ValueError, match=r"shape \(batch, 2\) or \(2,\).*got shape \(3,\)"):
        tagger.stepper().step(np.ones(3, np.int64))
    with pytest.raises(ValueError, match="x_t feature 1 holds token id 3"):
        tagger.stepper().step(np.array([1, 3]))


# -- tasks.chars.sample: the same text as the implementation before streaming ---------------------


def sample_by_reruns(model, vocab, length, temperature, rng, prime):
    """The pre-streaming ``sample``: the prime in one forward pass, then one-character forward passes
    with the state carried through ``initial_state`` (``chars.run_with_state``)."""
    layers = chars._stepping_layers(model)
    logits, states = chars.run_with_state(layers, vocab.encode(prime)[None, :], None)
    out = np.empty(length, dtype=np.int64)
    for t in range(length):
        z = logits[0, -1].astype(np.float64)
        z[vocab.unk_index] = -np.inf
        if temperature == 0.0:
            nxt = int(np.argmax(z))
        else:
            z = z / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        out[t] = nxt
        logits, states = chars.run_with_state(layers, np.array([[nxt]]), states)
    return vocab.decode(out)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_chars_sample_generates_the_same_text_as_before(dtype, backend_name):
    text = "to be or not to be, that is the question.\nwhether 'tis nobler in the mind to suffer\n"
    vocab = CharVocab.build(text)
    K = len(vocab)
    with backend.use_backend(backend_name):
        model = Sequential([Embedding(K, 8, dtype=dtype, seed=1), LSTM(12, return_sequences=True, dtype=dtype, seed=2),
                            GRU(10, return_sequences=True, dtype=dtype, seed=3), Dropout(0.1),
                            Dense(K, dtype=dtype, seed=4)])
        model(np.ones((1, 1), np.int64))
        model.set_weights({k: v * 3 for k, v in model.get_weights().items()})  # peaky, varied distributions
        for temperature, seed, prime in ((1.0, 0, "to be"), (0.6, 1, "\n"), (0.0, 2, "the q"), (1.5, 3, "w")):
            ours = chars.sample(model, vocab, 60, temperature, np.random.default_rng(seed), prime)
            before = sample_by_reruns(model, vocab, 60, temperature, np.random.default_rng(seed), prime)
            assert len(ours) == 60 and set(ours) <= set(text)
            assert ours == before, (temperature, seed, prime)
        assert chars.sample(model, vocab, 0, 1.0, np.random.default_rng(0), "t") == ""
