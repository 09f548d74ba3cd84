"""Japanese Vowels test accuracy for LSTM, GRU and tanh RNN (target >= 98.5 %; FCN 99.3 %, MLP 97.6 %).

    python benchmarks/vowels.py [--quick] [--cells ...] [--seeds K] [--units H] [--epochs E]
                                [--lr-schedule cosine] [--dropout P] [--recurrent-dropout P] [--patience K]

Each configuration is ``rnnlab train --task vowels --cell C --train ..TRAIN.ts --test ..TEST.ts`` with
the task defaults and the flags given here; by default early stopping on the validation loss (10 % of
the training file, stratified) with the best weights restored, ``--patience 0`` trains every epoch
(with ``--lr-schedule cosine``: a fixed schedule chosen before looking at the test set). Several seeds
per cell, 0 to K-1; every run is listed, and the verdict is on the mean over seeds.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import run_task, shared, write_results

TARGET = 0.985


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
    opts = p.parse_args(argv)
    train, test = shared("japanese_vowels", "JapaneseVowels_TRAIN.ts"), shared("japanese_vowels",
                                                                               "JapaneseVowels_TEST.ts")
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
    rows = ["| cell | seed | units | epochs run | test accuracy | test loss | seconds |",
            "|---|---|---|---|---|---|---|"]
    for r in runs:
        c = r["config"]
        rows.append(f"| {c['cell']} | {c['seed']} | {c['units']} | {r['epochs']} | "
                    f"{100 * r['report']['test_accuracy']:.2f} % | {r['report']['test_loss']:.4f} | {r['seconds']} |")
    best = {cell: max(r["report"]["test_accuracy"] for r in runs if r["config"]["cell"] == cell)
            for cell in dict.fromkeys(c for c, _ in plan)}
    mean = {cell: float(np.mean([r["report"]["test_accuracy"] for r in runs if r["config"]["cell"] == cell]))
            for cell in best}
    summary = [f"- {cell}: mean over seeds {100 * mean[cell]:.2f} %, best {100 * best[cell]:.2f} % "
               f"(target >= {100 * TARGET:.1f} %: {'reached' if mean[cell] >= TARGET else 'not reached'} by the mean)"
               for cell in best]
    stopping = (f"early stopping on val_loss (patience {opts.patience}, best weights restored)" if opts.patience
                else "no early stopping (every epoch trained)")
    md = ("Japanese Vowels (UEA files, 270 train / 370 test), test accuracy. Configuration: task defaults "
          f"(1 layer, lr 3e-3, batch 16, clipnorm 5, 10 % of the training file held out) with {opts.units} units, "
          f"{opts.lr_schedule} learning rate over at most {opts.epochs} epochs, dropout {opts.dropout}, recurrent "
          f"dropout {opts.recurrent_dropout}, {stopping}.\n\n" + "\n".join(rows) + "\n\n" + "\n".join(summary)
          + "\n\nReference (Fawaz et al. 2019): FCN 99.3 %, ResNet 99.2 %, MLP 97.6 %.\n")
    write_results("vowels", {"target": TARGET, "quick": opts.quick, "runs": runs, "mean": mean, "best": best}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
