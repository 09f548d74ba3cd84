"""``rnnlab gradflow``: watch gradients vanish and explode through time, and what clipping, LSTM and GRU do.

In the order the lecture notes tell the story, on the adding problem:

1. the chain: the fourth note's ``da_L/dw_1 = [prod sigma'(z_l) w_l] sigma'(z_1) a_0`` against depth,
   for sigmoid, tanh and ReLU and a range of weights;
2. BPTT at initialisation: ``||dL_T/dh_t||`` at every step of an RNN, an LSTM and a GRU of the same
   size on one batch of length ``--init-length``, with the library's initialisation and with the
   state-keeping gates opened (``--gate-bias``), plus the gate statistics;
3. clipping: a ReLU RNN with large recurrent weights trained by SGD with and without ``clipnorm``;
4. LSTM and GRU against the RNN: each trained at every ``--lengths``, with the gradient flow before
   and after training and the final validation metrics.

Writes PNG plots, ``report.md`` and ``report.json`` into ``--out``; ``--json`` prints the headline
numbers as one JSON object on the last line. The defaults finish in a few minutes on two cores
(``OPENBLAS_NUM_THREADS=1`` makes the small matrix products of H = 32 much faster).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any

import numpy as np

from rnnlab import plots
from rnnlab.data.synthetic import adding_problem
from rnnlab.diagnostics import chain_sweep, first_divergence, fit_monitored, gate_statistics, gradient_flow
from rnnlab.diagnostics.experiment import (
    KINDS,
    LEARNED_FRACTION,
    SOLVED_TOLERANCE,
    RunResult,
    adding_model,
    exploding_rnn,
    flow_at_init,
    learned,
    train_and_measure,
)
from rnnlab.io import atomic_write_text

NAMES = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}
COLORS = {"rnn": "C0", "lstm": "C1", "gru": "C2"}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _length(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"a sequence length must be >= 2 (two markers), got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradflow",
        help="vanishing/exploding gradients of RNN, LSTM and GRU on the adding problem: plots and a report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the PNG plots, report.md and report.json")
    p.add_argument("--lengths", type=_length, nargs="+", default=[50, 100, 200], metavar="T",
                   help="sequence lengths to train at (default: 50 100 200; e.g. 50 100 200 500 1000 to go bigger)")
    p.add_argument("--units", type=_positive_int, default=32, help="hidden units H of every model (default 32)")
    p.add_argument("--epochs", type=_positive_int, default=30, help="training epochs per model and length (default 30)")
    p.add_argument("--train-size", type=_positive_int, default=2000,
                   help="training sequences per length (default 2000)")
    p.add_argument("--val-size", type=_positive_int, default=500,
                   help="validation sequences per length, for the final metrics (default 500)")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="sequences per update (default 32)")
    p.add_argument("--lr", type=_positive_float, default=3e-3,
                   help="Adam learning rate of the training runs (default 3e-3)")
    p.add_argument("--clipnorm", type=_nonnegative_float, default=1.0,
                   help="global-norm clipping of the training runs; 0 turns it off (default 1.0)")
    p.add_argument("--train-init", choices=("default", "open"), default="default",
                   help="initialisation of the trained LSTM/GRU: the library's ('default') or with the gates "
                        "opened by --gate-bias ('open') (default: default)")
    p.add_argument("--gate-bias", type=_finite_float, default=3.0,
                   help="bias of the LSTM forget gate and the GRU update gate for the 'gates opened' "
                        "initialisation (default 3.0: sigmoid(3) = 0.95)")
    p.add_argument("--init-length", type=_length, default=200,
                   help="sequence length T of the at-initialisation comparison (default 200)")
    p.add_argument("--probe", type=_positive_int, default=64,
                   help="sequences in the batch on which gradient flow and gates are measured (default 64)")
    p.add_argument("--explode-length", type=_length, default=50,
                   help="sequence length of the clipping experiment (default 50)")
    p.add_argument("--explode-gain", type=_positive_float, default=2.0,
                   help="the ReLU RNN's recurrent matrix is this times an orthogonal one (default 2.0)")
    p.add_argument("--explode-steps", type=_positive_int, default=200,
                   help="SGD steps of the clipping experiment (default 200)")
    p.add_argument("--explode-lr", type=_positive_float, default=0.01,
                   help="SGD learning rate of the clipping experiment (default 0.01)")
    p.add_argument("--explode-clipnorm", type=_positive_float, default=1.0,
                   help="clipnorm of the clipped run of the clipping experiment (default 1.0)")
    p.add_argument("--chain-depth", type=_positive_int, default=30,
                   help="depth L of the chain explorer (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the initialisations (default 0)")
    p.add_argument("--quiet", action="store_true", help="print nothing but the final JSON line (with --json)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the final metrics as the last line")
    p.set_defaults(run=run)


# -- the four parts -----------------------------------------------------------------------------------


def _chain_part(args: argparse.Namespace, out: str, files: list[str]) -> dict[str, Any]:
    sweep = chain_sweep(weights=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0), depth=args.chain_depth)
    plots.plot_chain(sweep, os.path.join(out, "chain.png"))
    files.append("chain.png")
    return sweep.to_dict()


def _init_part(args: argparse.Namespace, out: str, files: list[str], say: Any) -> dict[str, Any]:
    T, units = args.init_length, args.units
    x, y = adding_problem(args.probe, T, np.random.default_rng(args.seed + 1000))
    defaults = {k: adding_model(k, units, seed=args.seed) for k in KINDS}
    opened = {k: adding_model(k, units, seed=args.seed, gate_bias=args.gate_bias) for k in ("lstm", "gru")}
    flows = flow_at_init(defaults, x, y)
    flows_open = flow_at_init(opened, x, y)
    gates = {k: g for kind in ("lstm", "gru") for k, g in gate_statistics(defaults[kind], x).items()}
    gates_open = {k: g for kind in ("lstm", "gru") for k, g in gate_statistics(opened[kind], x).items()}

    def curve(kind: str, flow: Any, suffix: str = "") -> tuple[str, tuple[np.ndarray, dict[str, Any]]]:
        label = f"{NAMES[kind]}{suffix}  (h_1/h_T = {flow.ratio(kind):.1e})"
        return label, (flow.norms[kind], {"color": COLORS[kind]})

    panels = {
        "library initialisation": dict(curve(k, flows[k]) for k in KINDS),
        f"gates opened (forget / update bias {args.gate_bias:g})": dict(
            [curve("rnn", flows["rnn"]), *(curve(k, flows_open[k], ", open") for k in ("lstm", "gru"))]
        ),
    }
    name = f"flow_init_T{T}.png"
    plots.plot_gradient_flow(panels, os.path.join(out, name), ylabel="‖∂L_T/∂h_t‖",
                             title=f"gradient reaching h_t from the loss at the last step, at initialisation, "
                                   f"adding problem T = {T}, H = {units}")
    files.append(name)
    for name, stats, what in ((f"gates_init_T{T}.png", gates, "library initialisation"),
                              (f"gates_open_T{T}.png", gates_open, f"gates opened, bias {args.gate_bias:g}")):
        plots.plot_gate_statistics(stats, os.path.join(out, name), title=f"gates at initialisation ({what}), T = {T}")
        files.append(name)
    ratios = {k: flows[k].ratio(k) for k in KINDS}
    ratios_open = {k: flows_open[k].ratio(k) for k in ("lstm", "gru")}
    say(f"[init] T={T}: ||dL_T/dh_1|| / ||dL_T/dh_T||  "
        + "  ".join(f"{k} {v:.2e}" for k, v in ratios.items())
        + "  | gates opened: " + "  ".join(f"{k} {v:.2e}" for k, v in ratios_open.items()))
    return {
        "T": T,
        "units": units,
        "probe": args.probe,
        "ratio": ratios,
        "ratio_open_gates": ratios_open,
        "gate_bias": args.gate_bias,
        "log10_decay_per_step": {k: flows[k].log10_decay_per_step(k) for k in KINDS},
        "gates": {k: g.summary() for k, g in gates.items()},
        "gates_open": {k: g.summary() for k, g in gates_open.items()},
        "norms": {k: flows[k].norms[k].tolist() for k in KINDS},
        "norms_open_gates": {k: flows_open[k].norms[k].tolist() for k in ("lstm", "gru")},
    }


def _clipping_part(args: argparse.Namespace, out: str, files: list[str], say: Any) -> dict[str, Any]:
    T, units = args.explode_length, args.units
    x, y = adding_problem(max(args.batch_size * args.explode_steps, args.probe), T,
                          np.random.default_rng(args.seed + 2000))
    xp, yp = x[: args.probe], y[: args.probe]
    runs, result = {}, {"T": T, "gain": args.explode_gain, "lr": args.explode_lr, "steps": args.explode_steps}
    for label, clip in (("unclipped", None), (f"clipnorm={args.explode_clipnorm:g}", args.explode_clipnorm)):
        model = exploding_rnn(units, args.explode_gain, seed=args.seed,
                              optimizer={"class_name": "SGD", "config": {"lr": args.explode_lr, "clipnorm": clip}})
        if clip is None:
            flow = gradient_flow(model, xp, yp, last_step_only=True)
            result["ratio_init"] = flow.ratio("rnn")
            name = "flow_explode.png"
            plots.plot_gradient_flow(
                {f"ReLU RNN, W_R = {args.explode_gain:g} x orthogonal  (h_1/h_T = {flow.ratio('rnn'):.1e})":
                 flow.norms["rnn"]},
                os.path.join(out, name), ylabel="‖∂L_T/∂h_t‖",
                title=f"an exploding RNN at initialisation, T = {T}")
            files.append(name)
        with np.errstate(over="ignore", invalid="ignore"):
            history = fit_monitored(model, x, y, batch_size=args.batch_size, epochs=1, max_steps=args.explode_steps)
        runs[label] = history
        loss = np.asarray(history.steps["loss"])
        finite = loss[np.isfinite(loss)]
        params_finite = all(np.isfinite(p).all() for p in model.params.values())
        div = first_divergence(history)
        key = "unclipped" if clip is None else "clipped"
        result[key] = {
            "clipnorm": clip,
            "finite": div is None and params_finite,
            "diverged_at_step": None if div is None else div + 1,
            "steps_run": len(loss),
            "first_loss": float(loss[0]),
            "final_loss": float(finite[-1]) if finite.size and div is None else float("nan"),
            "last_finite_loss": float(finite[-1]) if finite.size else float("nan"),
            "max_grad_norm": float(np.nanmax(history.steps["grad_norm"])),
            "max_clipped_norm": float(np.nanmax(history.steps["clipped_norm"])),
        }
        r = result[key]
        say(f"[clipping] {label}: " + ("finite" if r["finite"] else f"DIVERGED at step {r['diverged_at_step']}")
            + f", loss {r['first_loss']:.3g} -> {r['last_finite_loss']:.3g}, max grad norm {r['max_grad_norm']:.3g}")
    plots.plot_clipping(runs, os.path.join(out, "clipping.png"),
                        title=f"SGD on a ReLU RNN with W_R = {args.explode_gain:g} x orthogonal, "
                              f"adding problem T = {T}")
    files.append("clipping.png")
    clipped = next(h for k, h in runs.items() if k != "unclipped")
    plots.plot_grad_norms(clipped, os.path.join(out, "grad_norms_clipped.png"),
                          title=f"the clipped run: each parameter's gradient norm before and after clipnorm="
                                f"{args.explode_clipnorm:g}")
    files.append("grad_norms_clipped.png")
    return result


def _training_part(args: argparse.Namespace, out: str, files: list[str], say: Any) -> dict[str, Any]:
    results: dict[str, dict[int, RunResult]] = {k: {} for k in KINDS}
    optimizer = {"class_name": "Adam", "config": {"lr": args.lr, "clipnorm": args.clipnorm or None}}
    bias = args.gate_bias if args.train_init == "open" else None
    for T in args.lengths:
        train = adding_problem(args.train_size, T, np.random.default_rng(args.seed + 3 * T))
        val = adding_problem(args.val_size, T, np.random.default_rng(args.seed + 3 * T + 1))
        for kind in KINDS:
            model = adding_model(kind, args.units, seed=args.seed, gate_bias=bias, optimizer=optimizer)
            r = train_and_measure(model, kind, train, val, epochs=args.epochs, batch_size=args.batch_size,
                                  probe=args.probe)
            results[kind][T] = r
            say(f"[train] {kind:4s} T={T}: val MSE {r.val_mse:.4f} (baseline {r.baseline_mse:.3f}), solved "
                f"{r.val_solved:.1%}, {'LEARNED' if learned(r.val_mse, r.baseline_mse) else 'not learned'}; "
                f"h_1/h_T {r.flow_init.ratio(kind):.1e} -> {r.flow_trained.ratio(kind):.1e}  ({r.seconds:.0f} s)")
            if T == max(args.lengths):  # one figure per model, at the longest length
                name = f"grad_norms_{kind}_T{T}.png"
                plots.plot_grad_norms(r.history, os.path.join(out, name),
                                      title=f"{NAMES[kind]}, T = {T}: gradient norms before/after clipping")
                files.append(name)
        panels = {
            "at initialisation": {f"{NAMES[k]}  (h_1/h_T = {results[k][T].flow_init.ratio(k):.1e})":
                                  (results[k][T].flow_init.norms[k], {"color": COLORS[k]}) for k in KINDS},
            "after training": {f"{NAMES[k]}  (h_1/h_T = {results[k][T].flow_trained.ratio(k):.1e})":
                               (results[k][T].flow_trained.norms[k], {"color": COLORS[k]}) for k in KINDS},
        }
        name = f"flow_T{T}.png"
        plots.plot_gradient_flow(panels, os.path.join(out, name), ylabel="‖∂L_T/∂h_t‖",
                                 title=f"gradient flow before and after {args.epochs} epochs, adding problem T = {T}"
                                       + (f", gates opened (bias {args.gate_bias:g})" if bias is not None else ""))
        files.append(name)
        gates = {f"{k} trained": g for kind in ("lstm", "gru") for k, g in results[kind][T].gates_trained.items()}
        if gates:
            name = f"gates_T{T}.png"
            plots.plot_gate_statistics(gates, os.path.join(out, name), title=f"gates after training, T = {T}")
            files.append(name)
    baseline = float(np.mean([r.baseline_mse for per in results.values() for r in per.values()]))
    plots.plot_final_metrics(
        {
            "validation MSE": {NAMES[k]: {T: r.val_mse for T, r in per.items()} for k, per in results.items()},
            f"fraction solved (|error| < {SOLVED_TOLERANCE})": {
                NAMES[k]: {T: r.val_solved for T, r in per.items()} for k, per in results.items()
            },
        },
        os.path.join(out, "metrics.png"),
        baselines={"validation MSE": baseline},
        log=("validation MSE",),
        limits={f"fraction solved (|error| < {SOLVED_TOLERANCE})": (-0.02, 1.02)},
        title=f"adding problem after {args.epochs} epochs of {args.train_size} sequences, H = {args.units}"
              + (f", forget/update gates opened (bias {args.gate_bias:g})" if args.train_init == "open" else ""),
    )
    files.append("metrics.png")
    return {k: {str(T): r.to_dict() for T, r in per.items()} for k, per in results.items()}


# -- report --------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"
    return str(v)


def _markdown(report: dict[str, Any]) -> str:
    cfg, init, clip, runs = report["config"], report["init"], report["clipping"], report["training"]
    T0 = init["T"]
    lines = [
        "# rnnlab gradflow report",
        "",
        f"Adding problem, H = {cfg['units']} units for every model, seed {cfg['seed']}. "
        f"Generated by `{report['command']}` in {report['seconds']:.0f} s.",
        "",
        "## 1. The chain (fourth note)",
        "",
        f"`|da_L/dw_1|` at depth L = {report['chain']['depth']} with the same weight w in every layer "
        f"(b = {report['chain']['bias']:g}, a_0 = {report['chain']['a0']:g}):",
        "",
        "| activation | " + " | ".join(f"w = {w}" for w in next(iter(report["chain"]["at_depth"].values()))) + " |",
        "|---|" + "---|" * len(next(iter(report["chain"]["at_depth"].values()))),
    ]
    for act, row in report["chain"]["at_depth"].items():
        lines.append(f"| {act} | " + " | ".join(_fmt(v) for v in row.values()) + " |")
    lines += [
        "",
        "![chain](chain.png)",
        "",
        f"## 2. BPTT at initialisation: T = {T0}",
        "",
        f"`||dL_T/dh_1|| / ||dL_T/dh_T||` on {init['probe']} sequences (float64, rnnlab's BPTT):",
        "",
        "| model | library initialisation | gates opened (bias " + f"{init['gate_bias']:g}) |",
        "|---|---|---|",
    ]
    for k in KINDS:
        lines.append(f"| {NAMES[k]} | {_fmt(init['ratio'][k])} | {_fmt(init['ratio_open_gates'].get(k))} |")
    g = init["gates"]
    f_mean = g.get("lstm", {}).get("f", {}).get("mean", float("nan"))
    z_mean = g.get("gru", {}).get("z", {}).get("mean", float("nan"))
    lines += [
        "",
        f"Mean forget gate of the LSTM at initialisation: {_fmt(f_mean)}; mean update gate Z of the GRU: "
        f"{_fmt(z_mean)} (the share of the state kept per step).",
        "",
        f"![flow at initialisation](flow_init_T{T0}.png)",
        "",
        f"![gates at initialisation](gates_init_T{T0}.png)",
        "",
        f"![gates opened](gates_open_T{T0}.png)",
        "",
        f"## 3. Clipping: ReLU RNN, W_R = {clip['gain']:g} x orthogonal, T = {clip['T']}, SGD lr {clip['lr']:g}",
        "",
        f"At initialisation `||dL_T/dh_1|| / ||dL_T/dh_T||` = {_fmt(clip['ratio_init'])}.",
        "",
        "| run | finite | diverged at step | first loss | last finite loss | max gradient norm |",
        "|---|---|---|---|---|---|",
    ]
    for key in ("unclipped", "clipped"):
        r = clip[key]
        name = "no clipping" if key == "unclipped" else f"clipnorm = {r['clipnorm']:g}"
        lines.append(f"| {name} | {_fmt(r['finite'])} | {_fmt(r['diverged_at_step'])} | {_fmt(r['first_loss'])} | "
                     f"{_fmt(r['last_finite_loss'])} | {_fmt(r['max_grad_norm'])} |")
    lines += ["", "![clipping](clipping.png)", "", "![clipped run](grad_norms_clipped.png)", "",
              "## 4. RNN, LSTM and GRU trained at each length", "",
              f"{cfg['epochs']} epochs of {cfg['train_size']} sequences, Adam lr {cfg['lr']:g}, clipnorm "
              f"{cfg['clipnorm']:g}, {cfg['train_init']} initialisation. 'learned' = validation MSE below "
              f"{LEARNED_FRACTION:g} x the predict-1 baseline.", "",
              "| model | T | val MSE | solved | learned | h_1/h_T at init | h_1/h_T trained |",
              "|---|---|---|---|---|---|---|"]
    for k in KINDS:
        for T, r in runs[k].items():
            lines.append(f"| {NAMES[k]} | {T} | {_fmt(r['val_mse'])} | {r['val_solved']:.1%} | {_fmt(r['learned'])} | "
                         f"{_fmt(r['ratio_init'])} | {_fmt(r['ratio_trained'])} |")
    lines += ["", "![final metrics](metrics.png)", ""]
    for T in cfg["lengths"]:
        lines += [f"![flow T={T}](flow_T{T}.png)", "", f"![gates T={T}](gates_T{T}.png)", ""]
    return "\n".join(lines)


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    init, clip = report["init"], report["clipping"]
    return {
        "out": report["out"],
        "init": {"T": init["T"], "ratio": init["ratio"], "ratio_open_gates": init["ratio_open_gates"]},
        "clipping": {
            "unclipped_finite": clip["unclipped"]["finite"],
            "unclipped_diverged_at_step": clip["unclipped"]["diverged_at_step"],
            "clipped_finite": clip["clipped"]["finite"],
            "clipped_final_loss": clip["clipped"]["final_loss"],
        },
        "training": {
            k: {T: {m: r[m] for m in ("val_mse", "val_solved", "learned")} for T, r in per.items()}
            for k, per in report["training"].items()
        },
    }


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, np.generic):
        return _json_safe(v.item())
    return v


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out!r} exists and is not a directory")
    os.makedirs(out, exist_ok=True)

    def say(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    files: list[str] = []
    report: dict[str, Any] = {"command": "rnnlab gradflow " + _argv(args), "out": os.path.abspath(out)}
    report["config"] = {k: v for k, v in vars(args).items() if k not in ("run", "command", "json", "quiet")}
    report["chain"] = _chain_part(args, out, files)
    say(f"[chain] depth {args.chain_depth}: |da_L/dw_1| at w = 1: "
        + "  ".join(f"{a} {row['1']:.1e}" for a, row in report["chain"]["at_depth"].items()))
    report["init"] = _init_part(args, out, files, say)
    report["clipping"] = _clipping_part(args, out, files, say)
    report["training"] = _training_part(args, out, files, say)
    report["seconds"] = time.perf_counter() - start
    report["files"] = [*files, "report.md", "report.json"]
    atomic_write_text(os.path.join(out, "report.md"), _markdown(report))
    atomic_write_text(os.path.join(out, "report.json"), json.dumps(_json_safe(report), indent=1) + "\n")
    say(f"wrote {len(files)} plots, report.md and report.json to {out} in {report['seconds']:.0f} s")
    if args.json:
        print(json.dumps(_json_safe(_headline(report))))
    return 0


def _argv(args: argparse.Namespace) -> str:
    """The flags that reproduce this run."""
    parts = []
    for k, v in vars(args).items():
        if k in ("run", "command", "json", "quiet"):
            continue
        flag = "--" + k.replace("_", "-")
        parts.append(f"{flag} {' '.join(map(str, v))}" if isinstance(v, list) else f"{flag} {v}")
    return " ".join(parts)
