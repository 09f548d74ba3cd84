"""tinyshakespeare character-level LM: validation loss in nats/char (target <= 1.50) and a sample.

    python benchmarks/chars.py [--quick] [--seconds S] [--cell C] [--units H]

The configuration is ``rnnlab train --task chars --data input.txt`` with the task defaults (windows of
100 characters, batch 64, Adam 2e-3, clipnorm 5) unless overridden, plus early stopping on the
validation loss and a wall-clock cap. Two validation figures are reported (``rnnlab.tasks.chars``):
windows of 100 characters each from a zero state, and the whole validation text read with the state
carried (the usual language-model figure). The sample is ``rnnlab generate MODEL --length 500
--temperature 0.8 --seed 0 --prime "ROMEO:"``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import HERE, run_task, shared, write_results

from rnnlab.data import CharVocab
from rnnlab.tasks.chars import sample

TARGET = 1.50


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small model on 50,000 characters: a smoke test")
    p.add_argument("--seconds", type=float, default=900, help="wall-clock cap (checked at the end of each epoch)")
    p.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    p.add_argument("--units", type=int, default=256)
    opts = p.parse_args(argv)
    data = shared("tinyshakespeare", "input.txt")
    if opts.quick:
        small = HERE.parent / "runs" / "benchmarks" / "tiny_50k.txt"
        small.parent.mkdir(parents=True, exist_ok=True)
        small.write_text(data.read_text(encoding="utf-8")[:50_000], encoding="utf-8")
        data = small
    units = 32 if opts.quick else opts.units
    flags = ["--task", "chars", "--data", str(data), "--cell", opts.cell, "--units", str(units),
             "--epochs", "1" if opts.quick else "100"]
    model_path = HERE.parent / "runs" / "benchmarks" / "chars" / "model.rnnlab"
    r = run_task(flags, opts.seconds, patience=2, out=model_path)
    vocab = CharVocab.from_dict(r["model"].metadata["vocab"])
    text = sample(r["model"], vocab, 500, 0.8, np.random.default_rng(0), "ROMEO:")
    r["sample"] = "ROMEO:" + text
    rep, c = r["report"], r["config"]
    ok = rep["valid_loss_stream"] <= TARGET
    md = (f"tinyshakespeare (1,115,394 characters; last 10 % = validation), {c['cell']} {c['layers']} x {c['units']} "
          f"units, embedding {c['embedding']}, windows of {c['length']}, batch {c['batch_size']}, Adam lr {c['lr']}, "
          f"clipnorm {c['clipnorm']}; {r['parameters']:,} parameters; {r['epochs']} epochs"
          f"{' (stopped by the time cap)' if r['time_capped'] else ''} in {r['seconds']} s.\n\n"
          "| figure | nats/char |\n|---|---|\n"
          f"| validation, whole text with carried state | {rep['valid_loss_stream']:.4f} |\n"
          f"| validation, windows of {c['length']} from a zero state (`rnnlab evaluate`) | {rep['valid_loss']:.4f} |\n"
          f"| training (last epoch, windows) | {r['history']['loss'][-1]:.4f} |\n\n"
          f"Target <= {TARGET} nats/char (carried state): {'reached' if ok else 'not reached'}.\n\n"
          f"Per-epoch validation loss (windows): {', '.join(f'{v:.3f}' for v in r['history']['val_loss'])}\n\n"
          "Sample (`rnnlab generate MODEL --length 500 --temperature 0.8 --seed 0 --prime \"ROMEO:\"`):\n\n"
          "```text\n" + r["sample"] + "\n```\n")
    write_results("chars", {"target": TARGET, "quick": opts.quick, "runs": [r]}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
