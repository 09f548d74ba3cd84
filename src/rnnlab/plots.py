"""PNG plots (matplotlib's Agg backend, imported lazily; install the ``plot`` extra).

- ``plot_history``: learning curves of a ``History`` (loss and metrics, training and validation).
"""

from __future__ import annotations

import os
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
