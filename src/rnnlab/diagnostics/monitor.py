r"""Training with every parameter's gradient norm recorded before and after clipping, at every step.

``Sequential.fit`` records the global gradient norm before and after clipping per step, and each
parameter's norm *before* clipping per epoch. To see what clipping does to each parameter
(first note, section 3: ``|dL/dw| <- min(|dL/dw|, C)``; ``clipnorm`` rescales all of them together),
``fit_monitored`` runs the same minibatch loop (forward, loss, BPTT, ``optimizer.step``) and logs,
for every step and every parameter ``k``::

    grad_norm/<k>      ||g_k||                      before clipping
    clipped_norm/<k>   ||clip(g)_k||                after the optimizer's clipping

The clipped gradients are recomputed with the optimizer's own pure functions
(``rnnlab.optim.clipping``) in its own order (``clipnorm`` then ``clipvalue``), so they are exactly
what the update used. A run that diverges (non-finite outputs, loss or gradients) stops there
instead of raising: the step is logged with NaN and ``first_divergence(history)`` tells where.

Shapes: ``N`` batch, ``T`` time, ``D`` features.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from rnnlab.checks import check_positive_int
from rnnlab.models.training import Batches, History, evaluate
from rnnlab.optim.clipping import clip_by_global_norm, clip_by_value, combine_norms, param_norms

__all__ = ["clipped_grads", "first_divergence", "fit_monitored"]


def clipped_grads(optimizer: Any, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``grads`` after ``optimizer``'s clipping (``clipnorm`` then ``clipvalue``), as ``step`` applies it."""
    out = dict(grads)
    if optimizer.clipnorm is not None:
        out, _ = clip_by_global_norm(out, optimizer.clipnorm)
    if optimizer.clipvalue is not None:
        out = clip_by_value(out, optimizer.clipvalue)
    return out


def first_divergence(history: History) -> int | None:
    """The index of the first training step whose loss was not finite, or None."""
    for i, v in enumerate(history.steps.get("loss", [])):
        if not math.isfinite(v):
            return i
    return None


def fit_monitored(
    model: Any,
    x: Any,
    y: Any,
    *,
    batch_size: int = 32,
    epochs: int = 1,
    validation_data: tuple[Any, ...] | None = None,
    shuffle: bool = True,
    max_steps: int | None = None,
    lengths: Any = None,
) -> History:
    """Train a compiled ``Sequential`` like ``fit`` and record per-parameter norms around clipping.

    Args:
        batch_size, epochs, shuffle, lengths: as for ``fit``.
        validation_data: ``(x, y)`` or ``(x, y, lengths)``, evaluated after every epoch.
        max_steps: stop after this many updates in total (None: all epochs).

    Returns:
        a ``History``. Per step: ``loss``, ``grad_norm``, ``clipped_norm`` and ``grad_norm/<k>``,
        ``clipped_norm/<k>`` for every parameter ``k``. Per epoch: ``loss``, metrics, ``val_*``,
        ``lr``, the means of the step norms and ``seconds``. After a divergence the step's values
        are NaN and training stops.
    """
    model._require_compiled()
    batch_size = check_positive_int(batch_size, argument="batch_size")
    epochs = check_positive_int(epochs, argument="epochs")
    max_steps = check_positive_int(max_steps, argument="max_steps", allow_none=True)
    data = Batches(x, y, lengths)
    val = None if validation_data is None else Batches(*validation_data[:2], *validation_data[2:3], name="validation x")
    history = History()
    opt = model.optimizer
    step = 0
    diverged = False
    for epoch in range(epochs):
        start = time.perf_counter()
        first_step = step
        totals, count = {"loss": 0.0}, 0
        for idx in data.plan(batch_size, model.rng, shuffle):
            xb, yb, mask = data.get(idx)
            logs = _step(model, xb, yb, mask)
            history.log_step(logs)
            step += 1
            if not math.isfinite(logs["loss"]):
                diverged = True
                break
            n = len(idx)
            totals["loss"] += logs.pop("loss") * n
            for metric in model.metrics:
                totals[metric.name] = totals.get(metric.name, 0.0) + logs.pop(f"metric/{metric.name}") * n
            count += n
            if max_steps is not None and step >= max_steps:
                break
        epoch_logs = {k: (v / count if count else float("nan")) for k, v in totals.items()}
        if diverged:
            epoch_logs["loss"] = float("nan")
        epoch_logs["lr"] = opt.current_lr()
        for key in history.steps:
            if key.startswith(("grad_norm", "clipped_norm")):
                vals = np.asarray(history.steps[key][first_step:step])
                epoch_logs[key] = float(vals.mean()) if vals.size else float("nan")
        if val is not None:
            if diverged:
                epoch_logs.update({f"val_{k}": float("nan") for k in ("loss", *(m.name for m in model.metrics))})
            else:
                scores = evaluate(model, val.x, val.y, batch_size, val.lengths)
                epoch_logs.update({f"val_{k}": v for k, v in scores.items()})
        epoch_logs["seconds"] = time.perf_counter() - start
        history.log_epoch(epoch + 1, epoch_logs)
        if diverged or (max_steps is not None and step >= max_steps):
            break
    return history


def _step(model: Any, xb: Any, yb: Any, mask: np.ndarray | None) -> dict[str, float]:
    """One update; returns the step's logs (NaN everywhere once something is not finite)."""
    names = list(model.params)
    nan_logs = {"loss": float("nan"), "grad_norm": float("nan"), "clipped_norm": float("nan")}
    nan_logs.update({f"{p}/{k}": float("nan") for k in names for p in ("grad_norm", "clipped_norm")})
    out, caches, m = model.forward(xb, mask, training=True)
    if not np.isfinite(out).all():
        return nan_logs
    loss, dout = model.loss(out, yb, m)
    if not math.isfinite(loss):
        return nan_logs
    model.backward(dout, caches)
    grads = model.grads
    before = param_norms(grads)
    after = param_norms(clipped_grads(model.optimizer, grads))
    total = combine_norms(before.values())
    if not math.isfinite(total):
        return {**nan_logs, "grad_norm": total}
    model.optimizer.step(model.params, grads)
    logs = {"loss": float(loss), "grad_norm": total, "clipped_norm": combine_norms(after.values())}
    logs.update({f"grad_norm/{k}": v for k, v in before.items()})
    logs.update({f"clipped_norm/{k}": v for k, v in after.items()})
    for metric in model.metrics:
        logs[f"metric/{metric.name}"] = metric(out, yb, m)
    return logs
