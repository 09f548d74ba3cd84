r"""Gradient flow over time: ``||dL/dH_t||`` at every step ``t`` of every recurrent layer.

The notes' BPTT (second note, section 3; third note, "Problems with long-term dependency") writes
the gradient that reaches the state at step ``t`` from the loss at step ``T`` as a product of
``T - t`` Jacobians::

    dL_T/dH_t = dL_T/dH_T  dH_T/dH_{T-1} ... dH_{t+1}/dH_t

For an Elman RNN each factor is ``diag(f'(A_{s})) W_R^T``, so the product shrinks or grows
geometrically with ``T - t`` (vanishing / exploding gradients); the LSTM's cell state adds a path
whose factor is the forget gate ``F_s``, the GRU's a path through ``Z_s``. This module measures the
product, exactly, with the library's own BPTT: the reference cells record ``dL/dH_t``, the total
gradient that reaches the hidden state after step ``t`` (from the output at ``t`` and from step
``t + 1``), while the model's backward pass runs (``rnnlab.cells.<kind>.backward(dh_record=...)``).

Two targets:

- ``last_step_only=False``: ``L`` is the model's loss (for a sequence-to-one model this already is
  the loss at the last step).
- ``last_step_only=True``: ``L_T``, the loss of the last step alone (each sequence's last real step
  when there is a mask): the upstream gradient is zero at every other step, so ``||dL_T/dH_t||``
  shows the pure product of Jacobians from ``T`` back to ``t``.

Shapes: ``N`` batch, ``T`` time, ``D`` input features, ``H`` units. Time is the input's order:
``t = 0`` is the first input step, also for ``go_backwards`` and ``Bidirectional`` layers (whose
backward direction's records are put back in input order).

Usage::

    flow = gradient_flow(model, x, y, last_step_only=True)
    flow.norms["lstm"]          # (T,) ||dL_T/dH_t|| over the batch, t = 0 .. T-1
    flow.ratio("lstm")          # ||dL_T/dH_1|| / ||dL_T/dH_T||
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab import losses as losses_
from rnnlab.checks import resolve_mask
from rnnlab.diagnostics import _replay
from rnnlab.layers import Bidirectional, Layer, Recurrent

__all__ = ["GradientFlow", "curves", "gradient_flow", "layer_gradient_flow"]


@dataclass
class GradientFlow:
    """Per-step gradient norms of one backward pass, per recurrent layer and direction.

    Attributes:
        norms: label -> ``(T,)``, ``||dL/dH_t||`` over the whole batch (the Frobenius norm of the
            ``(N, H)`` gradient at step ``t``).
        per_sequence: label -> ``(N, T)``, ``||dL/dH_t[n]||`` for each sequence ``n`` (after a
            sequence's last real step nothing reaches its state: 0 there).
        loss: the value of the loss that was differentiated (NaN for ``layer_gradient_flow``).
        target: ``"all"`` (the whole loss) or ``"last"`` (the loss at the last step alone), or
            ``"dout"`` (an upstream gradient given by the caller).
        records: label -> ``(N, T, H)`` the gradients themselves, when asked for with ``keep=True``.
    """

    norms: dict[str, np.ndarray]
    per_sequence: dict[str, np.ndarray]
    loss: float
    target: str
    records: dict[str, np.ndarray] | None = None

    @property
    def labels(self) -> list[str]:
        """The recurrent layers (and directions), first layer first."""
        return list(self.norms)

    @property
    def steps(self) -> int:
        """``T``."""
        return len(next(iter(self.norms.values())))

    def ratio(self, label: str | None = None) -> float:
        """``||dL/dH_1|| / ||dL/dH_T||``: how much the gradient shrinks (< 1) or grows (> 1) from the
        last step back to the first. ``label`` defaults to the only (or the last) recurrent layer."""
        n = self.norms[self._label(label)]
        return float(n[0] / n[-1]) if n[-1] != 0 else float("inf") if n[0] != 0 else float("nan")

    def log10_decay_per_step(self, label: str | None = None) -> float:
        """The mean slope of ``log10 ||dL/dH_t||`` per step from ``t = T`` back to ``t = 1``."""
        return float(np.log10(self.ratio(label)) / max(self.steps - 1, 1))

    def _label(self, label: str | None) -> str:
        if label is None:
            return self.labels[-1]
        if label not in self.norms:
            raise ValueError(f"no recurrent layer {label!r}; this flow has {self.labels}")
        return label

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: norms as lists, the ratios, the loss and the target."""
        return {
            "target": self.target,
            "loss": self.loss,
            "norms": {k: v.tolist() for k, v in self.norms.items()},
            "ratio_first_to_last": {k: self.ratio(k) for k in self.norms},
        }


def gradient_flow(
    model: Any,
    x: Any,
    y: Any,
    *,
    mask: Any = None,
    lengths: Any = None,
    loss: str | losses_.Loss | None = None,
    last_step_only: bool = False,
    dtype: str | None = "float64",
    keep: bool = False,
) -> GradientFlow:
    """``||dL/dH_t||`` for every step and recurrent layer of a ``Sequential`` model on one batch.

    Args:
        model: a built ``rnnlab.models.Sequential``.
        x: a batch of inputs, ``(N, T, D)`` (or token ids ``(N, T)`` for an ``Embedding`` model).
        y: its targets, as for ``model.fit``.
        mask, lengths: padding, as for ``model.fit`` (one of them, or neither).
        loss: a loss name or ``Loss``; defaults to the compiled model's loss.
        last_step_only: differentiate ``L_T``, the loss at the last step alone (each sequence's last
            real step), instead of the whole loss. For a model with one output per sequence the two
            are the same.
        dtype: ``"float64"`` (default) runs on a float64 copy of the model, so tiny gradients
            (1e-40 happens) do not underflow; None uses the model's own dtype.
        keep: also return the gradients themselves (``records``, ``(N, T, H)`` per layer).

    A model whose layers are not built yet is built first by one ``model.forward(x)``, as its first
    call would. Dropout is off (``training=False``), truncated BPTT (``truncate_gradient``) is the layer's.
    The model's parameters, gradients and carried states are not modified.
    """
    layers = _model_layers(model)
    loss_fn = _resolve_loss(model, loss)
    x_arr = np.asarray(x)
    if x_arr.ndim < 2:
        raise ValueError(f"x must be a batch of sequences (N, T, D) or token ids (N, T), got shape {x_arr.shape}")
    N, T = x_arr.shape[:2]
    m = resolve_mask(mask, lengths, N, T)
    if not all(lay.built for lay in layers):
        _replay.build(model, x_arr, m)  # as the model's first call would
    if _check_precision(dtype):
        layers = _replay.float64_layers(layers)
        if x_arr.dtype.kind == "f":
            x_arr = x_arr.astype(np.float64)
    replay = _replay.forward(layers, x_arr, m)
    out, out_mask = replay.outputs, replay.out_mask
    if last_step_only and np.ndim(out) == 3:
        value, dout = _last_step_loss(loss_fn, out, y, out_mask)
        target = "last"
    else:
        value, dout = loss_fn(out, y, out_mask)
        target = "last" if last_step_only else "all"
    _replay.backward(replay, dout)
    return _collect(replay.directions, value, target, keep)


def layer_gradient_flow(
    layer: Recurrent | Bidirectional,
    x: Any,
    dout: Any,
    *,
    initial_state: Any = None,
    mask: Any = None,
    lengths: Any = None,
    dtype: str | None = "float64",
    keep: bool = False,
) -> GradientFlow:
    """``||dL/dH_t||`` for one recurrent layer, given the upstream gradient ``dout`` of its output.

    ``x``, ``initial_state``, ``mask``/``lengths`` are as for ``layer.forward``; ``dout`` has the
    structure ``layer.backward`` takes (``(N, T, H)`` with ``return_sequences``, else ``(N, H)``;
    a list ``[output, *states]`` with ``return_state``). For ``dL_T/dH_t`` pass a ``dout`` that is
    zero except at the last step.
    """
    if not isinstance(layer, Recurrent | Bidirectional):
        raise TypeError(
            f"layer_gradient_flow takes a SimpleRNN, LSTM, GRU or Bidirectional, got {type(layer).__name__}"
        )
    if not layer.built:
        raise ValueError(f"layer {layer.name!r} is not built yet: call it on data first, or give input_dim")
    x_arr = np.asarray(x)
    if x_arr.ndim != 3:
        raise ValueError(f"x must have shape (batch, time, features), got shape {x_arr.shape}")
    N, T = x_arr.shape[:2]
    m = resolve_mask(mask, lengths, N, T)
    if _check_precision(dtype):
        (layer,) = _replay.float64_layers([layer])
        initial_state = _cast_tree(initial_state)
        dout = _cast_tree(dout)
        x_arr = x_arr.astype(np.float64)
    directions: list[_replay.Direction] = []
    _, cache = _replay.layer_forward(layer, x_arr, m, initial_state, directions)
    _replay.layer_backward(layer, dout, cache)
    return _collect(directions, float("nan"), "dout", keep)


# -- helpers -----------------------------------------------------------------------------------------


def _check_precision(dtype: str | None) -> bool:
    """True to run on a float64 copy; ``dtype`` must be ``"float64"`` or None (the model's own)."""
    if dtype is None:
        return False
    if dtype != "float64":
        raise ValueError(
            f"dtype must be 'float64' (a float64 copy of the model) or None (its own dtype), got {dtype!r}"
        )
    return True


def _model_layers(model: Any) -> list[Layer]:
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list) or not all(isinstance(lay, Layer) for lay in layers) or not layers:
        raise TypeError(
            f"gradient_flow takes an rnnlab Sequential model with layers, got {type(model).__name__}; "
            "for a single recurrent layer use layer_gradient_flow(layer, x, dout)"
        )
    if not any(isinstance(lay, Recurrent | Bidirectional) for lay in layers):
        raise ValueError("the model has no recurrent layer (SimpleRNN, LSTM, GRU or Bidirectional) to measure")
    return layers


def _resolve_loss(model: Any, loss: str | losses_.Loss | None) -> losses_.Loss:
    if loss is not None:
        return losses_.get(loss, argument="loss")
    compiled = getattr(model, "loss", None)
    if compiled is None:
        raise ValueError("the model is not compiled: pass loss='mse' (or another loss name), or compile it first")
    return compiled


def _last_step_loss(
    loss_fn: losses_.Loss, out: np.ndarray, y: Any, out_mask: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """The loss of each sequence's last real step alone, and its gradient scattered to ``out``'s shape."""
    N, T = out.shape[:2]
    last = np.full(N, T - 1) if out_mask is None else out_mask.shape[1] - 1 - np.argmax(out_mask[:, ::-1], axis=1)
    rows = np.arange(N)
    y_arr = np.asarray(y)
    if y_arr.shape[:2] != (N, T):
        raise ValueError(
            f"last_step_only needs per-step targets (N, T, ...) = ({N}, {T}, ...) for a model with per-step "
            f"outputs, got targets of shape {y_arr.shape}"
        )
    value, d_last = loss_fn(out[rows, last], y_arr[rows, last], None)
    dout = np.zeros_like(out)
    dout[rows, last] = d_last
    return value, dout


def _collect(directions: list[_replay.Direction], loss: float, target: str, keep: bool) -> GradientFlow:
    norms, per_seq, records = {}, {}, {}
    for d in directions:
        dh = d.to_input_time(d.dh)  # (T, N, H)
        seq = np.sqrt(np.einsum("tnh,tnh->nt", dh, dh, dtype=np.float64))  # (N, T)
        per_seq[d.label] = seq
        norms[d.label] = np.sqrt((seq * seq).sum(axis=0))  # (T,)
        if keep:
            records[d.label] = np.ascontiguousarray(dh.transpose(1, 0, 2))  # (N, T, H)
    return GradientFlow(norms, per_seq, float(loss), target, records if keep else None)


def _cast_tree(a: Any) -> Any:
    if a is None:
        return None
    if isinstance(a, list | tuple):
        return type(a)(_cast_tree(v) for v in a)
    return np.asarray(a, np.float64)


def curves(flows: Mapping[str, GradientFlow]) -> dict[str, np.ndarray]:
    """Flatten ``{name: flow}`` into ``{"name" or "name: layer": norms}`` for plotting."""
    out = {}
    for name, flow in flows.items():
        for label, n in flow.norms.items():
            out[name if len(flow.norms) == 1 else f"{name}: {label}"] = n
    return out
