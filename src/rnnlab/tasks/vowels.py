"""Japanese Vowels: many-to-one classification of 9 speakers from 12 LPC channels (UEA ``.ts`` files).

Each utterance is a ``(T_i, 12)`` series of 7-29 frames; the model reads it with a recurrent layer
(``--cell``), keeps the state after the last real frame and classifies it with a softmax over the
9 speakers. Features are standardised per channel with the mean and standard deviation of the
training frames (saved in the model's metadata, so ``rnnlab evaluate`` applies the same scaling).
A stratified part of the training file (``valid_fraction`` of each class) is held out as validation.

No data ship with the package: pass ``--train FILE.ts --test FILE.ts`` (e.g. the UEA JapaneseVowels
files). Shapes: ``N`` utterances, ``T`` frames, ``C`` channels, ``Q`` classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data import TimeSeriesDataset, read_ts
from rnnlab.layers.dense import Dense
from rnnlab.models import Sequential
from rnnlab.tasks import TaskData, optimizer_config, recurrent_layer

NAME = "vowels"
DESCRIPTION = "Japanese Vowels speaker classification, many-to-one over 12 LPC channels (UEA .ts files)"

# Defaults for the flags of `rnnlab train` this task uses (the command line overrides them).
# `valid_fraction` (--valid-fraction): the stratified share of the training file held out for validation.
DEFAULTS = {"units": 64, "layers": 1, "epochs": 40, "lr": 3e-3, "batch_size": 16, "clipnorm": 5.0,
            "valid_fraction": 0.1, "bidirectional": False}

MISSING_DATA = ("the vowels task needs --train FILE.ts --test FILE.ts, e.g. the UEA JapaneseVowels files "
                "JapaneseVowels_TRAIN.ts and JapaneseVowels_TEST.ts")


def read(path: str | Path, role: str) -> TimeSeriesDataset:
    """A UEA ``.ts`` file of complete series (the ``role`` names it in errors: training, test)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (the {role} file of the vowels task); expected a UEA .ts file")
    data = read_ts(path)
    for i, s in enumerate(data.series):
        if np.isnan(s).any():
            raise ValueError(f"{path}: series {i + 1} has missing values ('?'); the vowels task needs complete series")
    return data


def stratified_split(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)``: ``round(fraction * n_c)`` random examples of each class go to ``valid``."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"valid_fraction must lie in [0, 1), got {fraction}")
    valid: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = round(fraction * len(idx))
        valid += rng.choice(idx, size=min(k, len(idx) - 1), replace=False).tolist()
    valid_idx = np.sort(np.asarray(valid, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(len(labels)), valid_idx)
    return train_idx, valid_idx


def channel_statistics(series: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` per channel over all frames of ``series``; a constant channel gets std 1."""
    frames = np.concatenate(series)  # (sum T_i, C)
    std = frames.std(axis=0)
    return frames.mean(axis=0), np.where(std > 0, std, 1.0)


def scaled(ds: TimeSeriesDataset, idx: np.ndarray, mean: np.ndarray, std: np.ndarray) -> tuple[list[np.ndarray],
                                                                                           np.ndarray]:
    """The examples ``idx`` of ``ds`` as ``(standardised series, labels)``."""
    return standardise([ds.series[i] for i in idx], mean, std), ds.labels[idx]


def standardise(series: list[np.ndarray], mean: np.ndarray, std: np.ndarray) -> list[np.ndarray]:
    """``(x - mean) / std`` per channel, as float32 ``(T_i, C)`` arrays."""
    return [((s - mean) / std).astype(np.float32) for s in series]


def load(args: Any) -> TaskData:
    """Read ``--train`` and ``--test``, hold out a stratified validation part, standardise the channels."""
    if not getattr(args, "train", None) or not getattr(args, "test", None):
        raise ValueError(MISSING_DATA)
    train_file, test_file = read(args.train, "training"), read(args.test, "test")
    if test_file.classes != train_file.classes:
        raise ValueError(f"{args.test}: classes {test_file.classes} differ from the training file's "
                         f"{train_file.classes}; expected the same @classLabel header")
    if test_file.n_channels != train_file.n_channels:
        raise ValueError(f"{args.test}: {test_file.n_channels} channels, but the training file has "
                         f"{train_file.n_channels}")
    fraction = float(getattr(args, "valid_fraction", 0.1))
    tr, va = stratified_split(train_file.labels, fraction, np.random.default_rng(args.seed))
    mean, std = channel_statistics([train_file.series[i] for i in tr])  # (C,) each

    metadata = {
        "task": NAME,
        "train_file": str(Path(args.train).resolve()),
        "test_file": str(Path(args.test).resolve()),
        "classes": train_file.classes,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "valid_fraction": fraction,
    }
    valid = scaled(train_file, va, mean, std) if len(va) else None
    test = scaled(test_file, np.arange(len(test_file)), mean, std)
    return TaskData(scaled(train_file, tr, mean, std), valid, test, metadata)


def build_model(args: Any, data: TaskData) -> Sequential:
    """``--layers`` recurrent layers (the last returns its final state; with ``--bidirectional``, each one
    reads both ways and the last concatenates the two final states), then a softmax over the classes."""
    n_classes = len(data.metadata["classes"])
    both = bool(getattr(args, "bidirectional", False))
    layers = [recurrent_layer(args, args.units, i < args.layers - 1, args.seed + i, bidirectional=both)
              for i in range(args.layers)]
    model = Sequential([*layers, Dense(n_classes, dtype=args.dtype, seed=args.seed + 100)], seed=args.seed)
    return model.compile(optimizer_config(args, len(data.train[0])), "sparse_categorical_crossentropy", ["accuracy"])


def report(model: Sequential, data: TaskData) -> dict[str, float]:
    x, y = data.test
    result = model.evaluate(x, y)
    return {"test_loss": result["loss"], "test_accuracy": result["accuracy"]}


def test_data(metadata: dict[str, Any]) -> tuple[list[np.ndarray], np.ndarray]:
    """The test file a saved model was trained against, re-read and scaled with the saved statistics."""
    path = Path(metadata["test_file"])
    if not path.is_file():
        raise ValueError(f"the model's test file {path} is gone; restore it (or retrain with --test FILE.ts)")
    ds = read(path, "test")
    if ds.classes != metadata["classes"]:
        raise ValueError(f"{path}: classes {ds.classes} differ from the model's {metadata['classes']}")
    mean, std = np.asarray(metadata["mean"]), np.asarray(metadata["std"])
    return standardise(ds.series, mean, std), ds.labels
