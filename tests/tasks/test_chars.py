"""The chars task: windows, split, CLI train/evaluate, the carried-state stream loss, clear errors."""

import json
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.cli.main import main
from rnnlab.data import CharVocab
from rnnlab.tasks import chars

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TEXT = "".join(f"{w} the quick brown fox jumps over the lazy dog.\n" for w in ("ROMEO:", "JULIET:", "NURSE:") * 30)
TINY = ["--units", "12", "--length", "16", "--epochs", "2", "--batch-size", "16", "--quiet", "--json"]


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GRU language model trained through the CLI: (text file, model path, metrics)."""
    tmp = tmp_path_factory.mktemp("chars")
    data = tmp / "text.txt"
    data.write_text(TEXT, encoding="utf-8")
    out = tmp / "run"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["train", "--task", "chars", "--cell", "gru", "--data", str(data), "--out", str(out), *TINY]) == 0
    return data, out / "model.rnnlab", json.loads(buf.getvalue().strip().splitlines()[-1])


def test_windows_are_next_character_pairs_and_split_keeps_the_last_tenth():
    ids = np.arange(23)
    x, y = chars.windows(ids, 5, offset=2)
    assert x.shape == (4, 5)
    np.testing.assert_array_equal(x.ravel(), np.arange(2, 22))
    np.testing.assert_array_equal(y, x + 1)
    train, valid = chars.split_text("a" * 95 + "b" * 10)
    assert len(valid) == 10 and train + valid == "a" * 95 + "b" * 10
    with pytest.raises(ValueError, match="too few for one window"):
        chars.windows(ids, 30)


def test_evaluate_reproduces_the_validation_loss(trained, capsys):
    _, model_path, metrics = trained
    assert metrics["task"] == "chars" and np.isfinite(metrics["valid_loss_stream"])
    assert main(["evaluate", str(model_path), "--json"]) == 0
    result = last_json(capsys)
    assert result["loss"] == pytest.approx(metrics["valid_loss"], rel=1e-5)
    assert result["accuracy"] == pytest.approx(metrics["valid_accuracy"])


def test_stepping_with_carried_state_equals_one_pass_over_the_sequence(trained):
    _, model_path, _ = trained
    model = rnnlab.load_model(model_path)
    vocab = CharVocab.from_dict(model.metadata["vocab"])
    ids = vocab.encode(TEXT[:40])[None, :]  # (1, 40)
    whole = model.predict(ids)  # (1, 40, V), one pass from a zero state
    layers = chars._stepping_layers(model)
    pieces, states = [], None
    for s in (0, 1, 7, 20, 33):  # uneven chunks, the state carried between them
        e = {0: 1, 1: 7, 7: 20, 20: 33, 33: 40}[s]
        logits, states = chars.run_with_state(layers, ids[:, s:e], states)
        pieces.append(logits)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, rtol=1e-4, atol=1e-5)
    long_window = chars.stream_loss(model, vocab.encode(TEXT), window=10_000, rows=2)
    short_window = chars.stream_loss(model, vocab.encode(TEXT), window=9, rows=2)
    assert short_window == pytest.approx(long_window, rel=1e-5)


def test_clear_errors_for_missing_flag_missing_file_and_changed_text(trained, tmp_path, capsys):
    assert main(["train", "--task", "chars", "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert "the chars task needs --data FILE.txt" in capsys.readouterr().err
    assert main(["train", "--task", "chars", "--data", str(tmp_path / "none.txt"), "--out", str(tmp_path / "r")]) == 1
    assert "none.txt: no such file" in capsys.readouterr().err
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(("abc\n" * 10 + "caf\xe9\n").encode("latin-1"))
    assert main(["train", "--task", "chars", "--data", str(latin), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "latin1.txt:11" in err and "not valid UTF-8" in err
    _, model_path, _ = trained
    moved = tmp_path / "model.rnnlab"
    moved.write_bytes(model_path.read_bytes())
    model = rnnlab.load_model(moved)
    changed = dict(model.metadata, sha256="0" * 64)
    with pytest.raises(ValueError, match="changed since the model was trained"):
        chars.test_data(changed)
    with pytest.raises(ValueError, match="is gone"):
        chars.test_data(dict(model.metadata, data_file=str(tmp_path / "gone.txt")))


def test_real_tinyshakespeare_tiny_run(tmp_path, capsys):
    source = SHARED_DATA / "tinyshakespeare" / "input.txt"
    if not source.is_file():
        pytest.skip(f"real data {source} not found")
    data = tmp_path / "shakespeare_20k.txt"
    data.write_text(source.read_text(encoding="utf-8")[:20_000], encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "--task", "chars", "--cell", "lstm", "--data", str(data), "--units", "16", "--length", "32",
                 "--epochs", "1", "--lr", "1e-2", "--out", str(out), "--quiet", "--json"]) == 0
    metrics = last_json(capsys)
    assert metrics["valid_loss"] < np.log(60)  # below a uniform guess over ~60 characters
    assert main(["generate", str(out / "model.rnnlab"), "--length", "40", "--prime", "ROMEO:", "--json"]) == 0
    text = last_json(capsys)["text"]
    assert len(text) == 40 and set(text) <= set(source.read_text(encoding="utf-8")[:20_000])
