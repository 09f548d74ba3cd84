"""``rnnlab predict MODEL --input FILE.npy``: a saved model's outputs for inputs in a NumPy file.

The file is read with ``allow_pickle=False``: it holds a plain array ``(N, T, D)`` (or token ids
``(N, T)``). Without ``--input``, a few examples of the model's task are generated and shown.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import rnnlab
from rnnlab import tasks


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a saved model on inputs", description=__doc__)
    p.add_argument("model", help="a model file written by rnnlab train")
    p.add_argument("--input", help="a .npy file with the inputs (no pickled objects)")
    p.add_argument("--examples", type=int, default=5, help="without --input: how many task examples (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outputs as the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = rnnlab.load_model(args.model)
    targets = None
    if args.input:
        try:
            x = np.load(args.input, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{args.input}: not a plain NumPy array file ({err})") from None
    else:
        task_name = model.metadata.get("task")
        if task_name is None:
            raise ValueError("give --input FILE.npy: the model records no task to draw examples from")
        x, targets = tasks.get(task_name).test_data(model.metadata)
        x, targets = x[: args.examples], targets[: args.examples]
    outputs = model.predict(x)
    for i, o in enumerate(outputs):
        line = f"{i}: {np.array2string(np.asarray(o), precision=4, threshold=20)}"
        if targets is not None:
            line += f"  target {np.array2string(np.asarray(targets[i]), precision=4, threshold=20)}"
        print(line)
    if args.json:
        print(json.dumps({"outputs": np.asarray(outputs).tolist()}))
    return 0
