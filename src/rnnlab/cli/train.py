"""``rnnlab train``: train a task's model, with progress, checkpoints, a history CSV and learning curves.

Writes into ``--out DIR``: ``model.rnnlab`` (architecture + weights), ``checkpoint.rnnlab`` (for
``--resume``), ``history.csv``, ``learning_curve.png``, ``gradient_norms.png`` (per step, before and
after clipping, globally and per parameter) and ``metrics.json``.

The task module (``rnnlab.tasks``) gives the data, the model, the defaults of the flags, the final
report and, optionally, extra arguments of ``fit`` (``fit_options``: ``--task chars --bptt K``
trains on long streams with the state carried across windows).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rnnlab import backend, tasks
from rnnlab.io import atomic_write_text


def add_common_model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and optimizer")
    g.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="lstm", help="recurrent cell (default lstm)")
    g.add_argument("--units", type=int, default=None, help="hidden units H per recurrent layer (task default)")
    g.add_argument("--layers", type=int, default=None, help="stacked recurrent layers (task default)")
    g.add_argument("--activation", default="tanh", help="activation of the Elman RNN (default tanh)")
    g.add_argument("--recurrent-activation", default="sigmoid",
                   help="gate activation of LSTM/GRU: sigmoid (default) or hard_sigmoid")
    g.add_argument("--reset-after", action="store_true",
                   help="GRU: apply the reset gate after the recurrent matrix (PyTorch's and cuDNN's GRU); "
                        "default: before it, as the lecture notes write the GRU")
    g.add_argument("--chrono-init", type=int, default=None, metavar="T_MAX",
                   help="LSTM/GRU: start the gate biases for memories of 1 to T_MAX steps (Tallec & Ollivier "
                        "2018 chrono initialization); for dependencies over hundreds of steps")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout rate on the recurrent layers' inputs")
    g.add_argument("--recurrent-dropout", type=float, default=0.0, help="dropout rate on the recurrent state")
    g.add_argument("--optimizer", choices=["sgd", "adam", "rmsprop", "adagrad"], default="adam",
                   help="optimizer (default adam)")
    g.add_argument("--lr", type=float, default=None, help="learning rate (task default)")
    g.add_argument("--lr-schedule", choices=["constant", "cosine"], default=None,
                   help="constant, or a cosine decay to 2%% of --lr over the run (task default)")
    g.add_argument("--clipnorm", type=float, default=None, help="clip the global gradient norm to this value")
    g.add_argument("--clipvalue", type=float, default=None, help="clip every gradient entry to [-C, C]")
    g.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="float precision")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on a task", description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    names = tasks.names()
    p.add_argument("--task", choices=names, default="pos" if "pos" in names else names[0], help="what to learn")
    p.add_argument("--out", default="runs/latest", help="output folder")
    p.add_argument("--epochs", type=int, default=None, help="passes over the training data (task default)")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per update (task default)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, weights, dropout and shuffling")
    p.add_argument("--checkpoint-every", type=int, default=50,
                   help="also checkpoint every this many updates within an epoch (0: only at epoch ends)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.rnnlab if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object with the final metrics as the last line")
    add_common_model_arguments(p)
    g = p.add_argument_group("data (each task reads the flags it needs; without them, its default data)")
    g.add_argument("--train", help="training file (pos: CoNLL-U; vowels: UEA .ts)")
    g.add_argument("--dev", help="validation file (pos: CoNLL-U)")
    g.add_argument("--test", help="test file (pos: CoNLL-U; vowels: UEA .ts)")
    g.add_argument("--data", help="single-file data set (music: piano-roll .mat; chars: a text file)")
    g.add_argument("--length", type=int, default=None, help="sequence length T of synthetic tasks (adding, copy) "
                   "and of the zero-state windows of chars (validation; training with --bptt 0)")
    g.add_argument("--bptt", type=int, default=None, metavar="K",
                   help="chars: stateful truncated BPTT, --batch-size parallel streams of the text read in windows "
                   "of K characters with the state carried (task default 100); 0: independent windows of --length. "
                   "Refused by the other tasks")
    g.add_argument("--bidirectional", action="store_const", const=True, default=None,
                   help="vowels: read each series in both directions (a Bidirectional layer, final states "
                   "concatenated). Refused by the other tasks (pos is always bidirectional)")
    g.add_argument("--valid-fraction", type=float, default=None, metavar="F",
                   help="vowels: the stratified share of the training file held out for validation (task default "
                   "0.1); 0 trains on the whole file. Refused by the other tasks")
    g.add_argument("--train-size", type=int, default=None, help="training sequences of synthetic tasks")
    g.add_argument("--test-size", type=int, default=None, help="test sequences of synthetic tasks")
    p.set_defaults(run=run)


# Used when neither the command line nor the task's DEFAULTS give a value.
GLOBAL_DEFAULTS = {"lr_schedule": "constant", "epochs": 10, "batch_size": 32, "units": 64, "layers": 1, "lr": 1e-3,
                   "length": 50, "train_size": 5000, "test_size": 2560}


def apply_defaults(args: argparse.Namespace, task_defaults: dict) -> None:
    """Fill the flags left unset from the task's ``DEFAULTS``, then the global ones."""
    for key, value in {**GLOBAL_DEFAULTS, **task_defaults}.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)


def prepare_kernels(dtype: str, quiet: bool, cell: str = "lstm") -> None:
    """Compile (first run) or load (later runs) the kernels the training needs (``cell``'s forward and
    backward, Adam's update) before the progress bar starts, saying so: a cold compile takes 15-40 s
    (RNN, LSTM, GRU, measured here), which would otherwise look like a hang. Every kernel, streaming
    steps included, took 117-119 s; the ones training does not need compile when first used."""
    if backend.get_backend() != "numba":
        return
    if not quiet:
        print("rnnlab: preparing the compiled recurrent kernels (the first run compiles them, under a minute; "
              "later runs load them from disk)", file=sys.stderr, flush=True)
    seconds = backend.warmup(dtype, (cell,), streaming=False)
    if not quiet:
        from rnnlab.kernels import _blas

        blas = {"mkl": "Intel MKL", "scipy": "SciPy's OpenBLAS"}[_blas.blas_provider()]
        print(f"rnnlab: kernels ready in {seconds:.1f} s (matrix products: {blas})", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    task = tasks.get(args.task)
    tasks.check_task_flags(task, args)
    apply_defaults(args, getattr(task, "DEFAULTS", {}))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = task.load(args)
    model = task.build_model(args, data)
    model.metadata = {**data.metadata, "cell": args.cell}
    prepare_kernels(args.dtype, quiet=args.quiet, cell=args.cell)
    checkpoint = out / "checkpoint.rnnlab"
    if not args.resume and checkpoint.exists():
        os.remove(checkpoint)  # a fresh run must not pick up an old run's state
    history = model.fit(
        *data.train, batch_size=args.batch_size, epochs=args.epochs, validation_data=data.valid,
        verbose=0 if args.quiet else 1, checkpoint_path=checkpoint, checkpoint_every=args.checkpoint_every or None,
        resume=args.resume, **tasks.fit_options(task, args, data),
    )
    tasks.forget_carried_state(model)  # the saved model starts every call from a zero state
    model.save(out / "model.rnnlab")
    history.to_csv(out / "history.csv")
    written = ["model.rnnlab", *(["checkpoint.rnnlab"] if checkpoint.exists() else []), "history.csv"]
    try:
        from rnnlab.plots import plot_grad_norms, plot_history

        plot_history(history, out / "learning_curve.png", title=f"{args.task} ({args.cell})")
        plot_grad_norms(history, out / "gradient_norms.png", title=f"{args.task} ({args.cell}): gradient norms")
        written += ["learning_curve.png", "gradient_norms.png"]
    except ImportError as err:
        print(f"note: no learning-curve plot ({err})")
    final = task.report(model, data)
    metrics = {"task": args.task, "cell": args.cell, "epochs": len(history.epoch),
               **{k: v[-1] for k, v in history.history.items() if "/" not in k}, **final}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    for k, v in final.items():
        print(f"{k}: {v:.4f}")
    print(f"saved in {out}: {', '.join([*written, 'metrics.json'])}")
    if args.json:
        print(json.dumps(metrics))
    return 0
