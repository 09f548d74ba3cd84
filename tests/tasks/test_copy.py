"""The copy task: the memoryless baseline, CLI train/evaluate for every cell, recall accuracy."""

import json
import math

import numpy as np
import pytest

from rnnlab.cli.main import main
from rnnlab.data import copy_memory
from rnnlab.losses import softmax_cross_entropy
from rnnlab.tasks import copy

TINY = ["--length", "6", "--train-size", "64", "--test-size", "32", "--units", "8", "--epochs", "1", "--quiet",
        "--json"]


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_baseline_formula():
    assert copy.memoryless_baseline(100) == pytest.approx(10 * math.log(8) / 120)
    assert copy.memoryless_baseline(1000, length=10, n_symbols=8) == pytest.approx(0.0203867, abs=1e-7)
    with pytest.raises(ValueError, match="positive"):
        copy.memoryless_baseline(0)


def test_baseline_is_the_loss_of_blanks_then_uniform_guesses():
    T, L, S = 30, copy.COPY_LENGTH, copy.N_SYMBOLS
    _, y = copy_memory(50, T, np.random.default_rng(0), n_symbols=S, length=L)
    logits = np.zeros((50, T + 2 * L, S + 1))
    logits[:, : T + L, 0] = 60.0  # certain of the blank while no symbol is due
    logits[:, T + L :, 0] = -60.0  # then uniform over the S symbols
    loss, _ = softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(copy.memoryless_baseline(T), rel=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_train_then_evaluate_reproduces_the_test_loss(tmp_path, capsys, cell):
    out = tmp_path / "run"
    assert main(["train", "--task", "copy", "--cell", cell, "--out", str(out), *TINY]) == 0
    m = last_json(capsys)
    assert m["baseline_loss"] == pytest.approx(copy.memoryless_baseline(6))
    assert m["loss_over_baseline"] == pytest.approx(m["test_loss"] / m["baseline_loss"])
    assert 0.0 <= m["test_recall_accuracy"] <= 1.0
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    r = last_json(capsys)
    assert r["loss"] == pytest.approx(m["test_loss"], rel=1e-5)
    assert r["accuracy"] == pytest.approx(m["test_accuracy"])
    assert r["sequence_accuracy"] == pytest.approx(m["test_sequences_copied"])


def test_recall_accuracy_counts_only_the_last_steps():
    class Echo:  # a perfect model on the recall steps, wrong everywhere else
        def evaluate(self, x, y):
            return {"loss": 1.0, "accuracy": 0.0, "sequence_accuracy": 0.0}

        def predict(self, x):
            out = np.zeros((*self.y.shape, copy.N_SYMBOLS + 1))
            out[..., 1] = 1.0  # predict symbol 1 everywhere ...
            np.put_along_axis(out[:, -copy.COPY_LENGTH:], self.y[:, -copy.COPY_LENGTH:, None], 5.0, axis=-1)
            return out

    x, y = copy_memory(20, 5, np.random.default_rng(1), length=copy.COPY_LENGTH)
    model = Echo()
    model.y = y
    data = copy.TaskData((x, y), None, (x, y), {"length": 5})
    assert copy.report(model, data)["test_recall_accuracy"] == 1.0
