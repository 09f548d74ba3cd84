"""The adding problem (Hochreiter & Schmidhuber 1997): remember two marked numbers over ``T`` steps.

Input ``(N, T, 2)``: a random value and a marker per step; target: the sum of the two marked values.
A sequence counts as solved when the absolute error is below 0.04 (the paper's criterion).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.data import adding_problem
from rnnlab.layers.dense import Dense
from rnnlab.models import Sequential
from rnnlab.tasks import TaskData, optimizer_config, recurrent_layer

NAME = "adding"
DESCRIPTION = "adding problem: sum the two marked numbers of a long sequence (Hochreiter & Schmidhuber 1997)"
TOLERANCE = 0.04


# Defaults for the flags of `rnnlab train` this task uses (the command line overrides them).
DEFAULTS = {"length": 50, "train_size": 5000, "test_size": 2560, "units": 64, "epochs": 10, "lr": 1e-3,
            "batch_size": 32}


def load(args: Any) -> TaskData:
    """Generated data: training from ``seed``, validation and test from their own fixed streams."""
    T = args.length
    train = adding_problem(args.train_size, T, np.random.default_rng(args.seed))
    valid = adding_problem(max(args.test_size // 4, 1), T, np.random.default_rng(10_000 + args.seed))
    test = adding_problem(args.test_size, T, np.random.default_rng(20_000 + T))
    return TaskData(train, valid, test, {"task": NAME, "length": T, "test_size": args.test_size})


def build_model(args: Any, data: TaskData) -> Sequential:
    model = Sequential([recurrent_layer(args, args.units, False, args.seed), Dense(1, dtype=args.dtype,
                                                                                    seed=args.seed + 1)],
                       seed=args.seed)
    return model.compile(optimizer_config(args, len(data.train[0])), "mse", [("within_tolerance", {"tol": TOLERANCE})])


def report(model: Sequential, data: TaskData) -> dict[str, float]:
    x, y = data.test
    result = model.evaluate(x, y)
    return {"test_mse": result["loss"], "test_solved_fraction": result["within_tolerance"]}


def test_data(metadata: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The test split a saved model was evaluated on, regenerated from its metadata."""
    T = int(metadata["length"])
    return adding_problem(int(metadata.get("test_size", 2560)), T, np.random.default_rng(20_000 + T))
