"""``benchmarks/vowels.py --select``: folds that keep the classes balanced, and a cross-validation whose
held-out parts cover the training file once."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

from tests.tasks.test_vowels import write_ts

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))  # for its `_common`; appended, so it shadows no installed module
_spec = importlib.util.spec_from_file_location("benchmark_vowels", BENCHMARKS / "vowels.py")
bench_vowels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_vowels)


def test_stratified_folds_deal_every_class_evenly_over_the_folds():
    labels = np.repeat(np.arange(9), 7)  # 9 classes of 7: a remainder of 2 per class
    fold = bench_vowels.stratified_folds(labels, 5, np.random.default_rng(0))
    assert set(fold.tolist()) == set(range(5))
    sizes = np.bincount(fold, minlength=5)
    assert sizes.max() - sizes.min() <= 1  # 63 examples: 13, 13, 13, 12, 12
    for c in range(9):
        counts = np.bincount(fold[labels == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(fold, bench_vowels.stratified_folds(labels, 5, np.random.default_rng(0)))


def test_cross_validation_holds_out_each_training_example_once(tmp_path, monkeypatch):
    train = write_ts(tmp_path / "t.ts", 24, 0)
    monkeypatch.setattr(bench_vowels, "SELECT_FIXED", ["--epochs", "2", "--lr-schedule", "cosine"])
    seen = []
    real_build = bench_vowels.task.build_model

    def spy(args, split):
        seen.append((args.seed, args.bidirectional, len(split.train[0]), split.test[1].copy(),
                     np.concatenate(split.train[0]).mean(axis=0), [len(s) for s in split.test[0]]))
        return real_build(args, split)

    monkeypatch.setattr(bench_vowels.task, "build_model", spy)
    config = {"units": 4, "bidirectional": True, "dropout": 0.2, "recurrent_dropout": 0.0}
    row = bench_vowels.cross_validate("gru", config, train, folds=3)
    assert [s[0] for s in seen] == [0, 1, 2] and all(s[1] for s in seen)  # fold k trains with seed k
    assert [s[2] + len(s[3]) for s in seen] == [24, 24, 24]  # each fold: the whole file, split in two
    held_out = np.concatenate([s[3] for s in seen])
    np.testing.assert_array_equal(np.bincount(held_out), [8, 8, 8])  # the held-out parts: all the labels,
    file = bench_vowels.task.read(train, "training")  # and all the series (their lengths), once
    assert sorted(n for s in seen for n in s[5]) == sorted(len(x) for x in file.series)
    for s in seen:
        np.testing.assert_allclose(s[4], 0.0, atol=1e-5)  # standardised with its own training part
    assert len(row["fold_losses"]) == 3 and all(np.isfinite(row["fold_losses"]))
    assert 0.0 <= row["cv_accuracy"] <= 1.0
    assert bench_vowels.grid_flags(config)[-1] == "--bidirectional"
    assert "--bidirectional" not in bench_vowels.grid_flags({**config, "bidirectional": False})
