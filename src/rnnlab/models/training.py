"""The training loop of ``Sequential``: batches, the update step, history, progress and checkpoints.

One training step is the notes' minibatch gradient descent: forward over the batch, the loss
averaged over real time steps, BPTT through every layer, then the optimizer (with its clipping).

Data may be padded arrays (with ``lengths`` or an ``Embedding(mask_zero=True)`` for the mask) or
lists of variable-length sequences, padded per batch; lists are grouped into batches of similar
length so little time is spent on padding.

Checkpoints (``checkpoint_path``) hold the weights, the optimizer's state, the epoch and step, the
random generators (shuffling and dropout), the state carried by stateful layers and the history:
a run killed at any moment resumes (``resume=True``) from its last checkpoint and ends with the
same weights as a run that was never interrupted.
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from rnnlab import backend, threads
from rnnlab import optim as optim_
from rnnlab.checks import check_positive_int
from rnnlab.data.batching import bucket_batches, pad_sequences
from rnnlab.io import (
    atomic_write_text,
    load_checkpoint,
    remove_stale_temps,
    rng_from_json,
    rng_state_to_json,
    save_checkpoint,
)
from rnnlab.models.progress import ProgressBar

if TYPE_CHECKING:
    from rnnlab.models.sequential import Sequential


@dataclass
class History:
    """What ``fit`` measured: one value per epoch in ``history`` (Keras' layout), one per step in ``steps``.

    Per epoch: ``loss`` and each metric (training, averaged over the epoch), ``val_*`` for the
    validation data, ``lr``, ``grad_norm`` / ``grad_norm_max`` (global gradient norm before clipping,
    mean and max over the epoch's steps), ``clipped_norm`` (after clipping), ``grad_norm/<param>`` and
    ``clipped_norm/<param>`` (mean per-parameter norm before and after clipping), ``seconds`` and
    ``sequences_per_second``.
    Per step: ``loss``, ``grad_norm``, ``clipped_norm``, ``grad_norm/<param>``, ``clipped_norm/<param>``.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    steps: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)

    def log_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, [float("nan")] * (len(self.epoch) - 1)).append(float(v))
        for values in self.history.values():
            if len(values) < len(self.epoch):
                values.append(float("nan"))

    def log_step(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.steps.setdefault(k, []).append(float(v))

    def to_dict(self) -> dict[str, Any]:
        return {"history": self.history, "steps": self.steps, "epoch": self.epoch}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(dict(d.get("history", {})), dict(d.get("steps", {})), list(d.get("epoch", [])))

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """One row per epoch, atomically written."""
        buf = io.StringIO()
        keys = list(self.history)
        writer = csv.writer(buf)
        writer.writerow(["epoch", *keys])
        for i, e in enumerate(self.epoch):
            writer.writerow([e, *(self.history[k][i] for k in keys)])
        atomic_write_text(path, buf.getvalue())


class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs; optionally restore the best weights."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, mode: str = "auto",
                 restore_best_weights: bool = True) -> None:
        self.monitor, self.patience, self.restore = monitor, patience, restore_best_weights
        self.sign = -1.0 if mode == "max" or (mode == "auto" and "acc" in monitor) else 1.0
        self.best, self.best_weights, self.wait = np.inf, None, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model: Sequential) -> None:
        value = self.sign * logs.get(self.monitor, np.nan)
        if value < self.best:
            self.best, self.wait = value, 0
            self.best_weights = model.get_weights() if self.restore else None
            return
        self.wait += 1
        if self.wait >= self.patience:
            model.stop_training = True
            if self.best_weights is not None:
                model.set_weights(self.best_weights)


class Batches:
    """A dataset as batches: padded arrays or variable-length lists, with the mask of real steps.

    Shapes: inputs ``(N, T, D)`` floats or ``(N, T)`` token ids (or lists of ``(T_i, D)``/``(T_i,)``);
    targets per sequence ``(N, ...)``, or per step ``(N, T, ...)`` (or lists of ``(T_i, ...)``).
    """

    def __init__(self, x: Any, y: Any, lengths: Any = None, name: str = "x") -> None:
        self.ragged = isinstance(x, list | tuple)
        if self.ragged:
            if len(x) == 0:
                raise ValueError(f"{name} is an empty dataset: no sequences to train or evaluate on")
            self.x = [np.asarray(s) for s in x]
            for i, s in enumerate(self.x):
                if s.ndim == 0 or len(s) == 0:
                    raise ValueError(f"{name}[{i}] is an empty sequence; every sequence needs at least one step")
            self.lengths = np.array([len(s) for s in self.x])
        else:
            self.x = np.asarray(x)
            if self.x.size == 0 or self.x.ndim < 2:
                raise ValueError(f"{name} is an empty dataset or has no time axis: shape {self.x.shape}")
            self.lengths = None if lengths is None else np.asarray(lengths)
        self.n = len(self.x)
        self.y_ragged = isinstance(y, list | tuple)
        self.y = [np.asarray(t) for t in y] if self.y_ragged else (None if y is None else np.asarray(y))
        if self.y is not None and len(self.y) != self.n:
            raise ValueError(f"{name} has {self.n} sequences but the targets have {len(self.y)}")
        if self.y_ragged:
            for i, (s, t) in enumerate(zip(self.x, self.y, strict=True)):
                if len(t) != len(s):
                    raise ValueError(f"sequence {i}: {len(s)} steps but {len(t)} targets")

    def plan(self, batch_size: int, rng: np.random.Generator | None, shuffle: bool) -> list[np.ndarray]:
        """The batches of one epoch, as arrays of sequence indices."""
        if self.ragged:
            return bucket_batches(self.lengths, batch_size, rng, shuffle=shuffle)
        order = rng.permutation(self.n) if shuffle else np.arange(self.n)
        return [order[i : i + batch_size] for i in range(0, self.n, batch_size)]

    def get(self, idx: np.ndarray, window: slice | None = None) -> tuple[Any, Any, np.ndarray | None]:
        """``(inputs, targets, mask)`` of the sequences ``idx`` (and the time steps ``window``)."""
        if self.ragged:
            xb, mask = pad_sequences([self.x[i] for i in idx])
            if xb.dtype.kind == "f" and xb.dtype != np.float64:
                xb = xb.astype(np.float32)
        else:
            xb = self.x[idx]
            mask = None
            if self.lengths is not None:
                mask = np.arange(xb.shape[1])[None, :] < self.lengths[idx][:, None]
        if self.y is None:
            yb = None
        elif self.y_ragged:
            yb, _ = pad_sequences([self.y[i] for i in idx])
        else:
            yb = self.y[idx]
        if window is not None:
            xb = xb[:, window]
            yb = yb[:, window]
            mask = None if mask is None else mask[:, window]
        return xb, yb, mask


def _real_count(out: np.ndarray, mask: np.ndarray | None) -> int:
    return int(mask.sum()) if mask is not None else int(np.prod(out.shape[:-1]))


def numpy_blas_to_quiet(model: Sequential) -> list[Any]:
    """The BLAS libraries to hold at one thread while ``model`` computes a batch: NumPy's own (not
    the ones the kernels set themselves), when the model's recurrent layers run on compiled kernels
    that split batches over the cores (``rnnlab.kernels._split``); else none.

    After each multi-threaded product (a Dense layer's), OpenBLAS's idle threads spin for a while,
    and took a core from the recurrent parts that followed. Measured here, one epoch of the main
    job's tagger (2026-11-23): 827-865 sequences/s, and 1045-1087 with NumPy's BLAS on one thread
    (MKL install); 664-690 and 867-873 with the ``fast`` install (SciPy's OpenBLAS), whose epoch
    before the batch split ran there took 710-746.
    """
    if backend.get_backend() != "numba" or not model._recurrent_layers():
        return []
    from rnnlab.kernels import _blas

    if _blas.CPUS < 2 or not _blas.manages_threads():
        return []
    return threads.other_blas(_blas.own_libraries())


def train_step(model: Sequential, xb: Any, yb: Any, mask: np.ndarray | None,
               quiet: list[Any] | None = None) -> tuple[float, np.ndarray, Any]:
    """One minibatch update, with the BLAS libraries ``quiet`` on one thread (default:
    ``numpy_blas_to_quiet(model)``, which a loop computes once). Returns ``(loss, outputs, output mask)``."""
    with threads.on_one_thread(numpy_blas_to_quiet(model) if quiet is None else quiet):
        out, caches, m = model.forward(xb, mask, training=True)
        loss, dout = model.loss(out, yb, m)
        model.backward(dout, caches)
        model.optimizer.step(model.params, model.grads)
    return loss, out, m


def fit(
    model: Sequential,
    x: Any,
    y: Any,
    batch_size: int = 32,
    epochs: int = 1,
    validation_data: tuple[Any, ...] | None = None,
    shuffle: bool = True,
    callbacks: list[Any] | tuple[Any, ...] = (),
    verbose: int = 1,
    lengths: Any = None,
    bptt_window: int | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    stream: TextIO | None = None,
) -> History:
    """Train ``model`` on ``(x, y)``.

    Args:
        batch_size: sequences per update.
        epochs: passes over the data (the total, also when resuming).
        validation_data: ``(x, y)`` or ``(x, y, lengths)``, evaluated after every epoch.
        shuffle: new batch order every epoch (the order comes from ``model.rng``).
        callbacks: objects with ``on_epoch_end(epoch, logs, model)``; setting
            ``model.stop_training = True`` ends training (``EarlyStopping`` does).
        verbose: 0 silent, 1 a progress bar per epoch.
        lengths: real steps per sequence of padded array input.
        bptt_window: truncated BPTT on long streams: each batch of sequences is cut into windows
            of this many steps, trained one after the other with the state carried across windows
            by the stateful recurrent layers (reset at the start of each batch). The validation data
            is then evaluated with the carried state set aside: every validation batch starts from
            a zero state, and training's state is put back afterwards.
        checkpoint_path: write a checkpoint here at the end of every epoch (and every
            ``checkpoint_every`` steps); ``resume=True`` continues from it if it exists.
        stream: where the progress bar goes (stderr by default).
    """
    model._require_compiled()
    batch_size = check_positive_int(batch_size, argument="batch_size")
    epochs = check_positive_int(epochs, argument="epochs")
    check_positive_int(bptt_window, argument="bptt_window", allow_none=True)
    check_positive_int(checkpoint_every, argument="checkpoint_every", allow_none=True)
    data = Batches(x, y, lengths)
    val = None if validation_data is None else Batches(*validation_data[:2], *validation_data[2:3], name="validation x")
    if bptt_window is not None:
        if data.ragged:
            raise ValueError("bptt_window needs one padded array of long sequences, not a list")
        if not any(layer.stateful for layer in model._recurrent_layers()):
            raise ValueError("bptt_window needs stateful recurrent layers (stateful=True) to carry the state "
                             "across windows")

    history = History()
    model.stop_training = False
    start_epoch, skip_steps, running = 0, 0, {}
    epoch_rng_state = rng_state_to_json(model.rng)
    if checkpoint_path is not None:
        remove_stale_temps(checkpoint_path)  # half-written checkpoints of a killed run
    if resume and checkpoint_path is not None and os.path.exists(checkpoint_path):
        state = _restore_checkpoint(model, checkpoint_path)
        history = History.from_dict(state["history"])
        start_epoch, skip_steps, running = state["epoch"], state["step_in_epoch"], state["running"]
        epoch_rng_state = state["epoch_rng"]
        model.rng = rng_from_json(epoch_rng_state)

    def checkpoint(epoch: int, step_in_epoch: int, running: dict[str, float], epoch_rng: dict[str, Any]) -> None:
        if checkpoint_path is not None:
            _save_checkpoint(model, checkpoint_path, history, epoch, step_in_epoch, running, epoch_rng)

    quiet = numpy_blas_to_quiet(model)  # once: it looks up the loaded libraries
    for epoch in range(start_epoch, epochs):
        if epoch > start_epoch or not skip_steps:
            epoch_rng_state = rng_state_to_json(model.rng)  # the batch order below is drawn from here
        plan = data.plan(batch_size, model.rng, shuffle)
        steps = [(idx, None) for idx in plan]
        if bptt_window is not None:
            T = data.x.shape[1]
            steps = [(idx, slice(s, min(s + bptt_window, T))) for idx in plan for s in range(0, T, bptt_window)]
        bar = ProgressBar(len(steps), f"epoch {epoch + 1}/{epochs}", stream, enabled=verbose > 0)
        start = time.perf_counter()
        if not running:
            running = {"loss": 0.0, "count": 0.0, "sequences": 0.0}
        for i, (idx, window) in enumerate(steps):
            if i < skip_steps:
                continue
            if bptt_window is not None and window.start == 0:
                model.reset_states()
            xb, yb, mask = data.get(idx, window)
            loss, out, m = train_step(model, xb, yb, mask, quiet)
            n = _real_count(out, m)
            running["loss"] += loss * n
            running["count"] += n
            running["sequences"] += len(idx)
            for metric in model.metrics:
                running[metric.name] = running.get(metric.name, 0.0) + metric(out, yb, m) * n
            opt = model.optimizer
            history.log_step({"loss": loss, "grad_norm": opt.last_grad_norm, "clipped_norm": opt.last_clipped_norm,
                              **{f"grad_norm/{k}": v for k, v in opt.last_param_norms.items()},
                              **{f"clipped_norm/{k}": v for k, v in opt.last_clipped_param_norms.items()}})
            shown = {"loss": running["loss"] / running["count"]}
            shown.update({m.name: running[m.name] / running["count"] for m in model.metrics})
            bar.update(i + 1, len(idx), shown)
            if checkpoint_every and (i + 1) % checkpoint_every == 0 and i + 1 < len(steps):
                checkpoint(epoch, i + 1, running, epoch_rng_state)
        skip_steps = 0
        elapsed = time.perf_counter() - start
        logs = _epoch_logs(model, history, running, len(steps), elapsed)
        if val is not None:
            if bptt_window is not None:
                scores = _evaluate_from_zero_state(model, val, batch_size)
            else:
                scores = evaluate(model, val.x, val.y, batch_size, val.lengths)
            logs.update({f"val_{k}": v for k, v in scores.items()})
        bar.close(len(steps), {k: v for k, v in logs.items() if not k.startswith(("grad_norm", "clipped", "lr",
                                                                                 "seconds", "sequences"))})
        history.log_epoch(epoch + 1, logs)
        running = {}
        for cb in callbacks:
            cb.on_epoch_end(epoch + 1, logs, model)
        checkpoint(epoch + 1, 0, {}, rng_state_to_json(model.rng))
        if model.stop_training:
            break
    return history


def _evaluate_from_zero_state(model: Sequential, val: Batches, batch_size: int) -> dict[str, float]:
    """``evaluate`` with the stateful layers made ordinary for the call, their carried state kept aside.

    A stateful layer would start the first validation batch from training's last state, carry its
    state from one validation batch to the next and refuse a last batch of another size.
    """
    layers = [layer for layer in model._recurrent_layers() if layer.stateful]
    kept = [layer.states for layer in layers]
    try:
        for layer in layers:
            layer.stateful = False
        return evaluate(model, val.x, val.y, batch_size, val.lengths)
    finally:
        for layer, states in zip(layers, kept, strict=True):
            layer.stateful, layer.states = True, states


def _epoch_logs(model: Sequential, history: History, running: dict[str, float], n_steps: int,
                elapsed: float) -> dict[str, float]:
    count = max(running["count"], 1.0)
    logs = {"loss": running["loss"] / count}
    logs.update({m.name: running[m.name] / count for m in model.metrics if m.name in running})
    norms = history.steps.get("grad_norm", [])[-n_steps:]
    clipped = history.steps.get("clipped_norm", [])[-n_steps:]
    logs["lr"] = model.optimizer.current_lr()
    if norms:
        logs["grad_norm"] = float(np.mean(norms))
        logs["grad_norm_max"] = float(np.max(norms))
        logs["clipped_norm"] = float(np.mean(clipped))
    for k, values in history.steps.items():
        if k.startswith(("grad_norm/", "clipped_norm/")):
            logs[k] = float(np.mean(values[-n_steps:]))
    logs["seconds"] = elapsed
    logs["sequences_per_second"] = running["sequences"] / elapsed if elapsed > 0 else 0.0
    return logs


def _layer_rngs(model: Sequential) -> dict[str, Any]:
    layers = list(model.layers) + [lay for lay in model._recurrent_layers() if lay not in model.layers]
    return {f"{i}": layer.rng for i, layer in enumerate(layers)}


def _save_checkpoint(model: Sequential, path: str | os.PathLike[str], history: History, epoch: int,
                     step_in_epoch: int, running: dict[str, float], epoch_rng: dict[str, Any]) -> None:
    opt_arrays, opt_meta = model.optimizer.state_dict()
    arrays = {f"optimizer/{k}": v for k, v in opt_arrays.items()}
    for i, layer in enumerate(model._recurrent_layers()):
        for j, s in enumerate(layer.states or ()):
            arrays[f"carried/{i}/{j}"] = s
    training_state = {
        "epoch": epoch,
        "step_in_epoch": step_in_epoch,
        "running": running,
        "epoch_rng": epoch_rng,
        "model_rng": rng_state_to_json(model.rng),
        "layer_rngs": {k: rng_state_to_json(r) for k, r in _layer_rngs(model).items()},
        "optimizer_meta": opt_meta,
        "history": history.to_dict(),
    }
    save_checkpoint(path, model.get_config(), model.get_weights(), arrays, training_state)


def _restore_checkpoint(model: Sequential, path: str | os.PathLike[str]) -> dict[str, Any]:
    ckpt = load_checkpoint(path)
    model.set_weights(ckpt.weights)
    state = ckpt.training_state
    opt_arrays = {k[len("optimizer/"):]: v for k, v in ckpt.optimizer_state.items() if k.startswith("optimizer/")}
    model.optimizer = optim_.restore(opt_arrays, state["optimizer_meta"])
    recurrent = model._recurrent_layers()
    for layer in recurrent:
        layer.states = None
    for key, v in ckpt.optimizer_state.items():
        if key.startswith("carried/"):
            _, i, j = key.split("/")
            layer = recurrent[int(i)]
            layer.states = (*(layer.states or ()), v)[: int(j) + 1]
    rngs = _layer_rngs(model)
    for k, s in state["layer_rngs"].items():
        rngs[k].bit_generator.state = rng_from_json(s).bit_generator.state
    model.rng = rng_from_json(state["model_rng"])
    return state


def evaluate(model: Sequential, x: Any, y: Any, batch_size: int = 64, lengths: Any = None) -> dict[str, float]:
    """Loss and metrics over the whole data, each batch weighted by its number of real elements."""
    model._require_compiled()
    data = Batches(x, y, lengths)
    totals: dict[str, float] = {"loss": 0.0}
    count = 0
    quiet = numpy_blas_to_quiet(model)
    for idx in data.plan(batch_size, None, shuffle=False):
        xb, yb, mask = data.get(idx)
        with threads.on_one_thread(quiet):
            out, _, m = model.forward(xb, mask)
        n = _real_count(out, m)
        totals["loss"] += model.loss(out, yb, m)[0] * n
        for metric in model.metrics:
            totals[metric.name] = totals.get(metric.name, 0.0) + metric(out, yb, m) * n
        count += n
    return {k: v / count for k, v in totals.items()}


def predict(model: Sequential, x: Any, batch_size: int = 64, lengths: Any = None) -> Any:
    """Outputs for every sequence, in input order.

    Padded array input gives one array; a list of variable-length sequences gives a list, each
    sequence's outputs cut to its own length when the model outputs sequences.
    """
    data = Batches(x, None, lengths)
    results: list[Any] = [None] * data.n
    quiet = numpy_blas_to_quiet(model)
    for idx in data.plan(batch_size, None, shuffle=False):
        xb, _, mask = data.get(idx)
        with threads.on_one_thread(quiet):
            out, _, m = model.forward(xb, mask)
        for row, i in enumerate(idx):
            o = out[row]
            if data.ragged and m is not None:
                o = o[: data.lengths[i]]
            results[i] = o
    return results if data.ragged else np.stack(results)
