"""The main job as a benchmark: the EWT part-of-speech tagger exactly as ``rnnlab train`` trains it.

Target (issue 4): test accuracy >= 95.0 % with training in <= 20 minutes on this 2-core machine.
Runs the task with its defaults (no early stopping, no time cap: the same run as the command) and
writes ``results/pos.md`` and ``results/pos.json``.

    python benchmarks/pos.py [--cell lstm] [--epochs N]
"""

from __future__ import annotations

import argparse

from _common import run_task, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"], help="recurrent cell")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (task default if not given)")
    args = parser.parse_args()
    flags = ["--task", "pos", "--cell", args.cell] + (["--epochs", str(args.epochs)] if args.epochs else [])
    run = run_task(flags, seconds=float("inf"))
    r, train_seconds = run["report"], run["seconds"]
    acc = r["test_accuracy"] * 100
    rows = [f"| {args.cell} | {run['config']['units']} x {run['config']['layers']} layers, bidirectional | "
            f"{run['parameters']:,} | {run['epochs']} | {run['history']['val_accuracy'][-1] * 100:.2f} % | "
            f"{acc:.2f} % | {r['test_unknown_word_accuracy'] * 100:.2f} % | {train_seconds / 60:.1f} min |"]
    verdict = "reached" if acc >= 95.0 and train_seconds <= 1200 else "not reached"
    markdown = (
        "UD English Web Treebank (the copy shipped in rnnlab), UPOS tags, test accuracy over all words. "
        "Configuration: the `pos` task defaults (word + character features, word dropout 0.1, "
        "dropout 0.25, Adam with cosine decay, clipnorm 5).\n\n"
        "| cell | model | parameters | epochs | dev accuracy | test accuracy | unknown-word accuracy | "
        "time (load + train + test) |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Target: >= 95.0 % in <= 20 min: **{verdict}** ({acc:.2f} %, {train_seconds / 60:.1f} min).\n"
    )
    write_results("pos", {"runs": [run], "target": {"test_accuracy": 0.95, "seconds": 1200}, "verdict": verdict},
                  markdown)
    print(markdown)


if __name__ == "__main__":
    main()
