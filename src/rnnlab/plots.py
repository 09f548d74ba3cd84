"""PNG plots (matplotlib's Agg backend, imported lazily; install the ``plot`` extra).

- ``plot_history``: learning curves of a ``History`` (loss and metrics, training and validation).
- ``plot_gradient_flow``: ``||dL/dh_t||`` per step on a log axis (``rnnlab.diagnostics.gradient_flow``).
- ``plot_gate_statistics``: LSTM/GRU gate means and saturation over time (``gate_statistics``).
- ``plot_grad_norms``: per-parameter gradient norms before/after clipping per step (``fit_monitored``).
- ``plot_clipping``: loss and gradient norm of several runs, divergence marked (clipping on/off).
- ``plot_chain``: the fourth note's ``da_L/dw_1`` against depth and weight (``chain_sweep``).
- ``plot_final_metrics``: final metrics against the sequence length, one line per model.

Shapes: ``T`` time steps; every curve is a 1-D array over steps (``t = 1 .. T``) or training steps.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from rnnlab.io import atomic_open


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "rnnlab[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as a PNG atomically and close it."""
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(fig)


def plot_history(history: Any, path: str | os.PathLike[str], title: str = "learning curves") -> None:
    """Loss (left) and every metric (right) per epoch, training solid and validation dashed."""
    plt = _pyplot()
    h, epochs = history.history, history.epoch
    metrics = [k for k in h if not k.startswith(("val_", "loss", "grad_norm", "clipped", "lr", "seconds", "sequences"))]
    fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(11 if metrics else 6, 4), squeeze=False)
    ax = axes[0][0]
    ax.plot(epochs, h["loss"], "o-", label="training loss")
    if "val_loss" in h:
        ax.plot(epochs, h["val_loss"], "s--", label="validation loss")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    if metrics:
        ax = axes[0][1]
        for k in metrics:
            ax.plot(epochs, h[k], "o-", label=k)
            if f"val_{k}" in h:
                ax.plot(epochs, h[f"val_{k}"], "s--", label=f"val_{k}")
        ax.set(xlabel="epoch", ylabel="metric", title="metrics")
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


# -- gradient diagnostics (rnnlab.diagnostics) -------------------------------------------------------

CurveSpec = Any  # an array of values, or (values, matplotlib line options) for one curve


def _positive(values: Any) -> Any:
    """``values`` as float64 with every non-positive or non-finite entry NaN (a log axis skips them)."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64).copy()
    a[~np.isfinite(a) | (a <= 0)] = np.nan
    return a


def _curve(spec: CurveSpec) -> tuple[Any, dict[str, Any]]:
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
        return spec[0], dict(spec[1])
    return spec, {}


def plot_gradient_flow(
    curves: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    title: str = "gradient flow over time",
    ylabel: str = "‖∂L/∂h_t‖",
    xlabel: str = "time step t",
) -> None:
    """Per-step gradient norms on a log axis, one curve per label (``GradientFlow.norms``).

    ``curves`` maps a label to a ``(T,)`` array (step ``t = 1 .. T``), or to ``(array, line options)``
    such as ``(norms, {"linestyle": "--", "color": "C0"})``. For side-by-side panels, map panel titles
    to such mappings: ``{"at initialisation": {...}, "after training": {...}}`` (shared y axis).
    Non-positive values (an exact zero) are left out of the log plot.
    """
    import numpy as np

    plt = _pyplot()
    nested = bool(curves) and all(isinstance(v, Mapping) for v in curves.values())
    panels = dict(curves) if nested else {"": curves}
    if not panels or not any(panels.values()):
        raise ValueError("plot_gradient_flow needs at least one curve")
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.2), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, (panel, series) in zip(axes[0], panels.items(), strict=True):
        for label, spec in series.items():
            values, style = _curve(spec)
            y = _positive(values)
            ax.semilogy(np.arange(1, len(y) + 1), y, label=label, **style)
        ax.set(xlabel=xlabel, title=panel or title)
        ax.grid(alpha=0.3)
        ax.grid(alpha=0.1, which="minor")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(ylabel + " (log scale)")
    if nested:
        fig.suptitle(title)
    save_figure(fig, path)


def plot_gate_statistics(
    stats: Mapping[str, Any], path: str | os.PathLike[str], *, title: str = "gate statistics"
) -> None:
    """For each gated layer (``gate_statistics`` result): gate means over time (left) and the fraction
    of saturated entries, near the top of the range solid and near the bottom dashed (right)."""
    import numpy as np

    plt = _pyplot()
    if not stats:
        raise ValueError("plot_gate_statistics needs at least one gated layer (LSTM or GRU)")
    fig, axes = plt.subplots(len(stats), 2, figsize=(10, 2.6 * len(stats)), squeeze=False, layout="constrained")
    for row, (label, s) in enumerate(stats.items()):
        ax_mean, ax_sat = axes[row]
        for j, gate in enumerate(s.mean):
            t = np.arange(1, len(s.mean[gate]) + 1)
            color = f"C{j}"
            ax_mean.plot(t, s.mean[gate], color=color, label=gate)
            ax_sat.plot(t, s.high[gate], color=color, label=f"{gate} near top")
            if not np.isnan(s.low[gate]).all():
                ax_sat.plot(t, s.low[gate], color=color, linestyle="--", label=f"{gate} near bottom")
        name = label if s.kind in label.lower() else f"{label} ({s.kind.upper()})"
        ax_mean.set(xlabel="time step t", ylabel="mean gate value", title=f"{name}: gate means")
        ax_sat.set(xlabel="time step t", ylabel="fraction of entries", ylim=(-0.02, 1.02),
                   title=f"{name}: saturation (within {s.eps:g} of the range's ends)")
        for ax in (ax_mean, ax_sat):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    save_figure(fig, path)


def _binned(values: Any, size: int) -> tuple[Any, Any, Any]:
    """Geometric mean, min and max of ``values`` over consecutive bins of ``size`` (NaN-aware)."""
    import numpy as np

    v = _positive(values)
    n = -(-len(v) // size)
    pad = np.full(n * size, np.nan)
    pad[: len(v)] = v
    bins = pad.reshape(n, size)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins stay NaN
        return np.exp(np.nanmean(np.log(bins), axis=1)), np.nanmin(bins, axis=1), np.nanmax(bins, axis=1)


def plot_grad_norms(
    history: Any,
    path: str | os.PathLike[str],
    *,
    title: str = "gradient norms during training",
    max_points: int = 250,
) -> None:
    """Per training step (a ``fit`` or ``fit_monitored`` history): the global gradient norm before and after
    clipping (left) and each parameter's norm before (solid) and after (dashed) clipping (right).

    Runs longer than ``max_points`` steps are shown in about 100 bins of consecutive steps: the
    geometric mean of each bin as the line and, for the global norm before clipping, its min-max as
    a band.
    """
    import numpy as np

    plt = _pyplot()
    steps = history.steps
    if "grad_norm" not in steps:
        raise ValueError("the history has no per-step grad_norm; train with rnnlab.diagnostics.fit_monitored")
    n = len(steps["grad_norm"])
    size = 1 if n <= max_points else -(-n // 100)
    x = (np.arange(-(-n // size)) * size + (size + 1) / 2) if size > 1 else np.arange(1, n + 1)

    def line(key: str) -> Any:
        return _binned(steps[key], size)[0] if size > 1 else _positive(steps[key])

    fig, (ax_g, ax_p) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    if size > 1:
        _, lo, hi = _binned(steps["grad_norm"], size)
        ax_g.fill_between(x, lo, hi, color="C0", alpha=0.2, linewidth=0, label=f"before: min-max of {size} steps")
    ax_g.semilogy(x, line("grad_norm"), color="C0", label="before clipping")
    ax_g.semilogy(x, line("clipped_norm"), "--", color="C1", label="after clipping")
    xlabel = "training step" + (f" (geometric mean of {size}-step bins)" if size > 1 else "")
    ax_g.set(xlabel=xlabel, ylabel="global gradient norm (log scale)", title="all parameters")
    params = [k.split("/", 1)[1] for k in steps if k.startswith("grad_norm/")]
    for j, name in enumerate(params):
        color = f"C{j % 10}"
        ax_p.semilogy(x, line(f"grad_norm/{name}"), color=color, linewidth=1.1, label=f"{name}")
        if f"clipped_norm/{name}" in steps:
            ax_p.semilogy(x, line(f"clipped_norm/{name}"), color=color, linewidth=1.1, linestyle="--", alpha=0.8)
    ax_p.set(xlabel=xlabel, ylabel="gradient norm (log scale)",
             title="per parameter: before (solid), after (dashed)")
    for ax in (ax_g, ax_p):
        ax.grid(alpha=0.3)
        ax.grid(alpha=0.1, which="minor")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_clipping(histories: Mapping[str, Any], path: str | os.PathLike[str], *,
                  title: str = "gradient clipping on an exploding RNN") -> None:
    """Compare training runs (``fit_monitored`` histories) step by step: the loss (left) and the
    global gradient norm before clipping, solid, and after, dashed (right). A run that diverged
    is marked with an x at its last finite step."""
    import numpy as np

    plt = _pyplot()
    if not histories:
        raise ValueError("plot_clipping needs at least one history")
    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for j, (label, h) in enumerate(histories.items()):
        color = f"C{j}"
        loss = np.asarray(h.steps.get("loss", []), dtype=np.float64)
        x = np.arange(1, len(loss) + 1)
        bad = np.flatnonzero(~np.isfinite(loss))
        name = label if not bad.size else f"{label} (diverged at step {bad[0] + 1})"
        dots = {"marker": "o", "markersize": 4} if np.isfinite(loss).sum() < 10 else {}  # a short run stays visible
        ax_l.semilogy(x, _positive(loss), color=color, label=name, **dots)
        ax_g.semilogy(x, _positive(h.steps["grad_norm"]), color=color, label=f"{label}: before clipping", **dots)
        ax_g.semilogy(x, _positive(h.steps["clipped_norm"]), color=color, linestyle="--", label=f"{label}: after",
                      **dots)
        if bad.size:
            last = bad[0] - 1
            if last >= 0:
                ax_l.plot([last + 1], [loss[last]], "x", color=color, markersize=12, markeredgewidth=2.5)
            ax_l.axvline(bad[0] + 1, color=color, linestyle=":", alpha=0.7)
    ax_l.set(xlabel="training step", ylabel="training loss (log scale)", title="loss")
    ax_g.set(xlabel="training step", ylabel="global gradient norm (log scale)", title="gradient norm")
    for ax in (ax_l, ax_g):
        ax.grid(alpha=0.3)
        ax.grid(alpha=0.1, which="minor")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_chain(sweep: Any, path: str | os.PathLike[str], *,
               title: str = "the chain ∂a_L/∂w_1 = [Π σ'(z_l) w_l] σ'(z_1) a_0") -> None:
    """The fourth note's chain (``chain_sweep`` result): ``|da_L/dw_1|`` against depth ``L``, one panel
    per activation and one curve per weight, and a last panel with every activation at the full
    depth against the weight. Exact zeros (ReLU cut off) are left out of the log axes."""
    import numpy as np

    plt = _pyplot()
    acts = list(sweep.grads)
    fig, axes = plt.subplots(1, len(acts) + 1, figsize=(3.0 * (len(acts) + 1), 3.1), squeeze=False,
                             layout="constrained")
    depth = np.arange(1, sweep.depth + 1)
    for ax, act in zip(axes[0], acts, strict=False):
        for i, w in enumerate(sweep.weights):
            ax.semilogy(depth, _positive(sweep.grads[act][i]), label=f"w = {w:g}")
        ax.set(xlabel="depth L", ylabel="|∂a_L/∂w_1| (log scale)", title=act)
        ax.grid(alpha=0.3)
        ax.grid(alpha=0.1, which="minor")
        ax.legend(fontsize=7)
    ax = axes[0][-1]
    for act in acts:
        ax.loglog(sweep.weights, _positive(sweep.grads[act][:, -1]), "o-", label=act)
    ax.set_xticks(sweep.weights, [f"{w:g}" for w in sweep.weights])
    ax.minorticks_off()
    ax.set(xlabel="weight w (log scale)", ylabel=f"|∂a_L/∂w_1| at L = {sweep.depth}", title=f"depth {sweep.depth}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"{title}   (b = {sweep.bias:g}, a_0 = {sweep.a0:g})")
    save_figure(fig, path)


def plot_final_metrics(
    panels: Mapping[str, Mapping[str, Mapping[int, float]]],
    path: str | os.PathLike[str],
    *,
    baselines: Mapping[str, float] | None = None,
    log: Sequence[str] = (),
    limits: Mapping[str, tuple[float, float]] | None = None,
    title: str = "final metrics against sequence length",
) -> None:
    """Final metrics against the sequence length ``T``, one panel per metric, one line per model.

    ``panels`` maps a metric name to ``{model: {T: value}}``; ``baselines`` draws a dotted horizontal
    line in a panel (e.g. the adding problem's MSE of always predicting 1); panels named in ``log``
    get a log y axis; ``limits`` fixes a panel's y range (``(0, 1)`` for a fraction).
    """
    import numpy as np

    plt = _pyplot()
    if not panels:
        raise ValueError("plot_final_metrics needs at least one metric")
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False, layout="constrained")
    for ax, (metric, series) in zip(axes[0], panels.items(), strict=True):
        for model, values in series.items():
            lengths = sorted(values)
            y = np.array([values[t] for t in lengths], dtype=np.float64)
            ax.plot(lengths, _positive(y) if metric in log else y, "o-", label=model)
        if baselines and metric in baselines:
            ax.axhline(baselines[metric], color="gray", linestyle=":", label="baseline (predict the mean)")
        if metric in log:
            ax.set_yscale("log")
        if limits and metric in limits:
            ax.set_ylim(*limits[metric])
        ax.set_xscale("log")
        ticks = sorted({t for values in series.values() for t in values})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set(xlabel="sequence length T (log scale)", ylabel=metric + (" (log scale)" if metric in log else ""),
               title=metric)
        ax.grid(alpha=0.3)
        ax.grid(alpha=0.1, which="minor")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)  # below: never on a line
    fig.suptitle(title)
    save_figure(fig, path)
