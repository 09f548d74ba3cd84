"""Tasks the command line trains: each module builds its data, its model and its final report.

A task module provides ``NAME``, ``DESCRIPTION``, ``DEFAULTS`` (values for the flags of ``rnnlab train``
that the user did not set: epochs, units, lr, batch_size, length ...), ``load(args) -> TaskData``,
``build_model(args, data) -> Sequential`` (compiled), ``report(model, data) -> dict`` (final test
metrics) and ``test_data(metadata) -> (x, y)`` (the test split of a saved model, for ``rnnlab evaluate``).

Optional:

- ``fit_options(args, data) -> dict``: extra keyword arguments for ``Sequential.fit`` (e.g.
  ``{"bptt_window": 100, "shuffle": False}``), added to the ones ``rnnlab train`` passes itself; it
  may not set those (``FIT_ARGUMENTS_OF_THE_COMMAND``: batch size, epochs, validation data,
  progress, checkpoints, resume), so ``--resume`` and ``--checkpoint-every`` work as for any task.
  It must depend on ``args`` and ``data`` alone, so that a resumed run gets the same options.
- Entries in ``DEFAULTS`` for the flags only some tasks read (``TASK_FLAGS``): ``bptt`` (``--bptt K``,
  stateful truncated BPTT over long streams), ``bidirectional`` (``--bidirectional``) and
  ``valid_fraction`` (``--valid-fraction F``); ``rnnlab train`` refuses such a flag for a task
  without the entry.

After training, ``rnnlab train`` makes the model's stateful recurrent layers ordinary ones
(``forget_carried_state``, same weights) before it saves and reports: the state carried from window
to window belongs to training, and a saved model runs every call from a zero state, whatever its
batch size.
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


# Keyword arguments of ``fit`` that ``rnnlab train`` sets itself; a task's ``fit_options`` may not.
FIT_ARGUMENTS_OF_THE_COMMAND = frozenset({"x", "y", "batch_size", "epochs", "validation_data", "verbose",
                                          "checkpoint_path", "checkpoint_every", "resume", "stream"})


def fit_options(task: ModuleType, args: Any, data: TaskData) -> dict[str, Any]:
    """The task's extra ``fit`` keyword arguments (its optional ``fit_options`` hook), ``{}`` without one."""
    hook = getattr(task, "fit_options", None)
    if hook is None:
        return {}
    options = dict(hook(args, data))
    taken = sorted(set(options) & FIT_ARGUMENTS_OF_THE_COMMAND)
    if taken:
        raise ValueError(f"the {getattr(task, 'NAME', task.__name__)} task's fit_options sets {', '.join(taken)}, "
                         "which rnnlab train sets itself")
    return options


# Flags that only the tasks with an entry of that name in their DEFAULTS read: flag -> who reads it.
TASK_FLAGS = {"bptt": ("--bptt", "does not train with stateful truncated BPTT and has no --bptt flag (the chars "
                                 "task has)"),
              "bidirectional": ("--bidirectional", "has no --bidirectional flag (the vowels task has; pos is "
                                                   "always bidirectional)"),
              "valid_fraction": ("--valid-fraction", "has no --valid-fraction flag (the vowels task has)")}


def check_task_flags(task: ModuleType, args: Any) -> None:
    """Refuse a flag of ``TASK_FLAGS`` that was given for a task that does not read it."""
    name = getattr(task, "NAME", task.__name__)
    for key, (flag, why) in TASK_FLAGS.items():
        if getattr(args, key, None) is not None and key not in getattr(task, "DEFAULTS", {}):
            raise ValueError(f"{flag}: the {name} task {why}; drop {flag}")


def forget_carried_state(model: Any) -> Any:
    """Make the model's stateful recurrent layers ordinary ones: carried state dropped, weights unchanged.

    Returns the model. Its layers then start every call from a zero state, as a saved model should
    (a stateful layer refuses a batch of another size and carries its state from batch to batch).
    """
    for layer in model._recurrent_layers():
        layer.reset_states()
        layer.stateful = False
    return model


def recurrent_layer(args: Any, units: int, return_sequences: bool, seed: int, bidirectional: bool = False,
                    stateful: bool = False) -> Any:
    """The ``--cell`` layer with the common flags (activation, dropout, dtype); ``stateful`` carries the
    state from one call to the next (for ``fit(bptt_window=...)``)."""
    cls = CELL_CLASSES[args.cell]
    kwargs: dict[str, Any] = dict(return_sequences=return_sequences, dtype=args.dtype, seed=seed,
                                  dropout=args.dropout, recurrent_dropout=args.recurrent_dropout, stateful=stateful)
    if args.cell != "rnn":
        kwargs["recurrent_activation"] = args.recurrent_activation
    if args.cell == "rnn":
        kwargs["activation"] = args.activation
    if getattr(args, "reset_after", False):
        if args.cell != "gru":
            raise ValueError(f"--reset-after chooses between the two forms of the GRU; --cell is {args.cell}")
        kwargs["reset_after"] = True
    chrono = getattr(args, "chrono_init", None)
    if chrono is not None:
        if args.cell == "rnn":
            raise ValueError("--chrono-init sets the gate biases of an LSTM or GRU; the Elman RNN (--cell rnn) has "
                             "no gates")
        kwargs["chrono_init"] = chrono
    layer = cls(units, **kwargs)
    return Bidirectional(layer) if bidirectional else layer


def optimizer_config(args: Any, train_size: int | None = None, steps_per_epoch: int | None = None) -> dict[str, Any]:
    """The optimizer of the flags: ``--optimizer``, ``--lr``, ``--lr-schedule``, ``--clipnorm``, ``--clipvalue``.

    ``cosine`` decays the rate along half a cosine to 2 % of ``--lr`` over all the run's updates
    (``steps_per_epoch`` updates per epoch, or ``train_size`` sequences per epoch in batches of
    ``--batch-size``); the schedule follows the optimizer's step count, which checkpoints keep, so a
    resumed run follows the same schedule.
    """
    lr: Any = args.lr
    if getattr(args, "lr_schedule", "constant") == "cosine":
        if steps_per_epoch is None:
            if train_size is None:
                raise ValueError("--lr-schedule cosine needs the number of training sequences")
            steps_per_epoch = -(-train_size // args.batch_size)
        total = max(1, args.epochs * steps_per_epoch)
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
