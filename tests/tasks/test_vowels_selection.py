"""``benchmarks/vowels.py --select``: folds that keep the classes balanced, and cross-validation that
never reads the test file."""

import sys
from pathlib import Path

import numpy as np

from tests.tasks.test_vowels import write_ts

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import vowels as bench_vowels


def test_stratified_folds_deal_every_class_evenly_over_the_folds():
    labels = np.repeat(np.arange(3), [10, 7, 5])
    fold = bench_vowels.stratified_folds(labels, 5, np.random.default_rng(0))
    assert set(fold.tolist()) == set(range(5))
    for c in range(3):
        counts = np.bincount(fold[labels == c], minlength=5)
        assert counts.max() - counts.min() <= 1  # 10 -> 2 each, 7 -> 1 or 2, 5 -> 1 each
    again = bench_vowels.stratified_folds(labels, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(fold, again)


def test_cross_validation_scores_each_fold_on_its_held_out_part(tmp_path, monkeypatch):
    train = write_ts(tmp_path / "t.ts", 24, 0)
    monkeypatch.setattr(bench_vowels, "SELECT_FIXED", ["--epochs", "2", "--lr-schedule", "cosine"])
    config = {"units": 4, "bidirectional": True, "dropout": 0.2, "recurrent_dropout": 0.0}
    row = bench_vowels.cross_validate("gru", config, train, folds=3)
    assert row["cell"] == "gru" and row["units"] == 4 and row["bidirectional"] is True
    assert len(row["fold_losses"]) == 3 and row["cv_loss"] == np.mean(row["fold_losses"])
    assert 0.0 <= row["cv_accuracy"] <= 1.0 and all(np.isfinite(row["fold_losses"]))
    assert bench_vowels.grid_flags(config)[-1] == "--bidirectional"
    assert "--bidirectional" not in bench_vowels.grid_flags({**config, "bidirectional": False})
