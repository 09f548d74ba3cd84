"""The synthetic long-range tasks: the adding problem and copy memory, for LSTM, GRU and tanh RNN.

    python benchmarks/long_range.py [--quick] [--adding-lengths 100 200 1000] [--copy-lengths 50] [--seconds S]

Adding problem (target at T = 1000: LSTM and GRU solve >= 99 % of 2,560 test sequences, |error| < 0.04;
the tanh RNN shown failing): ``rnnlab train --task adding --length T --cell C`` with the flags below.
Copy memory: ``rnnlab train --task copy --length T --cell C``; the loss is compared with the memoryless
baseline ``10 log 8 / (T + 20)``. Each run stops when its validation data are solved or at the
wall-clock cap per run; the cap is the budget, and a run stopped by it says so.
"""

from __future__ import annotations

import argparse
import sys

from _common import StopAt, run_task, write_results

ADDING_TARGET = 0.99


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short sequences, seconds per run: a smoke test")
    p.add_argument("--adding-lengths", type=int, nargs="*", default=[100])
    p.add_argument("--copy-lengths", type=int, nargs="*", default=[50])
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    p.add_argument("--seconds", type=float, default=120, help="wall-clock cap per run")
    opts = p.parse_args(argv)
    adding_T, copy_T = ([20], [10]) if opts.quick else (opts.adding_lengths, opts.copy_lengths)
    seconds = 5 if opts.quick else opts.seconds
    runs = []
    for T in adding_T:
        for cell in opts.cells:
            flags = ["--task", "adding", "--length", str(T), "--cell", cell, "--units", "64", "--lr", "3e-3",
                     "--clipnorm", "1", "--train-size", "20000", "--test-size", "2560", "--batch-size", "32",
                     "--epochs", "100"]
            r = run_task(flags, seconds, extra_callbacks=(StopAt("val_within_tolerance", 0.995),))
            print(f"adding T={T} {cell}: solved {r['report']['test_solved_fraction']:.4f} ({r['seconds']} s)",
                  flush=True)
            runs.append(r)
    for T in copy_T:
        for cell in opts.cells:
            flags = ["--task", "copy", "--length", str(T), "--cell", cell, "--units", "128", "--lr", "2e-3",
                     "--clipnorm", "1", "--train-size", "10000", "--test-size", "1000", "--epochs", "100"]
            r = run_task(flags, seconds, extra_callbacks=(StopAt("val_sequence_accuracy", 0.99),))
            print(f"copy T={T} {cell}: recall accuracy {r['report']['test_recall_accuracy']:.4f} ({r['seconds']} s)",
                  flush=True)
            runs.append(r)
    rows = ["| T | cell | updates x batch | epochs run | test MSE | solved (abs err < 0.04) | target | seconds |",
            "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        c = r["config"]
        if c["task"] != "adding":
            continue
        solved = r["report"]["test_solved_fraction"]
        target = ("reached" if solved >= ADDING_TARGET else "not reached") if c["length"] == 1000 else \
            ("solved" if solved >= ADDING_TARGET else "not solved")
        rows.append(f"| {c['length']} | {c['cell']} | {r['epochs'] * c['train_size'] // c['batch_size']:,} x "
                    f"{c['batch_size']} | {r['epochs']}{' (time cap)' if r['time_capped'] else ''} | "
                    f"{r['report']['test_mse']:.4f} | {100 * solved:.2f} % | {target} | {r['seconds']} |")
    crows = ["| T | cell | epochs run | test loss | memoryless baseline | recall-step accuracy | sequences copied "
             "| seconds |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        c, rep = r["config"], r["report"]
        if c["task"] != "copy":
            continue
        crows.append(f"| {c['length']} | {c['cell']} | {r['epochs']}{' (time cap)' if r['time_capped'] else ''} | "
                     f"{rep['test_loss']:.4f} | {rep['baseline_loss']:.4f} | {100 * rep['test_recall_accuracy']:.2f} %"
                     f" | {100 * rep['test_sequences_copied']:.2f} % | {r['seconds']} |")
    md = (f"Wall-clock cap {seconds:.0f} s per run. Adding problem: 64 units, Adam lr 3e-3, clipnorm 1, 20,000 "
          "training sequences per epoch, batch 32, 2,560 test sequences; chance (predict 1) has MSE 0.167. "
          "Target: LSTM and GRU solve >= 99 % at T = 1000.\n\n" + "\n".join(rows) +
          "\n\nCopy memory (10 symbols of 8, delay T): 128 units, Adam lr 2e-3, clipnorm 1, 10,000 training "
          "sequences per epoch, batch 32, 1,000 test sequences.\n\n" + "\n".join(crows) + "\n")
    write_results("long_range", {"quick": opts.quick, "runs": runs}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
