"""Tasks the command line trains: each module builds its data, its model and its final report.

A task module provides ``NAME``, ``DESCRIPTION``, ``DEFAULTS`` (values for the flags of ``rnnlab train``
that the user did not set: epochs, units, lr, batch_size, length ...), ``load(args) -> TaskData``,
``build_model(args, data) -> Sequential`` (compiled), ``report(model, data) -> dict`` (final test
metrics) and ``test_data(metadata) -> (x, y)`` (the test split of a saved model, for ``rnnlab evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from rnnlab.layers import GRU, LSTM, Bidirectional, Recurrent, SimpleRNN

CELL_CLASSES: dict[str, type[Recurrent]] = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


@dataclass
class TaskData:
    """Training, validation and test splits as ``(x, y)`` pairs, plus what the model file should keep."""

    train: tuple[Any, Any]
    valid: tuple[Any, Any] | None
    test: tuple[Any, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


def recurrent_layer(args: Any, units: int, return_sequences: bool, seed: int, bidirectional: bool = False) -> Any:
    """The ``--cell`` layer with the common flags (activation, dropout, dtype)."""
    cls = CELL_CLASSES[args.cell]
    kwargs: dict[str, Any] = dict(return_sequences=return_sequences, dtype=args.dtype, seed=seed,
                                  dropout=args.dropout, recurrent_dropout=args.recurrent_dropout)
    if args.cell != "rnn":
        kwargs["recurrent_activation"] = args.recurrent_activation
    if args.cell == "rnn":
        kwargs["activation"] = args.activation
    layer = cls(units, **kwargs)
    return Bidirectional(layer) if bidirectional else layer


def optimizer_config(args: Any, train_size: int | None = None) -> dict[str, Any]:
    """The optimizer of the flags: ``--optimizer``, ``--lr``, ``--lr-schedule``, ``--clipnorm``, ``--clipvalue``.

    ``cosine`` decays the rate along half a cosine to 2 % of ``--lr`` over all the run's updates
    (``train_size`` sequences per epoch); the schedule follows the optimizer's step count, which
    checkpoints keep, so a resumed run follows the same schedule.
    """
    lr: Any = args.lr
    if getattr(args, "lr_schedule", "constant") == "cosine":
        if train_size is None:
            raise ValueError("--lr-schedule cosine needs the number of training sequences")
        total = max(1, args.epochs * -(-train_size // args.batch_size))
        lr = {"class_name": "CosineDecay", "config": {"lr": args.lr, "total_steps": total, "min_lr": args.lr * 0.02}}
    config: dict[str, Any] = {"lr": lr}
    if args.clipnorm is not None:
        config["clipnorm"] = args.clipnorm
    if args.clipvalue is not None:
        config["clipvalue"] = args.clipvalue
    return {"class_name": args.optimizer, "config": config}


# name -> module; each module is imported only when its task is used
TASKS = {
    "pos": "rnnlab.tasks.pos",
    "vowels": "rnnlab.tasks.vowels",
    "music": "rnnlab.tasks.music",
    "chars": "rnnlab.tasks.chars",
    "adding": "rnnlab.tasks.adding",
    "copy": "rnnlab.tasks.copy",
}


def available() -> dict[str, str]:
    """The tasks whose module is present."""
    import importlib.util

    return {name: mod for name, mod in TASKS.items() if importlib.util.find_spec(mod) is not None}


def get(name: str) -> ModuleType:
    import importlib

    tasks = available()
    if name not in tasks:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(tasks)}")
    return importlib.import_module(tasks[name])


def names() -> tuple[str, ...]:
    return tuple(available())
