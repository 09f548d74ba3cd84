"""The copy-memory task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

``COPY_LENGTH`` symbols drawn from ``1..N_SYMBOLS``, a delay of ``T = --length`` blank steps ending
in a delimiter, then the model must replay the symbols (``rnnlab.data.copy_memory`` draws the data).
The model outputs a softmax over blank + symbols at every one of the ``T + 2 * COPY_LENGTH`` steps;
the loss is the cross-entropy averaged over all steps, which Arjovsky et al. compare with the
memoryless baseline that outputs blanks and then uniformly random symbols::

    baseline = COPY_LENGTH * log(N_SYMBOLS) / (T + 2 * COPY_LENGTH)

``report`` gives the test loss beside that baseline, the accuracy on the recall steps (the last
``COPY_LENGTH`` steps, the only ones that need memory), the accuracy over all steps and the
fraction of sequences copied without a single mistake.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rnnlab.data import copy_memory
from rnnlab.layers.dense import Dense
from rnnlab.layers.embedding import Embedding
from rnnlab.models import Sequential
from rnnlab.tasks import TaskData, optimizer_config, recurrent_layer

NAME = "copy"
DESCRIPTION = "copy memory: replay 10 symbols after a delay of T steps (Arjovsky et al. 2016)"

N_SYMBOLS = 8  # symbols 1..8; 0 is the blank, 9 the delimiter
COPY_LENGTH = 10  # symbols to remember

# Defaults for the flags of `rnnlab train` this task uses (the command line overrides them).
DEFAULTS = {"length": 50, "train_size": 10000, "test_size": 1000, "units": 128, "epochs": 10, "lr": 2e-3,
            "batch_size": 32, "clipnorm": 1.0}


def memoryless_baseline(T: int, length: int = COPY_LENGTH, n_symbols: int = N_SYMBOLS) -> float:
    """Cross-entropy per step of blanks then uniform guesses: ``length * log(n_symbols) / (T + 2*length)``."""
    if T < 1 or length < 1 or n_symbols < 1:
        raise ValueError(f"T, length and n_symbols must be positive, got {T}, {length}, {n_symbols}")
    return length * math.log(n_symbols) / (T + 2 * length)


def _test(T: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return copy_memory(n, T, np.random.default_rng(20_000 + T), n_symbols=N_SYMBOLS, length=COPY_LENGTH)


def load(args: Any) -> TaskData:
    """Generated data: training from ``seed``, validation and test from their own fixed streams."""
    T = args.length
    if T < 1:
        raise ValueError(f"--length (the delay T) must be a positive integer, got {T}")
    train = copy_memory(args.train_size, T, np.random.default_rng(args.seed), N_SYMBOLS, COPY_LENGTH)
    valid = copy_memory(max(args.test_size // 4, 1), T, np.random.default_rng(10_000 + args.seed), N_SYMBOLS,
                        COPY_LENGTH)
    metadata = {"task": NAME, "length": T, "test_size": args.test_size, "n_symbols": N_SYMBOLS,
                "copy_length": COPY_LENGTH}
    return TaskData(train, valid, _test(T, args.test_size), metadata)


def build_model(args: Any, data: TaskData) -> Sequential:
    """Embedding of the ``N_SYMBOLS + 2`` input ids, ``--layers`` recurrent layers, per-step softmax."""
    layers = [recurrent_layer(args, args.units, True, args.seed + i) for i in range(args.layers)]
    model = Sequential([Embedding(N_SYMBOLS + 2, 16, dtype=args.dtype, seed=args.seed + 99), *layers,
                        Dense(N_SYMBOLS + 1, dtype=args.dtype, seed=args.seed + 100)], seed=args.seed)
    return model.compile(optimizer_config(args, len(data.train[0])), "sparse_categorical_crossentropy",
                         ["accuracy", "sequence_accuracy"])


def report(model: Sequential, data: TaskData) -> dict[str, float]:
    x, y = data.test
    result = model.evaluate(x, y)
    logits = model.predict(x)  # (N, T + 2L, S + 1)
    recall = logits[:, -COPY_LENGTH:].argmax(axis=-1) == y[:, -COPY_LENGTH:]  # (N, L)
    baseline = memoryless_baseline(int(data.metadata["length"]))
    return {"test_loss": result["loss"], "baseline_loss": baseline, "loss_over_baseline": result["loss"] / baseline,
            "test_recall_accuracy": float(recall.mean()), "test_accuracy": result["accuracy"],
            "test_sequences_copied": result["sequence_accuracy"]}


def test_data(metadata: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The test split a saved model was evaluated on, regenerated from its metadata."""
    if int(metadata.get("n_symbols", N_SYMBOLS)) != N_SYMBOLS or int(metadata.get("copy_length", COPY_LENGTH)) \
            != COPY_LENGTH:
        raise ValueError(f"the model was trained with {metadata.get('n_symbols')} symbols and copy length "
                         f"{metadata.get('copy_length')}; this rnnlab generates {N_SYMBOLS} and {COPY_LENGTH}")
    return _test(int(metadata["length"]), int(metadata.get("test_size", 1000)))
