"""``rnnlab tag MODEL "The clouds are in the sky ."``: print each word with its part-of-speech tag.

The sentence is split at white space (tokenise punctuation apart, as the treebank does); several
sentences may be given as separate arguments, or one per line on standard input with ``-``.
"""

from __future__ import annotations

import argparse
import json
import sys

import rnnlab
from rnnlab.tasks import pos


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tag", help="tag sentences with a trained part-of-speech model", description=__doc__)
    p.add_argument("model", help="a model file written by rnnlab train --task pos")
    p.add_argument("sentences", nargs="+", help="sentences, words separated by spaces; '-' reads standard input")
    p.add_argument("--json", action="store_true", help="print one JSON object with the tags as the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = rnnlab.load_model(args.model)
    if model.metadata.get("task") != pos.NAME:
        raise ValueError(f"{args.model} is not a part-of-speech model (its task is {model.metadata.get('task')!r})")
    sentences = [line for s in args.sentences for line in (sys.stdin.read().splitlines() if s == "-" else [s])]
    tagged = []
    for sentence in sentences:
        words = sentence.split()
        if not words:
            continue
        tags = pos.tag(model, words)
        tagged.append(list(zip(words, tags, strict=True)))
        print(" ".join(f"{w}/{t}" for w, t in tagged[-1]))
    if args.json:
        print(json.dumps({"sentences": [[{"word": w, "tag": t} for w, t in s] for s in tagged]}))
    return 0
