"""``rnnlab evaluate MODEL``: the loss and metrics of a saved model on its task's test data.

It prints the model's loss and compiled metrics (``loss``, ``accuracy``, ``within_tolerance`` ...),
then the task's own report under the names ``rnnlab train`` ends with (``test_accuracy``,
``test_solved_fraction``, ``valid_loss_stream`` ...), computed the same way.
"""

from __future__ import annotations

import argparse
import json

import rnnlab
from rnnlab import tasks


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a saved model on its task's test data", description=__doc__)
    p.add_argument("model", help="a model file written by rnnlab train")
    p.add_argument("--batch-size", type=int, default=256, help="sequences per batch (default 256)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the metrics as the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = rnnlab.load_model(args.model)
    task_name = model.metadata.get("task")
    if task_name is None:
        raise ValueError(f"{args.model} records no task; evaluate it from Python with model.evaluate(x, y)")
    if model.loss is None:
        raise ValueError(f"{args.model} was saved without a loss; it cannot be evaluated")
    task = tasks.get(task_name)
    x, y = task.test_data(model.metadata)
    result = model.evaluate(x, y, batch_size=args.batch_size)
    report = task.report(model, tasks.TaskData(None, None, (x, y), dict(model.metadata)))  # as train's last lines
    for k, v in {**result, **report}.items():
        print(f"{k}: {v:.6f}")
    if args.json:
        print(json.dumps({"task": task_name, **result, **report}))
    return 0
