"""Sequential: save/load, exact resume from checkpoints, truncated BPTT windows, bad input."""

import numpy as np
import pytest

import rnnlab
from rnnlab.data import adding_problem
from rnnlab.io import ModelFileError
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN
from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.embedding import Embedding
from rnnlab.models import Sequential, training


def tagger(seed=0, dtype="float32"):
    model = Sequential([
        Embedding(20, 6, mask_zero=True, seed=seed, dtype=dtype),
        Bidirectional(LSTM(5, return_sequences=True, recurrent_dropout=0.2, seed=seed + 1, dtype=dtype)),
        Dropout(0.3, seed=seed + 2, dtype=dtype),
        Dense(4, seed=seed + 3, dtype=dtype),
    ], seed=seed)
    return model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])


def tag_data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = [rng.integers(1, 20, rng.integers(2, 9)) for _ in range(n)]
    y = [(s % 4) for s in x]
    return x, y


def test_variable_length_lists_train_and_predict_per_sequence():
    x, y = tag_data()
    model = tagger()
    history = model.fit(x, y, batch_size=5, epochs=3, verbose=0, validation_data=tag_data(8, 1))
    assert len(history.epoch) == 3 and history.history["loss"][-1] < history.history["loss"][0]
    assert {"val_loss", "val_accuracy", "grad_norm", "lr"} <= set(history.history)
    pred = model.predict(x[:3])
    assert [p.shape for p in pred] == [(len(s), 4) for s in x[:3]]


def _numpy_blas_threads():
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]


@pytest.mark.skipif(not rnnlab.backend.numba_available(), reason="numba is not installed")
@pytest.mark.parametrize("backend_name", ["numba", "numpy"])
def test_numpy_blas_runs_on_one_thread_while_split_kernels_compute(monkeypatch, backend_name):
    """With kernels that split batches over the cores, NumPy's own BLAS is held at one thread during
    each batch (its idle threads would spin on a core the parts need), and restored afterwards."""
    from threadpoolctl import threadpool_limits

    from rnnlab.kernels import _blas

    monkeypatch.setattr(_blas, "CPUS", 2)
    x, y = tag_data()
    model = tagger()
    seen = []
    forward = model.forward

    def spy(*args, **kwargs):
        seen.append(_numpy_blas_threads())
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    with threadpool_limits(2, user_api="blas"), rnnlab.backend.use_backend(backend_name):
        before = _numpy_blas_threads()
        if not before or max(before) < 2:
            pytest.skip("NumPy's BLAS runs on one thread here")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=tag_data(8, 1))
        model.predict(x[:4])
        after = _numpy_blas_threads()
    quiet = backend_name == "numba" and _blas.manages_threads()
    assert len(seen) == 3 + 1 + 1  # three batches, one validation batch, one prediction batch
    assert all(threads == ([1] * len(before) if quiet else before) for threads in seen), seen
    assert after == before


def test_save_load_gives_bit_identical_predictions(tmp_path):
    x, y = tag_data()
    model = tagger()
    model.metadata = {"tags": ["A", "B", "C", "D"]}
    model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    model.save(tmp_path / "m.rnnlab")
    loaded = rnnlab.load_model(tmp_path / "m.rnnlab")
    for a, b in zip(model.predict(x), loaded.predict(x), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.metadata == model.metadata
    assert loaded.get_config()["layers"] == model.get_config()["layers"]
    assert loaded.evaluate(x, y)["loss"] == model.evaluate(x, y)["loss"]


@pytest.mark.parametrize("content, match", [
    (b"", "file"), (b"not a model at all", "file"), (b"\x80\x04\x95pickle", "file"),
])
def test_loading_garbage_raises_a_clear_error(tmp_path, content, match):
    path = tmp_path / "bad.rnnlab"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="bad.rnnlab"):
        rnnlab.load_model(path)


def test_truncated_model_file_raises_and_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    x, _ = tag_data()
    model = tagger()
    model(np.array([x[0]]))
    path = tmp_path / "m.rnnlab"
    model.save(path)
    data = path.read_bytes()
    (tmp_path / "cut.rnnlab").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cut.rnnlab"):
        rnnlab.load_model(tmp_path / "cut.rnnlab")
    import os

    def failing_replace(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.rnnlab", "m.rnnlab"]


class CrashError(Exception):
    pass


def test_a_crashed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """Shuffling, dropout masks, Adam's moments and the epoch's running sums all resume exactly."""
    x, y = tag_data(30)
    reference = tagger()
    ref_history = reference.fit(x, y, batch_size=4, epochs=3, verbose=0)

    ckpt = tmp_path / "ckpt.rnnlab"
    crashed = tagger()
    real_step, calls = training.train_step, {"n": 0}

    def crashing_step(*args):
        calls["n"] += 1
        if calls["n"] == 13:  # in the middle of the second epoch, after a checkpoint at step 12
            raise CrashError
        return real_step(*args)

    monkeypatch.setattr(training, "train_step", crashing_step)
    with pytest.raises(CrashError):
        crashed.fit(x, y, batch_size=4, epochs=3, verbose=0, checkpoint_path=ckpt, checkpoint_every=4)
    monkeypatch.setattr(training, "train_step", real_step)

    resumed = tagger(seed=99)  # different initial weights and generators: everything comes from the file
    history = resumed.fit(x, y, batch_size=4, epochs=3, verbose=0, checkpoint_path=ckpt, resume=True)
    for k, v in reference.params.items():
        np.testing.assert_array_equal(resumed.params[k], v, err_msg=k)
    np.testing.assert_allclose(history.history["loss"], ref_history.history["loss"], rtol=1e-12)


def test_bptt_windows_carry_the_state_of_stateful_layers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 24, 2))
    y = rng.normal(size=(4, 24, 1))

    def model(stateful):
        m = Sequential([GRU(6, return_sequences=True, stateful=stateful, seed=0, dtype="float64"),
                        Dense(1, seed=1, dtype="float64")])
        return m.compile("sgd", "mse")

    whole = model(True)
    whole.fit(x, y, batch_size=4, epochs=1, bptt_window=24, shuffle=False, verbose=0)
    plain = model(False)
    plain.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for k, v in plain.params.items():  # one window the length of the sequence is ordinary BPTT
        np.testing.assert_allclose(whole.params[k], v, rtol=1e-12)
    windows = model(True)
    h = windows.fit(x, y, batch_size=4, epochs=1, bptt_window=6, shuffle=False, verbose=0)
    assert len(h.steps["loss"]) == 4
    with pytest.raises(ValueError, match="stateful recurrent layers"):
        model(False).fit(x, y, bptt_window=6, verbose=0)


@pytest.mark.parametrize("make_xy, exc, match", [
    (lambda: (np.zeros((4, 5, 2)), np.full((4, 1), np.nan)), ValueError, "target must be finite"),
    (lambda: (np.full((4, 5, 2), np.nan), np.zeros((4, 1))), ValueError, "NaN or inf"),
    (lambda: ([], []), ValueError, "empty dataset"),
    (lambda: (np.zeros((4, 5, 2)), np.zeros((3, 1))), ValueError, "4 sequences but the targets have 3"),
])
def test_garbage_in_is_refused(make_xy, exc, match):
    model = Sequential([SimpleRNN(3), Dense(1)]).compile("sgd", "mse")
    x, y = make_xy()
    with pytest.raises(exc, match=match):
        model.fit(x, y, verbose=0)


def test_labels_out_of_range_and_uncompiled_models_are_refused():
    x, y = tag_data()
    y[0] = y[0] + 7
    with pytest.raises(ValueError, match="out of range|outside"):
        tagger().fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="compile the model first"):
        Sequential([SimpleRNN(2), Dense(1)]).fit(np.zeros((2, 3, 1)), np.zeros((2, 1)), verbose=0)


def test_adding_problem_learns_a_little_in_a_few_epochs():
    rng = np.random.default_rng(0)
    x, y = adding_problem(256, 20, rng)
    model = Sequential([LSTM(16, seed=0), Dense(1, seed=1)], seed=0).compile("adam", "mse")
    h = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]


def test_summary_and_config_round_trip():
    model = tagger()
    model(np.array([[1, 2, 3]]))
    text = model.summary(print_fn=None)
    assert "bidirectional_lstm" in text and "Total parameters" in text
    clone = Sequential.from_config(model.get_config())
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert clone.count_params() == model.count_params()
