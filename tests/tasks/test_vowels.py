"""The vowels task: CLI train/evaluate on generated and real .ts files, scaling, split, clear errors."""

import json
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.cli.main import main
from rnnlab.tasks import vowels

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TINY = ["--units", "8", "--epochs", "2", "--batch-size", "8", "--quiet", "--json"]


def write_ts(path: Path, n: int, seed: int, classes: int = 3, channels: int = 2) -> Path:
    """A small labelled .ts file: class c has channel means near c, lengths 4..9."""
    rng = np.random.default_rng(seed)
    lines = ["@problemName Tiny", "@univariate false", f"@dimensions {channels}", "@equalLength false",
             "@classLabel true " + " ".join(str(c + 1) for c in range(classes)), "@data"]
    for i in range(n):
        c = i % classes
        x = rng.normal(c, 0.3, size=(channels, int(rng.integers(4, 10))))
        lines.append(":".join(",".join(f"{v:.4f}" for v in ch) for ch in x) + f":{c + 1}")
    path.write_text("\n".join(lines) + "\n")
    return path


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_train_then_evaluate_reproduces_the_test_accuracy(tmp_path, capsys, cell):
    train, test = write_ts(tmp_path / "a_TRAIN.ts", 60, 0), write_ts(tmp_path / "a_TEST.ts", 30, 1)
    out = tmp_path / "run"
    assert main(["train", "--task", "vowels", "--cell", cell, "--train", str(train), "--test", str(test),
                 "--out", str(out), *TINY]) == 0
    metrics = last_json(capsys)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["epochs"] == 2
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    result = last_json(capsys)
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert result["loss"] == pytest.approx(metrics["test_loss"], rel=1e-5)


def test_scaling_uses_training_statistics_and_is_saved(tmp_path):
    train, test = write_ts(tmp_path / "t.ts", 60, 0), write_ts(tmp_path / "s.ts", 30, 1)
    args = type("A", (), {"train": str(train), "test": str(test), "seed": 0, "valid_fraction": 0.1})()
    data = vowels.load(args)
    frames = np.concatenate(data.train[0])  # standardised training frames
    np.testing.assert_allclose(frames.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(frames.std(axis=0), 1.0, atol=1e-5)
    assert len(data.train[0]) + len(data.valid[0]) == 60 and np.bincount(data.valid[1]).tolist() == [2, 2, 2]
    x, y = vowels.test_data(json.loads(json.dumps(data.metadata)))
    np.testing.assert_array_equal(y, data.test[1])
    for a, b in zip(x, data.test[0], strict=True):
        np.testing.assert_allclose(a, b)


def test_bidirectional_and_the_whole_training_file_as_flags(tmp_path, capsys):
    train, test = write_ts(tmp_path / "t.ts", 60, 0), write_ts(tmp_path / "s.ts", 30, 1)
    out = tmp_path / "run"
    assert main(["train", "--task", "vowels", "--cell", "gru", "--train", str(train), "--test", str(test),
                 "--bidirectional", "--valid-fraction", "0", "--layers", "2", "--out", str(out), *TINY]) == 0
    metrics = last_json(capsys)
    history = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert "val_loss" not in history and "loss" in history  # nothing held out: no validation
    model = rnnlab.load_model(out / "model.rnnlab")
    assert [type(layer).__name__ for layer in model.layers] == ["Bidirectional", "Bidirectional", "Dense"]
    assert model.layers[0].return_sequences and not model.layers[1].return_sequences
    assert model.layers[-1].params["W"].shape == (2 * 8, 3)  # the two final states, concatenated
    assert model.metadata["valid_fraction"] == 0.0
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    assert last_json(capsys)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    args = type("A", (), {"train": str(train), "test": str(test), "seed": 0, "valid_fraction": 0.0})()
    data = vowels.load(args)
    assert data.valid is None and len(data.train[0]) == 60
    for flag in (["--bidirectional"], ["--valid-fraction", "0.2"]):
        assert main(["train", "--task", "adding", "--length", "5", *flag, "--out", str(tmp_path / "no")]) == 1
        assert f"{flag[0]}: the adding task has no {flag[0]} flag (the vowels task has" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_stratified_split_holds_out_each_class():
    labels = np.repeat(np.arange(4), 10)
    tr, va = vowels.stratified_split(labels, 0.2, np.random.default_rng(0))
    assert np.bincount(labels[va]).tolist() == [2, 2, 2, 2]
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(40))
    with pytest.raises(ValueError, match="valid_fraction"):
        vowels.stratified_split(labels, 1.0, np.random.default_rng(0))


def test_clear_errors_for_missing_flags_files_and_vanished_test_file(tmp_path, capsys):
    assert main(["train", "--task", "vowels", "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert "needs --train FILE.ts --test FILE.ts" in capsys.readouterr().err
    assert main(["train", "--task", "vowels", "--train", str(tmp_path / "nope.ts"), "--test", "x.ts",
                 "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert "nope.ts: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.ts"
    bad.write_text("@classLabel true 1 2\n@data\n1,2:3,x:1\n")
    assert main(["train", "--task", "vowels", "--train", str(bad), "--test", str(bad), "--out",
                 str(tmp_path / "r"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "bad.ts" in err and ":3" in err and "'x' is not a number" in err

    train, test = write_ts(tmp_path / "a.ts", 30, 0), write_ts(tmp_path / "b.ts", 9, 1)
    assert main(["train", "--task", "vowels", "--train", str(train), "--test", str(test), "--out",
                 str(tmp_path / "run"), *TINY]) == 0
    capsys.readouterr()
    test.unlink()
    assert main(["evaluate", str(tmp_path / "run" / "model.rnnlab")]) == 1
    err = capsys.readouterr().err
    assert "test file" in err and "b.ts is gone" in err


def test_real_japanese_vowels_tiny_run(tmp_path, capsys):
    train = SHARED_DATA / "japanese_vowels" / "JapaneseVowels_TRAIN.ts"
    test = SHARED_DATA / "japanese_vowels" / "JapaneseVowels_TEST.ts"
    if not (train.is_file() and test.is_file()):
        pytest.skip(f"real data {train.parent} not found")
    out = tmp_path / "run"
    assert main(["train", "--task", "vowels", "--cell", "gru", "--train", str(train), "--test", str(test),
                 "--out", str(out), "--units", "16", "--epochs", "3", "--quiet", "--json"]) == 0
    metrics = last_json(capsys)
    assert metrics["test_accuracy"] > 0.5  # 9 classes: chance is 0.11; three epochs already do far better
    model = rnnlab.load_model(out / "model.rnnlab")
    assert len(model.metadata["mean"]) == 12 and model.metadata["classes"] == [str(c) for c in range(1, 10)]
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    assert last_json(capsys)["accuracy"] == pytest.approx(metrics["test_accuracy"])
