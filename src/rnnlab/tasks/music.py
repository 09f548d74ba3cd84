"""Polyphonic music: predict the next frame of a piano roll (88 keys, multi-label), e.g. JSB Chorales.

Each piece is a ``(T, 88)`` 0/1 piano roll. The model reads frames ``0 .. T-2`` and at every step
outputs 88 logits for frame ``t + 1`` (targets: frames ``1 .. T-1``). The loss is the sigmoid binary
cross-entropy summed over the 88 keys and averaged over the real time steps of every piece: the
frame-level negative log-likelihood per time step that Boulanger-Lewandowski et al. (2012), Chung et
al. (2014) and Bai et al. (2018) report (lower is better; JSB Chorales: LSTM 8.45, GRU 8.43, tanh
RNN 8.91 in Bai et al.)::

    NLL = 1/sum_i (T_i - 1)  sum_i sum_{t=1}^{T_i - 1} sum_k -[y log s + (1 - y) log(1 - s)]_{i,t,k}

Pieces differ in length and are passed as lists (padded and masked per batch by ``Sequential``).
No data ship with the package: pass ``--data FILE.mat`` (e.g. ``JSB_Chorales.mat``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data import read_polyphonic
from rnnlab.data.music import N_KEYS
from rnnlab.layers.dense import Dense
from rnnlab.models import Sequential
from rnnlab.tasks import TaskData, optimizer_config, recurrent_layer

NAME = "music"
DESCRIPTION = "polyphonic music: next-frame prediction on 88-key piano rolls, NLL per time step (e.g. JSB Chorales)"

# Defaults for the flags of `rnnlab train` this task uses (the command line overrides them).
DEFAULTS = {"units": 128, "layers": 1, "epochs": 30, "lr": 1e-3, "batch_size": 8, "clipnorm": 5.0}

MISSING_DATA = ("the music task needs --data FILE.mat, a piano-roll file with traindata/validdata/testdata "
                "such as JSB_Chorales.mat (Boulanger-Lewandowski et al. 2012)")


def next_step_pairs(pieces: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inputs ``piece[:-1]`` and targets ``piece[1:]`` of every piece with at least two frames."""
    kept = [p for p in pieces if len(p) >= 2]
    return [p[:-1] for p in kept], [p[1:] for p in kept]


def _read(path: str | Path) -> dict[str, list[np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file; the music task needs a piano-roll .mat file (--data)")
    return read_polyphonic(path)


def load(args: Any) -> TaskData:
    """Read ``--data``: the file's own train/valid/test splits, as next-step pairs."""
    if not getattr(args, "data", None):
        raise ValueError(MISSING_DATA)
    splits = _read(args.data)
    pairs = {k: next_step_pairs(v) for k, v in splits.items()}
    for k, (x, _) in pairs.items():
        if k != "valid" and not x:
            raise ValueError(f"{args.data}: the {k} split has no piece with at least two frames")
    metadata = {"task": NAME, "data_file": str(Path(args.data).resolve()), "n_keys": N_KEYS}
    return TaskData(pairs["train"], pairs["valid"] if pairs["valid"][0] else None, pairs["test"], metadata)


def build_model(args: Any, data: TaskData) -> Sequential:
    """``--layers`` recurrent layers returning sequences, then 88 logits per step."""
    layers = [recurrent_layer(args, args.units, True, args.seed + i) for i in range(args.layers)]
    model = Sequential([*layers, Dense(N_KEYS, dtype=args.dtype, seed=args.seed + 100)], seed=args.seed)
    return model.compile(optimizer_config(args, len(data.train[0])), "binary_crossentropy", [],
                         loss_options={"reduction": "sum_over_features"})


def report(model: Sequential, data: TaskData) -> dict[str, float]:
    x, y = data.test
    return {"test_nll_per_step": model.evaluate(x, y)["loss"]}


def test_data(metadata: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The test split of the model's ``.mat`` file, re-read, as next-step pairs."""
    path = Path(metadata["data_file"])
    if not path.is_file():
        raise ValueError(f"the model's data file {path} is gone; restore it (or retrain with --data FILE.mat)")
    return next_step_pairs(_read(path)["test"])
