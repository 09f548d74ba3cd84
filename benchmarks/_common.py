"""Shared helpers of the benchmark scripts: data location, task runs with a time cap, result files.

The scripts train through the task modules exactly as ``rnnlab train --task ...`` does (same flags,
same defaults, same ``load``/``build_model``/``report``), adding early stopping on the validation
loss and a wall-clock cap, and write ``results/<name>.md`` and ``results/<name>.json``.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab import backend, tasks
from rnnlab.cli.main import build_parser
from rnnlab.cli.train import apply_defaults
from rnnlab.io import atomic_write_text
from rnnlab.models.training import EarlyStopping

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHARED_DATA = HERE.parents[0] / ".." / "shared" / "data"


def shared(*parts: str) -> Path:
    """A file of the shared data folder beside the checkout; exits with a message when it is missing."""
    path = SHARED_DATA.joinpath(*parts).resolve()
    if not path.is_file():
        sys.exit(f"data file {path} not found; the benchmarks read the shared data folder beside the repository")
    return path


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__}


def train_args(flags: list[str]) -> Any:
    """The ``rnnlab train`` namespace for ``flags``, with the task's defaults filled in."""
    args = build_parser().parse_args(["train", *flags])
    apply_defaults(args, getattr(tasks.get(args.task), "DEFAULTS", {}))
    return args


class TimeCap:
    """Stop training at the end of the first epoch that ends after ``seconds`` of wall-clock time."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.start = seconds, time.perf_counter()
        self.hit = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model: Any) -> None:
        if time.perf_counter() - self.start > self.seconds:
            self.hit, model.stop_training = True, True


class StopAt:
    """Stop once ``monitor`` reaches ``value`` (e.g. every validation sequence solved)."""

    def __init__(self, monitor: str, value: float) -> None:
        self.monitor, self.value = monitor, value

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model: Any) -> None:
        if logs.get(self.monitor, -np.inf) >= self.value:
            model.stop_training = True


def run_task(flags: list[str], seconds: float, patience: int | None = None, monitor: str = "val_loss",
             extra_callbacks: tuple[Any, ...] = (), out: Path | None = None) -> dict[str, Any]:
    """Train one configuration; returns the configuration, the report, epochs and seconds taken."""
    args = train_args(flags)
    task = tasks.get(args.task)
    start = time.perf_counter()
    data = task.load(args)
    model = task.build_model(args, data)
    model.metadata = {**data.metadata, "cell": args.cell}
    cap = TimeCap(seconds)
    callbacks: list[Any] = [cap, *extra_callbacks]
    if patience is not None:
        callbacks.insert(0, EarlyStopping(monitor, patience=patience, restore_best_weights=True))
    history = model.fit(*data.train, batch_size=args.batch_size, epochs=args.epochs, validation_data=data.valid,
                        verbose=0, callbacks=callbacks, **tasks.fit_options(task, args, data))
    tasks.forget_carried_state(model)  # as `rnnlab train` does: the saved model is not stateful
    result = task.report(model, data)
    seconds_taken = time.perf_counter() - start
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save(out)
    config = {k: v for k, v in vars(args).items() if k != "run" and isinstance(v, str | int | float | type(None))}
    return {"flags": flags, "config": config, "backend": backend.get_backend(), "parameters": model.count_params(),
            "epochs": len(history.epoch),
            "time_capped": cap.hit, "seconds": round(seconds_taken, 1), "report": result,
            "history": {k: v for k, v in history.history.items() if k in ("loss", "val_loss", "accuracy",
                                                                        "val_accuracy", "val_within_tolerance")},
            "model": model}


def run_stamp(name: str) -> dict[str, str]:
    """``{"date", "command"}`` of this invocation of ``benchmarks/<name>.py``."""
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{name}.py", *sys.argv[1:]])}


def merge_runs(name: str, runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any],
               order: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
    """The runs saved in ``results/<name>.json`` with ``runs`` replacing those of the same ``key``, sorted
    by ``order``. Saved runs without their own date and command get the file's."""
    path = RESULTS / f"{name}.json"
    saved = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    old = [{"date": saved.get("date"), "command": saved.get("command"), **r} for r in saved["runs"]]
    new = {key(r) for r in runs}
    return sorted([r for r in old if key(r) not in new] + runs, key=order)


def write_results(name: str, payload: dict[str, Any], markdown: str, stamp: dict[str, str] | None = None) -> None:
    """``results/<name>.json`` and ``results/<name>.md``, with the date, machine and command (``stamp``:
    the date and command of an earlier run whose results these are, instead of this invocation's)."""
    RESULTS.mkdir(exist_ok=True)
    meta = {**(stamp or run_stamp(name)), "machine": machine()}
    for run in payload.get("runs", []):
        run.pop("model", None)
    atomic_write_text(RESULTS / f"{name}.json", json.dumps({**meta, **payload}, indent=2) + "\n")
    m = meta["machine"]
    head = (f"# {name}\n\n- date: {meta['date']}\n- machine: {m['platform']}, {m['cpu_count']} CPUs "
            f"({m['processor']}), Python {m['python']}, NumPy {m['numpy']}\n- command: `{meta['command']}`\n\n")
    atomic_write_text(RESULTS / f"{name}.md", head + markdown.rstrip() + "\n")
