"""``to_onnx``: the exported graph computes ``model(x)``, checked by ONNX Runtime and ONNX's checker.

ONNX Runtime is the oracle for float32 graphs (it runs ONNX's RNN/LSTM/GRU operators with every
activation, but in float32 only); ONNX's reference evaluator is a second, independent runtime for
float64 graphs with the default activations (it ignores the ``activations`` attribute).
"""

import json

import numpy as np
import pytest

from rnnlab.interop.onnx import build, to_onnx
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN
from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.feature_embedding import FeatureEmbedding
from rnnlab.models.sequential import Sequential

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

N, T, D = 4, 9, 5
LENGTHS = np.array([9, 4, 1, 6])


def padded_mask(lengths=LENGTHS, time=T):
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]


def features(dtype="float32", seed=0):
    return np.random.default_rng(seed).normal(size=(N, T, D)).astype(dtype)


def export(model, tmp_path, **options):
    path = tmp_path / "model.onnx"
    to_onnx(model, path, **options)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return path


def run_ort(path, x, lengths=None):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"x": x} if lengths is None else {"x": x, "lengths": np.asarray(lengths, np.int64)}
    return session.run(None, feed)[0]


def assert_same(y, ref):
    """float32 outputs equal to 2e-6 of their scale: rounding, carried through the steps. Measured worst:
    5e-7 with bounded gates (outputs of order 1); with linear gates the outputs grow (to 156) and so
    does the difference, to 1.2e-6 of the largest output (GRU, linear/linear)."""
    assert y.shape == ref.shape and y.dtype == ref.dtype
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=2e-6 * max(1.0, float(np.abs(ref).max())))


CELLS = {
    "rnn": lambda recurrent_activation=None, **k: SimpleRNN(6, **k),  # no gates
    "lstm": lambda **k: LSTM(6, **k),
    "gru": lambda **k: GRU(6, **k),
    "gru_reset_after": lambda **k: GRU(6, reset_after=True, **k),
}
NAMES = ["tanh", "sigmoid", "hard_sigmoid", "relu", "linear"]  # every activation rnnlab has
EVERY_PAIR = [(cell, a, r) for cell in CELLS for a in NAMES for r in (NAMES if cell != "rnn" else [None])]


@pytest.mark.parametrize(("cell", "activation", "recurrent_activation"), EVERY_PAIR)
@pytest.mark.parametrize("use_bias", [True, False])
def test_every_cell_and_activation_pair_gives_the_layers_outputs_at_every_step(
    tmp_path, cell, activation, recurrent_activation, use_bias
):
    layer = CELLS[cell](activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                        return_sequences=True, seed=3, bias_initializer="uniform")
    model = Sequential([layer])
    x = features()
    ref = model.forward(x, padded_mask())[0]
    y = run_ort(export(model, tmp_path, lengths=True), x, LENGTHS)
    assert_same(y, ref)
    assert not y[~padded_mask()].any()  # padded steps output zero, as rnnlab's


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_reads_each_padded_sequence_backward_from_its_own_last_step(
    tmp_path, cell, merge_mode, return_sequences
):
    model = Sequential([Bidirectional(CELLS[cell](return_sequences=return_sequences, seed=5), merge_mode=merge_mode)])
    x = features(seed=1)
    ref = model.forward(x, padded_mask())[0]
    assert_same(run_ort(export(model, tmp_path, lengths=True), x, LENGTHS), ref)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_go_backwards_outputs_in_processing_order_with_and_without_padding(tmp_path, cell, return_sequences):
    model = Sequential([CELLS[cell](return_sequences=return_sequences, go_backwards=True, seed=7)])
    x = features(seed=2)
    ref, ref_padded = model(x), model.forward(x, padded_mask())[0]
    assert_same(run_ort(export(model, tmp_path), x), ref)
    assert_same(run_ort(export(model, tmp_path, lengths=True), x, LENGTHS), ref_padded)


def test_a_stacked_model_with_dropout_and_dense_heads_is_the_inference_model(tmp_path):
    model = Sequential([
        Bidirectional(LSTM(8, return_sequences=True, recurrent_activation="hard_sigmoid", dropout=0.3,
                           recurrent_dropout=0.2, seed=1)),
        Dropout(0.5),
        GRU(7, return_sequences=True, reset_after=True, seed=2),
        SimpleRNN(5, activation="relu", seed=3),
        Dense(6, activation="tanh", seed=4),
        Dense(3, seed=5),
    ])
    x = features(seed=3)
    ref = model.forward(x, padded_mask())[0]
    assert_same(run_ort(export(model, tmp_path, lengths=True), x, LENGTHS), ref)
    for act in ("sigmoid", "hard_sigmoid", "relu"):
        head = Sequential([LSTM(4, return_sequences=True, input_dim=D, seed=1), Dense(3, activation=act, input_dim=4)])
        assert_same(run_ort(export(head, tmp_path), x), head(x))


def test_an_embedding_with_mask_zero_turns_trailing_padding_into_lengths(tmp_path):
    model = Sequential([Embedding(12, 5, mask_zero=True, seed=1),
                        Bidirectional(LSTM(6, return_sequences=True, seed=2)), Dense(4, seed=3)])
    ids = np.random.default_rng(4).integers(1, 12, size=(N, T))
    ids[~padded_mask()] = 0
    ref = model(ids)
    assert_same(run_ort(export(model, tmp_path), ids), ref)
    shorter = np.array([3, 4, 1, 2])  # a lengths input and the mask together: the shorter one counts
    both = padded_mask() & padded_mask(shorter)
    assert_same(run_ort(export(model, tmp_path, lengths=True), ids, shorter), model.forward(ids, both)[0])


def test_a_feature_embedding_tagger_matches_on_padded_token_features(tmp_path):
    model = Sequential([FeatureEmbedding([20, 7, 4], [6, 3, 2], mask_zero=True, word_dropout=0.3, seed=1),
                        Bidirectional(GRU(5, return_sequences=True, seed=2)), Dense(9, seed=3)])
    rng = np.random.default_rng(5)
    ids = np.stack([rng.integers(1, v, size=(N, T)) for v in (20, 7, 4)], axis=-1)
    ids[~padded_mask()] = 0
    ref = model(ids)
    assert_same(run_ort(export(model, tmp_path), ids), ref)


@pytest.mark.parametrize("cell", CELLS)
def test_float64_graphs_match_to_float64_precision_on_the_reference_runtime(tmp_path, cell):
    from onnx.reference import ReferenceEvaluator

    model = Sequential([CELLS[cell](return_sequences=True, seed=1, dtype="float64"), Dense(3, dtype="float64")])
    x = features("float64", seed=6)
    ref = model(x)
    y = ReferenceEvaluator(str(export(model, tmp_path))).run(None, {"x": x})[0]
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-13)
    y32 = run_ort(export(model, tmp_path, dtype="float32"), x.astype(np.float32))  # for ONNX Runtime
    np.testing.assert_allclose(y32, model(x), rtol=1e-5, atol=2e-6)  # float32 against float64: 1e-7 rounding

    head = Sequential([LSTM(4, return_sequences=True, input_dim=D, dtype="float64", seed=2),
                       Dense(3, activation="hard_sigmoid", input_dim=4, dtype="float64")])
    y = ReferenceEvaluator(str(export(head, tmp_path))).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, head(x), rtol=1e-12, atol=1e-13)  # Dense's hard_sigmoid in float64 constants


def test_the_file_carries_the_configuration_and_metadata_and_opset_14(tmp_path):
    model = Sequential([LSTM(4, return_sequences=True, input_dim=D, seed=1), Dense(2, input_dim=4)], name="tagger")
    model.metadata = {"labels": ["NOUN", "VERB"]}
    m = onnx.load(str(export(model, tmp_path)))
    assert m.opset_import[0].version == 14 and m.graph.name == "tagger"
    config = json.loads({p.key: p.value for p in m.metadata_props}["rnnlab.config"])
    assert config["metadata"] == {"labels": ["NOUN", "VERB"]}
    assert [n.op_type for n in m.graph.node if n.op_type == "LSTM"] == ["LSTM"]
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "time", D]


def test_bad_models_are_refused_by_name_and_a_failed_export_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous export")
    with pytest.raises(TypeError, match="exports an rnnlab Sequential model, got LSTM"):
        to_onnx(LSTM(3), path)
    with pytest.raises(ValueError, match="layer lstm is not built yet"):
        to_onnx(Sequential([LSTM(3, name="lstm")]), path)
    with pytest.raises(ValueError, match="merge_mode=None"):
        build(Sequential([Bidirectional(LSTM(3, input_dim=2), merge_mode=None)]))
    with pytest.raises(ValueError, match="an embedding must be the model's first layer"):
        build(Sequential([LSTM(3, input_dim=2, return_sequences=True), Embedding(4, 2)]))
    with pytest.raises(ValueError, match="needs a sequence"):
        build(Sequential([LSTM(3, input_dim=2), LSTM(3, input_dim=3)]))
    with pytest.raises(ValueError, match="dtype must be 'float32', 'float64' or None"):
        build(Sequential([LSTM(3, input_dim=2)]), dtype="float16")
    with pytest.raises(ValueError, match="mix dtypes"):
        build(Sequential([LSTM(3, input_dim=2, return_sequences=True), Dense(2, input_dim=3, dtype="float64")]))
    with pytest.raises(ValueError, match="no layers"):
        build(Sequential([]))
    assert path.read_bytes() == b"previous export"


def test_states_carry_the_recurrent_state_from_call_to_call_as_forward_over_the_whole_sequence(tmp_path):
    model = Sequential([Embedding(11, 4, seed=1), LSTM(6, return_sequences=True, seed=2),
                        GRU(5, return_sequences=True, reset_after=True, seed=3), SimpleRNN(4, return_sequences=True,
                                                                                           seed=4), Dense(11, seed=5)])
    ids = np.random.default_rng(7).integers(0, 11, size=(2, 12))
    ref = model(ids)
    path = tmp_path / "lm.onnx"
    to_onnx(model, path, states=True)
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    names = [layer.name for layer in model._recurrent_layers()]
    assert [i.name for i in m.graph.input] == ["x", f"h0_{names[0]}", f"c0_{names[0]}", f"h0_{names[1]}",
                                               f"h0_{names[2]}"]
    assert [o.name for o in m.graph.output] == ["y", f"h_{names[0]}", f"c_{names[0]}", f"h_{names[1]}",
                                                f"h_{names[2]}"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    state_inputs = [i.name for i in m.graph.input[1:]]
    sizes = [6, 6, 5, 4]
    for window in (1, 5):  # one step at a time (generation) and windows of 5 (the last one shorter)
        state = [np.zeros((2, H), np.float32) for H in sizes]
        ys = []
        for t in range(0, 12, window):
            y, *state = session.run(None, {"x": ids[:, t:t + window], **dict(zip(state_inputs, state, strict=True))})
            ys.append(y)
        assert_same(np.concatenate(ys, axis=1), ref)
    stepper = model.stepper()  # rnnlab's own streaming: the same final states
    for t in range(12):
        stepper.step(ids[:, t])
    for ours, theirs in zip([s for layer_states in stepper.states for s in layer_states], state, strict=True):
        np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=2e-6)


def test_states_with_lengths_return_the_state_after_each_sequences_last_real_step(tmp_path):
    model = Sequential([LSTM(6, return_sequences=True, seed=1, input_dim=D)])
    x = features(seed=8)
    path = tmp_path / "m.onnx"
    to_onnx(model, path, lengths=True, states=True)
    h0, c0 = (np.random.default_rng(9).normal(size=(N, 6)).astype(np.float32) for _ in range(2))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y, h, c = session.run(None, {"x": x, "lengths": LENGTHS, "h0_lstm": h0, "c0_lstm": c0})
    out = model.layers[0].forward(x, initial_state=[h0, c0], lengths=LENGTHS)[0]
    assert_same(y, out)
    layer = LSTM(6, return_sequences=True, return_state=True, input_dim=D)
    layer.params = model.layers[0].params
    _, h_ref, c_ref = layer(x, initial_state=[h0, c0], lengths=LENGTHS)
    assert_same(h, h_ref)
    assert_same(c, c_ref)


def test_states_refuse_layers_that_do_not_read_left_to_right():
    for layer in (Bidirectional(GRU(3, input_dim=2)), LSTM(3, input_dim=2, go_backwards=True)):
        with pytest.raises(ValueError, match="states=True carries the state of layers that read left to right"):
            build(Sequential([layer]), states=True)


def test_a_stream_with_no_real_step_in_a_call_keeps_its_state(tmp_path):
    model = Sequential([Embedding(9, 4, mask_zero=True, seed=1), LSTM(5, return_sequences=True, seed=2),
                        GRU(3, return_sequences=True, seed=3), Dense(9, seed=4)])
    ids = np.random.default_rng(3).integers(1, 9, size=(2, 6))
    ids[1, 2] = 0  # stream 1 pauses at step 2: a padded step in a one-step call
    path = tmp_path / "lm.onnx"
    model(ids)
    to_onnx(model, path, states=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()[1:]]
    state = [np.zeros((2, H), np.float32) for H in (5, 5, 3)]
    stepper = model.stepper()
    for t in range(6):
        y, *state = session.run(None, {"x": ids[:, t : t + 1], **dict(zip(names, state, strict=True))})
        ours = stepper.step(ids[:, t])
        assert_same(y[:, 0], ours)
        for theirs, mine in zip(state, [s for layer in stepper.states for s in layer], strict=True):
            assert_same(theirs, mine)


def test_the_graphs_own_names_are_reserved_whatever_the_layers_are_called(tmp_path):
    from rnnlab.interop.onnx import io_names

    x = features(seed=4)
    for model, states in (
        (Sequential([LSTM(4, return_sequences=True, input_dim=D, name="x"), Dense(2, activation="tanh", name="y")]),
         False),
        (Sequential([Bidirectional(GRU(3, input_dim=D), name="y")]), False),
        (Sequential([SimpleRNN(4, return_sequences=True, input_dim=D, name="a"), Dense(4, name="h_b", input_dim=4),
                     SimpleRNN(3, return_sequences=True, input_dim=4, name="b"), Dense(2, name="lengths",
                                                                                      input_dim=3)]), True),
    ):
        ref = model(x)
        path = tmp_path / "named.onnx"
        to_onnx(model, path, lengths=True, states=states)
        m = onnx.load(str(path))
        onnx.checker.check_model(m, full_check=True)
        inputs, outputs = io_names(model, lengths=True, states=states)
        assert [i.name for i in m.graph.input] == inputs and [o.name for o in m.graph.output] == outputs
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {"x": x, "lengths": np.full(N, T)}
        feed.update({name: np.zeros((N, int(name.endswith("_a")) + 3), np.float32) for name in inputs[2:]})
        assert_same(session.run(None, feed)[0], ref)


def test_a_model_without_a_recurrent_layer_is_refused():
    with pytest.raises(ValueError, match="has no recurrent layer"):
        build(Sequential([Dense(6, activation="relu", input_dim=D), Dense(3, input_dim=6)]))


@pytest.mark.parametrize("names", [["sigmoid", "linear"], ["hard_sigmoid", "linear", "linear"],
                                   ["sigmoid", "hard_sigmoid", "hard_sigmoid"], ["linear"], ["tanh", "tanh"]])
def test_activation_parameters_read_the_same_in_order_of_use_and_by_position(names):
    from rnnlab.interop.onnx import _RNN_ACTIVATIONS, _parameter_list

    alphas = [_RNN_ACTIVATIONS[n][1] for n in names]
    written = _parameter_list(alphas)
    assert len(written) == len(names)
    takers = [a for a in alphas if a is not None]
    assert written[: len(takers)] == takers  # ONNX Runtime: handed out in order to the activations that take one
    assert all(written[k] == a for k, a in enumerate(alphas) if a is not None)  # onnx-mlir: entry k for activation k
    with pytest.raises(ValueError, match="for both ways of reading them"):
        _parameter_list([None, 1.0, 0.2])
