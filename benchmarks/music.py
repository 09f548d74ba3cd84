"""JSB Chorales test NLL per time step for LSTM, GRU and tanh RNN (target <= 8.45 for LSTM and GRU).

Both GRUs are trained: ``gru`` is the notes' form (reset gate before the recurrent matrix, rnnlab's
default) and ``gru-torch`` PyTorch's (``--reset-after``), the model of Bai et al.'s 8.43.

    python benchmarks/music.py [--quick] [--seconds S] [--units H] [--lr LR] [--dropout P]
                               [--recurrent-dropout P] [--seeds K] [--patience P] [--cells ...]
    python benchmarks/music.py --rebuild --patience P --seconds S   # rewrite music.md from music.json

Each configuration is ``rnnlab train --task music --cell C --data JSB_Chorales.mat`` with the task
defaults (unless overridden here), plus early stopping on the validation NLL (the file's own
validation split, 76 pieces) with the best weights restored, and a wall-clock cap per run.
The NLL is the sigmoid cross-entropy summed over the 88 keys and averaged over every test frame.

The defaults are the configuration of the README's table: 128 units, Adam at 1e-3, dropout 0.2 on
the inputs and 0.2 on the recurrent state (rnnlab's ``recurrent_dropout``, one mask per sequence),
patience 20, 3 seeds. It was chosen on the validation NLL of the notes' GRU (3 seeds, mean best
validation NLL): recurrent dropout 0.2 gave 8.234, input dropout alone 8.449, 256 units with input
dropout 0.3 or 0.5 gave 8.486 and 8.563.
"""

from __future__ import annotations

import argparse
import json
import sys

from _common import RESULTS, merge_runs, run_stamp, run_task, shared, write_results

TARGET = 8.45
PAPER = {"lstm": 8.45, "gru": 8.43, "gru-torch": 8.43, "rnn": 8.91}  # Bai, Kolter & Koltun 2018, Table 1
# The cells of --cells: the `rnnlab train` flags of each. "gru" is the notes' GRU (reset gate before
# the recurrent matrix); "gru-torch" is PyTorch's (after it), the GRU Bai et al. trained.
CELL_FLAGS = {"lstm": ["--cell", "lstm"], "gru": ["--cell", "gru"], "gru-torch": ["--cell", "gru", "--reset-after"],
              "rnn": ["--cell", "rnn"]}


def cell_name(config: dict) -> str:
    return "gru-torch" if config["cell"] == "gru" and config.get("reset_after") else config["cell"]


def merge(runs: list[dict]) -> list[dict]:
    """The runs of ``results/music.json`` with these replacing the same (cell, seed)."""
    order = list(CELL_FLAGS)
    return merge_runs("music", runs, key=lambda r: (cell_name(r["config"]), r["config"]["seed"]),
                      order=lambda r: (order.index(cell_name(r["config"])), r["config"]["seed"]))


def markdown(runs: list[dict], patience: int, seconds: float) -> str:
    """The table and verdicts of ``results/music.md`` for these runs."""
    rows = ["| cell | seed | units | lr | dropout | recurrent dropout | parameters | epochs run | best val NLL | "
            "test NLL per step | Bai et al. 2018 | seconds | run on |", "|" + "---|" * 13]
    for r in runs:
        c, nll = r["config"], r["report"]["test_nll_per_step"]
        rows.append(f"| {cell_name(c)} | {c['seed']} | {c['units']} | {c['lr']} | {c.get('dropout', 0.0)} | "
                    f"{c.get('recurrent_dropout', 0.0)} | {r['parameters']:,} | {r['epochs']}"
                    f"{' (time cap)' if r['time_capped'] else ' (epoch cap)' if r['epochs'] >= c['epochs'] else ''} | "
                    f"{min(r['history']['val_loss']):.3f} | "
                    f"{nll:.3f} | {PAPER[cell_name(c)]} | {r['seconds']} | {r.get('date', '-')} |")
    rows.append("")
    for cell in dict.fromkeys(cell_name(r["config"]) for r in runs):
        nlls = [r["report"]["test_nll_per_step"] for r in runs if cell_name(r["config"]) == cell]
        mean = sum(nlls) / len(nlls)
        verdict = "shown beside" if cell == "rnn" else "<= 8.45: " + ("reached" if mean <= TARGET else "not reached")
        rows.append(f"- {cell}: mean over {len(nlls)} seed(s) {mean:.3f} (best {min(nlls):.3f}, worst "
                    f"{max(nlls):.3f}); {verdict}")
    md = ("JSB Chorales (229 train / 76 valid / 77 test pieces), frame-level NLL per time step (nats, lower is "
          "better). Configuration: 1 layer, Adam with the lr of each row, batch 8, clipnorm 5, dropout on the inputs "
          "and on the recurrent state as in each row, early stopping on val_loss (patience "
          f"{patience}, best weights restored), at most {seconds:.0f} s per run. Runs are merged by "
          "(cell, seed): a later run of the same cell and seed replaces the earlier one.\n\n" + "\n".join(rows) + "\n")
    return md


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 epochs per cell: a smoke test, not the figures")
    p.add_argument("--seconds", type=float, default=600, help="wall-clock cap per run")
    p.add_argument("--units", type=int, default=128, help="hidden units")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--dropout", type=float, default=0.2, help="dropout on the recurrent layer's inputs")
    p.add_argument("--recurrent-dropout", type=float, default=0.2,
                   help="dropout on the recurrent state (one mask per sequence, Gal & Ghahramani 2016)")
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "gru-torch", "rnn"], choices=list(CELL_FLAGS),
                   help="cells to train (gru: the notes' GRU; gru-torch: PyTorch's, reset gate after W_R)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per cell (0, 1, ...); the verdict is on the mean")
    p.add_argument("--patience", type=int, default=20, help="early stopping patience, in epochs")
    p.add_argument("--rebuild", action="store_true",
                   help="only rewrite results/music.md from results/music.json (give the --patience and --seconds "
                        "of the runs in it)")
    opts = p.parse_args(argv)
    if opts.rebuild:
        saved = json.loads((RESULTS / "music.json").read_text())
        write_results("music", saved, markdown(saved["runs"], opts.patience, opts.seconds),
                      stamp={k: saved[k] for k in ("date", "command")})
        return 0
    data = shared("polyphonic_music", "JSB_Chorales.mat")
    runs = []
    for cell in opts.cells:
        for seed in range(1 if opts.quick else opts.seeds):
            flags = ["--task", "music", *CELL_FLAGS[cell], "--data", str(data), "--units", str(opts.units), "--lr",
                     str(opts.lr), "--dropout", str(opts.dropout), "--recurrent-dropout", str(opts.recurrent_dropout),
                     "--epochs", "2" if opts.quick else "300", "--seed", str(seed)]
            r = run_task(flags, opts.seconds, patience=opts.patience)
            print(f"{cell} seed {seed}: test NLL {r['report']['test_nll_per_step']:.3f} ({r['epochs']} epochs, "
                  f"{r['seconds']} s)", flush=True)
            runs.append(r)
    if opts.quick:  # a smoke test: print, keep the results file as it is
        for r in runs:
            print(cell_name(r["config"]), r["report"])
        return 0
    stamp = run_stamp("music")
    for r in runs:
        r.update(stamp)
    runs = merge(runs)
    md = markdown(runs, opts.patience, opts.seconds)
    write_results("music", {"target": TARGET, "quick": opts.quick, "paper": PAPER, "runs": runs}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
