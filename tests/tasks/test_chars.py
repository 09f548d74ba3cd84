"""The chars task: windows, streams, split, stateful training, CLI train/evaluate/generate, the stream loss,
clear errors."""

import json
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.cli.main import build_parser, main
from rnnlab.cli.train import apply_defaults
from rnnlab.data import CharVocab
from rnnlab.models import training
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


def chars_args(*flags: str):
    """The ``rnnlab train --task chars`` namespace of ``flags``, task defaults filled in."""
    args = build_parser().parse_args(["train", "--task", "chars", *flags])
    apply_defaults(args, chars.DEFAULTS)
    return args


def test_streams_hold_contiguous_chunks_with_targets_shifted_by_one():
    ids = np.arange(23)
    x, y = chars.streams(ids, 4)  # S = (23 - 1) // 4 = 5
    assert x.shape == y.shape == (4, 5)
    for i in range(4):
        np.testing.assert_array_equal(x[i], np.arange(5 * i, 5 * i + 5))  # stream i: the i-th contiguous chunk
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(y[:-1, -1], x[1:, 0])  # a stream's last target opens the next stream
    with pytest.raises(ValueError, match="too few for 30 streams"):
        chars.streams(ids, 30)


def test_bptt_lays_out_the_training_text_as_batch_size_streams_and_builds_stateful_layers(tmp_path):
    data_file = tmp_path / "text.txt"
    data_file.write_text(TEXT, encoding="utf-8")
    args = chars_args("--data", str(data_file), "--bptt", "5", "--batch-size", "4", "--units", "8",
                      "--lr-schedule", "cosine", "--epochs", "3")
    data = chars.load(args)
    ids = CharVocab.from_dict(data.metadata["vocab"]).encode(chars.split_text(TEXT)[0])
    x, y = data.train
    S = (len(ids) - 1) // 4
    assert x.shape == (4, S)
    np.testing.assert_array_equal(x.ravel(), ids[: 4 * S])  # the whole training text, in order, one pass
    np.testing.assert_array_equal(y.ravel(), ids[1 : 4 * S + 1])
    assert chars.fit_options(args, data) == {"bptt_window": 5, "shuffle": False}
    model = chars.build_model(args, data)
    assert [layer.stateful for layer in model._recurrent_layers()] == [True]
    schedule = model.compile_config["optimizer"]["config"]["lr"]["config"]
    assert schedule["total_steps"] == 3 * -(-S // 5)  # one update per window

    windows_args = chars_args("--data", str(data_file), "--bptt", "0", "--length", "16", "--units", "8")
    windows_data = chars.load(windows_args)
    assert windows_data.train[0].shape[1] == 16 and chars.fit_options(windows_args, windows_data) == {}
    model = chars.build_model(windows_args, windows_data)
    assert [layer.stateful for layer in model._recurrent_layers()] == [False]
    assert chars.DEFAULTS["bptt"] == 100  # stateful training is the default


def test_training_carries_the_state_from_window_to_window_and_resets_it_once_per_epoch(tmp_path, monkeypatch):
    data_file = tmp_path / "text.txt"
    data_file.write_text(TEXT[:1200], encoding="utf-8")
    seen = []  # per update: (inputs, state before, state after) of the recurrent layer
    real_step = training.train_step

    def spy(model, xb, yb, mask, quiet=None):
        (layer,) = model._recurrent_layers()
        before = None if layer.states is None else [s.copy() for s in layer.states]
        result = real_step(model, xb, yb, mask, quiet)
        seen.append((xb.copy(), before, [s.copy() for s in layer.states], layer.stateful))
        return result

    monkeypatch.setattr(training, "train_step", spy)
    assert main(["train", "--task", "chars", "--data", str(data_file), "--out", str(tmp_path / "run"), "--bptt", "7",
                 "--batch-size", "4", "--units", "8", "--length", "16", "--epochs", "2", "--quiet"]) == 0
    vocab = CharVocab.build(TEXT[:1200])
    x, _ = chars.streams(vocab.encode(chars.split_text(TEXT[:1200])[0]), 4)
    per_epoch = -(-x.shape[1] // 7)
    assert len(seen) == 2 * per_epoch
    for k, (xb, before, _, stateful) in enumerate(seen):
        j = k % per_epoch
        assert stateful
        np.testing.assert_array_equal(xb, x[:, 7 * j : 7 * j + 7])  # window j of every stream, in order
        if j == 0:
            assert before is None  # reset at the start of the epoch only
        else:
            assert before is not None, f"the state was reset before window {j}"
            for b, a in zip(before, seen[k - 1][2], strict=True):  # starts where the window before ended
                np.testing.assert_array_equal(b, a)
                assert np.abs(b).max() > 0


def test_bptt_run_saves_a_model_that_evaluate_and_generate_use(tmp_path, capsys):
    data_file = tmp_path / "text.txt"
    data_file.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    # 29 validation windows of 16 in batches of 4: the last batch has one window
    assert main(["train", "--task", "chars", "--data", str(data_file), "--out", str(out), "--bptt", "5",
                 "--batch-size", "4", "--units", "12", "--length", "16", "--epochs", "2", "--quiet", "--json"]) == 0
    metrics = last_json(capsys)
    assert np.isfinite(metrics["valid_loss_stream"])
    # fit's val_loss is the zero-state windows' figure, as the final report's valid_loss
    assert metrics["val_loss"] == pytest.approx(metrics["valid_loss"], rel=1e-5)
    model = rnnlab.load_model(out / "model.rnnlab")
    assert model.metadata["bptt"] == 5
    assert not any(layer.stateful for layer in model._recurrent_layers())  # saved as an ordinary model
    for batch_size in ("7", "256"):
        assert main(["evaluate", str(out / "model.rnnlab"), "--batch-size", batch_size, "--json"]) == 0
        assert last_json(capsys)["loss"] == pytest.approx(metrics["valid_loss"], rel=1e-5)
    assert main(["generate", str(out / "model.rnnlab"), "--length", "30", "--prime", "ROMEO:", "--json"]) == 0
    text = last_json(capsys)["text"]
    assert len(text) == 30 and set(text) <= set(TEXT)


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
    data, _, _ = trained
    assert main(["train", "--task", "chars", "--data", str(data), "--bptt", "-1", "--out", str(tmp_path / "r")]) == 1
    assert "--bptt must be a non-negative integer" in capsys.readouterr().err
    assert main(["train", "--task", "chars", "--data", str(data), "--batch-size", "5000",
                 "--out", str(tmp_path / "r")]) == 1
    assert "too few for 5000 streams (--batch-size)" in capsys.readouterr().err
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
                 "--bptt", "32", "--batch-size", "16", "--epochs", "1", "--lr", "1e-2", "--out", str(out), "--quiet",
                 "--json"]) == 0
    metrics = last_json(capsys)
    assert metrics["valid_loss"] < np.log(60)  # below a uniform guess over ~60 characters
    assert metrics["valid_loss_stream"] < np.log(60)
    assert main(["generate", str(out / "model.rnnlab"), "--length", "40", "--prime", "ROMEO:", "--json"]) == 0
    text = last_json(capsys)["text"]
    assert len(text) == 40 and set(text) <= set(source.read_text(encoding="utf-8")[:20_000])
