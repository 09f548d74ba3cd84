"""``rnnlab gradcheck``: check every cell's hand-written BPTT against central differences, and print it."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from rnnlab.cells import CELLS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradcheck", help="check the hand-written BPTT of every cell against finite differences", description=__doc__
    )
    p.add_argument("--steps", type=int, default=8, help="sequence length T (default 8)")
    p.add_argument("--batch", type=int, default=3, help="batch size N (default 3)")
    p.add_argument("--units", type=int, default=4, help="hidden units H (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results as the last line")
    p.set_defaults(run=run)


def _check(kind: str, options: dict, T: int, N: int, H: int, rng: np.random.Generator) -> float:
    cell = CELLS[kind]
    D, G = 3, cell.GATES
    params = {
        "W": rng.normal(0, 0.5, (D, G * H)),
        "W_R": rng.normal(0, 0.5, (H, G * H)),
        "b": rng.normal(0, 0.5, G * H),
    }
    if options.get("reset_after"):
        params["b_R"] = rng.normal(0, 0.5, G * H)
    x = rng.normal(size=(T, N, D))
    state = tuple(np.zeros((N, H)) for _ in cell.STATES)
    dout = rng.normal(size=(T, N, H))

    def loss() -> float:
        return float((cell.forward(x, state, params, **options)[0] * dout).sum())

    _, _, cache = cell.forward(x, state, params, **options)
    _, _, grads = cell.backward(dout, (None,) * len(state), cache)
    worst = 0.0
    for name, value in params.items():
        num = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + 1e-6
            up = loss()
            value[idx] = old - 1e-6
            num[idx] = (up - loss()) / 2e-6
            value[idx] = old
        worst = max(worst, float(np.abs(grads[name] - num).max() / max(np.abs(num).max(), 1e-12)))
    return worst


def run(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    cases = [
        ("rnn", {"activation": "tanh"}),
        ("rnn", {"activation": "relu"}),
        ("lstm", {}),
        ("lstm", {"recurrent_activation": "hard_sigmoid"}),
        ("gru", {"reset_after": False}),
        ("gru", {"reset_after": True}),
    ]
    results = {}
    print(f"BPTT vs central differences, float64, T={args.steps} N={args.batch} H={args.units}")
    for kind, options in cases:
        label = kind + "".join(f" {k}={v}" for k, v in options.items())
        start = time.perf_counter()
        err = _check(kind, options, args.steps, args.batch, args.units, rng)
        results[label] = err
        verdict = "ok" if err < 1e-6 else "MISMATCH"
        print(f"  {label:<40} max relative error {err:.1e}  {verdict}  ({time.perf_counter() - start:.2f} s)")
    ok = all(e < 1e-6 for e in results.values())
    if args.json:
        print(json.dumps({"ok": ok, "max_relative_error": results}))
    return 0 if ok else 1
