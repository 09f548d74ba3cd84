"""``rnnlab generate MODEL``: sample text from a character-level model trained with ``--task chars``.

The prime is read in one pass, then characters are drawn one at a time from
``softmax(logits / temperature)``, each fed back with the recurrent state carried from the step
before (``rnnlab.tasks.chars.sample``). The same ``--seed`` gives the same text.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import rnnlab
from rnnlab.data import CharVocab


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="sample text from a character-level model (task chars)",
                       description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model", help="a model file written by rnnlab train --task chars")
    p.add_argument("--length", type=int, default=500, help="characters to generate after the prime")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="divides the logits before the softmax: < 1 safer, > 1 wilder, 0 always the likeliest")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    p.add_argument("--prime", default="\n", help="text the model reads before it starts generating")
    p.add_argument("--json", action="store_true", help="print one JSON object with the text as the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnlab.tasks.chars import sample

    if args.length < 0:
        raise ValueError(f"--length must be >= 0, got {args.length}")
    if not args.temperature >= 0:
        raise ValueError(f"--temperature must be >= 0, got {args.temperature}")
    model = rnnlab.load_model(args.model)
    if model.metadata.get("task") != "chars" or "vocab" not in model.metadata:
        raise ValueError(f"{args.model} is not a character-level model (task {model.metadata.get('task')!r}); "
                         "train one with rnnlab train --task chars --data FILE.txt")
    vocab = CharVocab.from_dict(model.metadata["vocab"])
    text = sample(model, vocab, args.length, args.temperature, np.random.default_rng(args.seed), args.prime)
    print(args.prime + text)
    if args.json:
        print(json.dumps({"prime": args.prime, "text": text, "temperature": args.temperature, "seed": args.seed}))
    return 0
