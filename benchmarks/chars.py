"""tinyshakespeare character-level LM: validation loss in nats/char (target <= 1.50) and a sample.

    python benchmarks/chars.py [--quick] [--seconds S] [--cell C] [--units H] [--layers L] [--lr LR] [--lr-schedule S]
                               [--dropout P] [--batch-size N] [--epochs E] [--bptt K]

The configuration is ``rnnlab train --task chars --data input.txt --bptt 100`` with the task defaults
(stateful truncated BPTT: 64 parallel streams of the training text read in windows of 100 characters
with the state carried, Adam 2e-3, clipnorm 5) unless overridden (each option above is passed on as
the ``rnnlab train`` flag of the same name), plus early stopping on the validation loss and a
wall-clock cap. Two validation figures are reported (``rnnlab.tasks.chars``): windows of 100
characters each from a zero state, and the whole validation text read with the state carried (the
usual language-model figure). The sample is ``rnnlab generate MODEL --length 500 --temperature 0.8
--seed 0 --prime "ROMEO:"``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import HERE, run_task, shared, write_results

from rnnlab.data import CharVocab
from rnnlab.tasks.chars import sample

TARGET = 1.50


# Options passed on to `rnnlab train` as the flag of the same name (None: the task default).
PASSED_ON = ("units", "layers", "lr", "lr_schedule", "dropout", "batch_size", "epochs", "bptt")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small model on 50,000 characters: a smoke test")
    p.add_argument("--seconds", type=float, default=900, help="wall-clock cap (checked at the end of each epoch)")
    p.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    p.add_argument("--units", type=int, default=None, help="hidden units (task default 256; 32 with --quick)")
    p.add_argument("--layers", type=int, default=None, help="stacked recurrent layers (task default 1)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (task default 2e-3)")
    p.add_argument("--lr-schedule", default=None, choices=["constant", "cosine"],
                   help="constant (task default) or a cosine decay over --epochs")
    p.add_argument("--dropout", type=float, default=None, help="dropout on the recurrent layers' inputs (default 0)")
    p.add_argument("--batch-size", type=int, default=None, help="parallel streams (task default 64)")
    p.add_argument("--epochs", type=int, default=None, help="at most this many epochs (default 100; 1 with --quick)")
    p.add_argument("--bptt", type=int, default=100, help="window of stateful truncated BPTT (0: zero-state windows)")
    opts = p.parse_args(argv)
    data = shared("tinyshakespeare", "input.txt")
    if opts.quick:
        small = HERE.parent / "runs" / "benchmarks" / "tiny_50k.txt"
        small.parent.mkdir(parents=True, exist_ok=True)
        small.write_text(data.read_text(encoding="utf-8")[:50_000], encoding="utf-8")
        data = small
    if opts.units is None and opts.quick:
        opts.units = 32
    if opts.epochs is None:
        opts.epochs = 1 if opts.quick else 100
    flags = ["--task", "chars", "--data", str(data), "--cell", opts.cell]
    for name in PASSED_ON:
        value = getattr(opts, name)
        if value is not None:
            flags += ["--" + name.replace("_", "-"), str(value)]
    model_path = HERE.parent / "runs" / "benchmarks" / "chars" / "model.rnnlab"
    r = run_task(flags, opts.seconds, patience=2, out=model_path)
    vocab = CharVocab.from_dict(r["model"].metadata["vocab"])
    text = sample(r["model"], vocab, 500, 0.8, np.random.default_rng(0), "ROMEO:")
    r["sample"] = "ROMEO:" + text
    rep, c = r["report"], r["config"]
    ok = rep["valid_loss_stream"] <= TARGET
    layout = (f"{c['batch_size']} streams read in windows of {c['bptt']} with the state carried" if c["bptt"]
              else f"windows of {c['length']} from a zero state, batch {c['batch_size']}")
    md = (f"tinyshakespeare (1,115,394 characters; last 10 % = validation), {c['cell']} {c['layers']} x {c['units']} "
          f"units, embedding {c['embedding']}, dropout {c['dropout']}, training on {layout}, Adam lr {c['lr']} "
          f"({c['lr_schedule']} schedule over {c['epochs']} epochs), "
          f"clipnorm {c['clipnorm']}; {r['parameters']:,} parameters; {r['epochs']} epochs"
          f"{' (stopped by the time cap)' if r['time_capped'] else ''} in {r['seconds']} s.\n\n"
          "| figure | nats/char |\n|---|---|\n"
          f"| validation, whole text with carried state | {rep['valid_loss_stream']:.4f} |\n"
          f"| validation, windows of {c['length']} from a zero state (`rnnlab evaluate`) | {rep['valid_loss']:.4f} |\n"
          f"| training (last epoch, as trained) | {r['history']['loss'][-1]:.4f} |\n\n"
          f"Target <= {TARGET} nats/char (carried state): {'reached' if ok else 'not reached'}.\n\n"
          f"Per-epoch validation loss (windows): {', '.join(f'{v:.3f}' for v in r['history']['val_loss'])}\n\n"
          "Sample (`rnnlab generate MODEL --length 500 --temperature 0.8 --seed 0 --prime \"ROMEO:\"`):\n\n"
          "```text\n" + r["sample"] + "\n```\n")
    write_results("chars", {"target": TARGET, "quick": opts.quick, "runs": [r]}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
