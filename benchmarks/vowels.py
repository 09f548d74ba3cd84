"""Japanese Vowels test accuracy for LSTM, GRU and tanh RNN (target >= 98.5 %; FCN 99.3 %, MLP 97.6 %).

    python benchmarks/vowels.py [--quick] [--cells ...] [--seeds K] [--units H] [--epochs E]
                                [--lr-schedule cosine] [--dropout P] [--recurrent-dropout P] [--patience K]
    python benchmarks/vowels.py --select [--folds 5] [--seeds 5] [--cells ...]

Each configuration is ``rnnlab train --task vowels --cell C --train ..TRAIN.ts --test ..TEST.ts`` with
the task defaults and the flags given here; by default early stopping on the validation loss (10 % of
the training file, stratified) with the best weights restored, ``--patience 0`` trains every epoch
(with ``--lr-schedule cosine``: a fixed schedule chosen before looking at the test set). Several seeds
per cell, 0 to K-1; every run is listed, and the verdict is on the mean over seeds.

``--select`` chooses each cell's configuration without the test file: stratified ``--folds``-fold
cross-validation on the training file over ``GRID`` (units, one or both directions, dropout, recurrent
dropout; 60 epochs of a cosine schedule, every epoch trained), the configuration with the lowest mean
validation loss wins, and only then is it trained on the whole training file (``--valid-fraction 0``)
with ``--seeds`` seeds and scored on the test file.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any

import numpy as np
from _common import run_task, shared, train_args, write_results

from rnnlab.tasks import TaskData
from rnnlab.tasks import vowels as task

TARGET = 0.985
GRID = {"units": (64, 128), "bidirectional": (False, True), "dropout": (0.2, 0.4), "recurrent_dropout": (0.0, 0.2)}
SELECT_FIXED = ["--epochs", "60", "--lr-schedule", "cosine"]


def grid_flags(config: dict[str, Any]) -> list[str]:
    flags = ["--units", str(config["units"]), "--dropout", str(config["dropout"]),
             "--recurrent-dropout", str(config["recurrent_dropout"]), *SELECT_FIXED]
    return flags + (["--bidirectional"] if config["bidirectional"] else [])


def stratified_folds(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """The fold ``0..folds-1`` of every example: each class dealt out over the folds in turn, the deal
    going on where the previous class's ended, so that class and fold sizes differ by one at most."""
    fold = np.empty(len(labels), dtype=np.int64)
    dealt = 0
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        fold[idx] = (dealt + np.arange(len(idx))) % folds
        dealt += len(idx)
    return fold


def cross_validate(cell: str, config: dict[str, Any], train_path: Any, folds: int) -> dict[str, Any]:
    """Mean validation loss and accuracy over the folds of the training file (fold k trains with seed k).

    Each fold is standardised with its own training part's statistics, as ``vowels.load`` does."""
    data = task.read(train_path, "training")
    fold = stratified_folds(data.labels, folds, np.random.default_rng(0))
    losses, accs = [], []
    for k in range(folds):
        args = train_args(["--task", "vowels", "--cell", cell, "--seed", str(k), *grid_flags(config)])
        tr, va = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        mean, std = task.channel_statistics([data.series[i] for i in tr])
        split = TaskData(task.scaled(data, tr, mean, std), None, task.scaled(data, va, mean, std),
                         {"classes": data.classes})
        model = task.build_model(args, split)
        model.fit(*split.train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
        result = model.evaluate(*split.test)
        losses.append(result["loss"])
        accs.append(result["accuracy"])
    return {"cell": cell, **config, "cv_loss": float(np.mean(losses)), "cv_accuracy": float(np.mean(accs)),
            "fold_losses": losses}


def select(opts: argparse.Namespace, train: Any, test: Any) -> int:
    keys = list(GRID)
    configs = [dict(zip(keys, values, strict=True)) for values in itertools.product(*GRID.values())]
    table, chosen, runs = [], {}, []
    for cell in opts.cells:
        start = time.perf_counter()
        scored = []
        for config in configs:
            row = cross_validate(cell, config, train, opts.folds)
            print(f"{cell} {config}: cv loss {row['cv_loss']:.4f}, cv accuracy {100 * row['cv_accuracy']:.2f} %",
                  flush=True)
            scored.append(row)
        best = min(scored, key=lambda r: r["cv_loss"])
        chosen[cell] = {k: best[k] for k in keys}
        table += scored
        print(f"{cell}: chose {chosen[cell]} in {time.perf_counter() - start:.0f} s", flush=True)
        for seed in range(opts.seeds):
            flags = ["--task", "vowels", "--cell", cell, "--seed", str(seed), "--train", str(train), "--test",
                     str(test), "--valid-fraction", "0", *grid_flags(chosen[cell])]
            r = run_task(flags, opts.seconds)
            print(f"{cell} seed {seed}: test accuracy {r['report']['test_accuracy']:.4f} ({r['seconds']} s)",
                  flush=True)
            runs.append(r)
    rows = ["| cell | units | directions | dropout | recurrent dropout | cv loss | cv accuracy | chosen |",
            "|---|---|---|---|---|---|---|---|"]
    for r in table:
        mark = "**yes**" if chosen[r["cell"]] == {k: r[k] for k in keys} else ""
        rows.append(f"| {r['cell']} | {r['units']} | {2 if r['bidirectional'] else 1} | {r['dropout']} | "
                    f"{r['recurrent_dropout']} | {r['cv_loss']:.4f} | {100 * r['cv_accuracy']:.2f} % | {mark} |")
    md = (f"Japanese Vowels (UEA files, 270 train / 370 test). Configurations chosen without the test file: "
          f"{opts.folds}-fold stratified cross-validation on the training file (fold k trained with seed k, "
          f"standardised with its own training part), every configuration 60 epochs of a cosine learning rate "
          f"(task defaults otherwise: 1 layer, lr 3e-3, batch 16, clipnorm 5), the lowest mean validation loss "
          f"chosen. Then each chosen configuration trained on the whole training file with {opts.seeds} seeds and "
          f"scored on the test file.\n\n## Selection\n\n" + "\n".join(rows) + "\n\n## Test\n\n")
    return report(opts, runs, md, {"selection": table, "chosen": chosen})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one seed, few epochs: a smoke test, not the figures")
    p.add_argument("--seconds", type=float, default=90, help="wall-clock cap per run")
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"], choices=["lstm", "gru", "rnn"])
    p.add_argument("--seeds", type=int, default=3, help="seeds per cell (0, 1, ...)")
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--epochs", type=int, default=80, help="at most this many epochs")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--recurrent-dropout", type=float, default=0.0)
    p.add_argument("--patience", type=int, default=10,
                   help="early stopping on val_loss with the best weights restored; 0: train every epoch")
    p.add_argument("--select", action="store_true",
                   help="choose each cell's configuration by cross-validation on the training file (docstring)")
    p.add_argument("--folds", type=int, default=5, help="--select: folds of the cross-validation")
    opts = p.parse_args(argv)
    train, test = shared("japanese_vowels", "JapaneseVowels_TRAIN.ts"), shared("japanese_vowels",
                                                                               "JapaneseVowels_TEST.ts")
    if opts.select:
        return select(opts, train, test)
    seeds = 1 if opts.quick else opts.seeds
    plan = [(cell, seed) for cell in opts.cells for seed in range(seeds)]
    runs = []
    for cell, seed in plan:
        flags = ["--task", "vowels", "--cell", cell, "--seed", str(seed), "--train", str(train), "--test", str(test),
                 "--epochs", "3" if opts.quick else str(opts.epochs), "--units", str(opts.units),
                 "--dropout", str(opts.dropout), "--recurrent-dropout", str(opts.recurrent_dropout),
                 "--lr-schedule", opts.lr_schedule]
        r = run_task(flags, opts.seconds, patience=opts.patience or None)
        print(f"{cell} seed {seed}: test accuracy {r['report']['test_accuracy']:.4f} "
              f"({r['epochs']} epochs, {r['seconds']} s)", flush=True)
        runs.append(r)
    stopping = (f"early stopping on val_loss (patience {opts.patience}, best weights restored)" if opts.patience
                else "no early stopping (every epoch trained)")
    md = ("Japanese Vowels (UEA files, 270 train / 370 test), test accuracy. Configuration: task defaults "
          f"(1 layer, lr 3e-3, batch 16, clipnorm 5, 10 % of the training file held out) with {opts.units} units, "
          f"{opts.lr_schedule} learning rate over at most {opts.epochs} epochs, dropout {opts.dropout}, recurrent "
          f"dropout {opts.recurrent_dropout}, {stopping}.\n\n")
    return report(opts, runs, md, {})


def report(opts: argparse.Namespace, runs: list[dict[str, Any]], md: str, extra: dict[str, Any]) -> int:
    """The per-run table and the verdict per cell (on the mean over seeds) after ``md``; writes the results."""
    rows = ["| cell | seed | units | directions | epochs run | test accuracy | test loss | seconds |",
            "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        c = r["config"]
        rows.append(f"| {c['cell']} | {c['seed']} | {c['units']} | {2 if c.get('bidirectional') else 1} | "
                    f"{r['epochs']} | {100 * r['report']['test_accuracy']:.2f} % | {r['report']['test_loss']:.4f} | "
                    f"{r['seconds']} |")
    cells = list(dict.fromkeys(r["config"]["cell"] for r in runs))
    best = {cell: max(r["report"]["test_accuracy"] for r in runs if r["config"]["cell"] == cell) for cell in cells}
    mean = {cell: float(np.mean([r["report"]["test_accuracy"] for r in runs if r["config"]["cell"] == cell]))
            for cell in cells}
    summary = [f"- {cell}: mean over seeds {100 * mean[cell]:.2f} %, best {100 * best[cell]:.2f} % "
               f"(target >= {100 * TARGET:.1f} %: {'reached' if mean[cell] >= TARGET else 'not reached'} by the mean)"
               for cell in cells]
    md += ("\n".join(rows) + "\n\n" + "\n".join(summary)
           + "\n\nReference (Fawaz et al. 2019): FCN 99.3 %, ResNet 99.2 %, MLP 97.6 %.\n")
    write_results("vowels", {"target": TARGET, "quick": opts.quick, "runs": runs, "mean": mean, "best": best,
                             **extra}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
