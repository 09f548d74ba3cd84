"""``rnnlab export``: a saved model becomes an ONNX file that ONNX Runtime runs to the same outputs."""

import json

import numpy as np
import pytest

from rnnlab import load_model
from rnnlab.cli.main import main
from rnnlab.layers import LSTM, Bidirectional
from rnnlab.layers.dense import Dense
from rnnlab.layers.embedding import Embedding
from rnnlab.models.sequential import Sequential

ort = pytest.importorskip("onnxruntime")


def test_export_writes_a_file_onnx_runtime_runs_to_the_saved_models_outputs(tmp_path, capsys):
    model = Sequential([Embedding(30, 8, mask_zero=True, seed=1),
                        Bidirectional(LSTM(6, return_sequences=True, recurrent_activation="hard_sigmoid", seed=2)),
                        Dense(5, seed=3)])
    ids = np.random.default_rng(0).integers(1, 30, size=(3, 11))
    ids[1, 6:] = ids[2, 2:] = 0
    model(ids)
    model.save(tmp_path / "model.rnnlab")
    out = tmp_path / "model.onnx"
    assert main(["export", str(tmp_path / "model.rnnlab"), str(out), "--lengths", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report == {"out": str(out), "opset": 14, "inputs": ["x", "lengths"], "outputs": ["y"]}
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y = session.run(None, {"x": ids, "lengths": np.array([11, 6, 2])})[0]
    np.testing.assert_allclose(y, load_model(tmp_path / "model.rnnlab")(ids), rtol=1e-6, atol=2e-6)


def test_float32_exports_a_float64_model_for_onnx_runtime(tmp_path, capsys):
    model = Sequential([LSTM(4, return_sequences=True, input_dim=3, dtype="float64", seed=1)])
    model.save(tmp_path / "m.rnnlab")
    assert main(["export", str(tmp_path / "m.rnnlab"), str(tmp_path / "m64.onnx")]) == 0
    assert "the graph is float64; ONNX Runtime's CPU RNN/LSTM/GRU kernels take float32 only" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.rnnlab"), str(tmp_path / "m.onnx"), "--float32"]) == 0
    printed = capsys.readouterr()
    assert "ONNX opset 14, inputs x, outputs y" in printed.out and "float64" not in printed.err
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    y = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x.astype(np.float32)})[0]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, model(x), rtol=1e-5, atol=2e-6)


def test_a_missing_or_foreign_model_file_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.rnnlab"), str(tmp_path / "x.onnx")]) == 1
    assert "rnnlab export: error:" in capsys.readouterr().err
    foreign = tmp_path / "foreign.rnnlab"
    foreign.write_bytes(b"not a model")
    assert main(["export", str(foreign), str(tmp_path / "x.onnx")]) == 1
    assert "foreign.rnnlab" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_states_name_every_state_input_and_output_that_the_file_holds(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    model = Sequential([LSTM(4, return_sequences=True, input_dim=3, seed=1, name="enc"), Dense(2, input_dim=4)])
    model.save(tmp_path / "m.rnnlab")
    assert main(["export", str(tmp_path / "m.rnnlab"), str(tmp_path / "m.onnx"), "--states", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert report["inputs"] == [i.name for i in graph.input] == ["x", "h0_enc", "c0_enc"]
    assert report["outputs"] == [o.name for o in graph.output] == ["y", "h_enc", "c_enc"]
