"""The music task: next-step pairs, NLL per step by hand, CLI train/evaluate, clear errors."""

import json
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.cli.main import main
from rnnlab.tasks import music

scipy_io = pytest.importorskip("scipy.io")
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write_mat(path: Path, seed: int = 0) -> Path:
    """A tiny piano-roll file: 6/3/3 pieces of 3..8 frames, at most 3 keys on per frame."""
    rng = np.random.default_rng(seed)

    def cells(n: int) -> np.ndarray:
        out = np.empty((1, n), dtype=object)
        for i in range(n):
            roll = np.zeros((int(rng.integers(3, 9)), 88))
            for t in range(len(roll)):
                roll[t, rng.choice(88, size=int(rng.integers(0, 4)), replace=False)] = 1
            out[0, i] = roll
        return out

    scipy_io.savemat(path, {"traindata": cells(6), "validdata": cells(3), "testdata": cells(3)})
    return path


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_next_step_pairs_shift_by_one_frame_and_drop_one_frame_pieces():
    a, b = np.arange(5 * 88).reshape(5, 88) % 2, np.ones((1, 88))
    x, y = music.next_step_pairs([a, b])
    assert len(x) == 1
    np.testing.assert_array_equal(x[0], a[:-1])
    np.testing.assert_array_equal(y[0], a[1:])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reported_nll_equals_a_hand_computation(tmp_path, capsys, cell):
    data = write_mat(tmp_path / "tiny.mat")
    out = tmp_path / "run"
    assert main(["train", "--task", "music", "--cell", cell, "--data", str(data), "--units", "6", "--epochs", "1",
                 "--out", str(out), "--quiet", "--json"]) == 0
    reported = last_json(capsys)["test_nll_per_step"]
    model = rnnlab.load_model(out / "model.rnnlab")
    x, y = music.test_data(model.metadata)
    total, steps = 0.0, 0
    for xi, yi in zip(x, y, strict=True):  # one piece at a time, no padding involved
        logits = model.predict(xi[None])[0].astype(np.float64)  # (T-1, 88)
        s = 1.0 / (1.0 + np.exp(-logits))
        total += -(yi * np.log(s) + (1 - yi) * np.log(1 - s)).sum()  # summed over keys and steps
        steps += len(yi)
    assert reported == pytest.approx(total / steps, rel=1e-5)
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    assert last_json(capsys)["loss"] == pytest.approx(reported, rel=1e-6)


def test_clear_errors_for_missing_flag_and_files(tmp_path, capsys):
    assert main(["train", "--task", "music", "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert "the music task needs --data FILE.mat" in capsys.readouterr().err
    assert main(["train", "--task", "music", "--data", str(tmp_path / "none.mat"), "--out", str(tmp_path / "r")]) == 1
    assert "none.mat: no such file" in capsys.readouterr().err
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all")
    assert main(["train", "--task", "music", "--data", str(junk), "--out", str(tmp_path / "r")]) == 1
    assert "junk.mat" in capsys.readouterr().err
    data = write_mat(tmp_path / "tiny.mat")
    assert main(["train", "--task", "music", "--data", str(data), "--units", "4", "--epochs", "1", "--out",
                 str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    data.unlink()
    assert main(["evaluate", str(tmp_path / "run" / "model.rnnlab")]) == 1
    assert "tiny.mat is gone" in capsys.readouterr().err


def test_real_jsb_chorales_tiny_run(tmp_path, capsys):
    data = SHARED_DATA / "polyphonic_music" / "JSB_Chorales.mat"
    if not data.is_file():
        pytest.skip(f"real data {data} not found")
    out = tmp_path / "run"
    assert main(["train", "--task", "music", "--cell", "gru", "--data", str(data), "--units", "8", "--epochs", "1",
                 "--lr", "1e-2", "--out", str(out), "--quiet", "--json"]) == 0
    nll = last_json(capsys)["test_nll_per_step"]
    assert 5.0 < nll < 88 * np.log(2)  # below the NLL of predicting every key at 1/2 (61.0)
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    assert last_json(capsys)["loss"] == pytest.approx(nll, rel=1e-6)
