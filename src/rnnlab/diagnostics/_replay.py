"""Replay a model's forward and backward pass through the reference NumPy cells, keeping records.

The diagnostics need what the layers' own pair does not hand out: the cell caches (gate values)
and ``dL/dH_t`` at every step, which the reference cells of ``rnnlab.cells`` record on request
(``backward(..., dh_record=buffer)``). So this module runs the same computation as
``Sequential.forward/backward``, ``Recurrent.forward/backward`` and ``Bidirectional.forward/backward``
with ``training=False`` (no dropout), calling ``rnnlab.cells.<kind>`` directly, whatever compiled
backend the layers may use for training. Parameters, carried states and ``grads`` of the model are
read, never written: the non-recurrent layers run on copies.

Shapes: ``N`` batch, ``T`` time, ``D`` input features, ``H`` units. The layers' public layout is
batch-major ``(N, T, .)``; the cells and the records here are time-major ``(T, N, .)``.

Each recurrent direction becomes a ``Direction``: its label (the layer's name, plus ``/forward``
or ``/backward`` inside a ``Bidirectional``), its cell module and cache, and the map from the order
in which the cell processed the steps to the input's time order (identity, reversed for
``go_backwards``, or the per-row permutation of a ``Bidirectional``'s backward direction).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnlab.cells import CELLS
from rnnlab.checks import check_sequences, resolve_mask
from rnnlab.layers import Bidirectional, Layer, Recurrent
from rnnlab.layers.bidirectional import reversal_index, take_time


@dataclass
class Direction:
    """One recurrent direction of one layer, as the reference cell ran it."""

    label: str
    layer: Recurrent
    cell: Any  # rnnlab.cells.rnn / lstm / gru
    cache: dict[str, Any]  # the cell's cache, time-major in processing order
    order: str | np.ndarray | None  # None, "reverse" or idx (T, N): processing step -> input time step
    dh: np.ndarray | None = None  # (T, N, H) dL/dH_t in processing order, after a backward replay

    def to_input_time(self, a: np.ndarray) -> np.ndarray:
        """Reorder a time-major ``(T, N, ...)`` array from processing order to input time order."""
        if self.order is None:
            return a
        if isinstance(self.order, str):
            return a[::-1]
        return take_time(a, self.order)

    @property
    def mask(self) -> np.ndarray | None:
        """``(T, N)`` bool in processing order, True where a step is real; None when all are."""
        m = self.cache["m"]
        return None if m is None else m[:, :, 0] > 0.5


@dataclass
class Replay:
    """The record of one forward pass (and, after ``backward``, one backward pass)."""

    layers: list[Layer]
    outputs: Any
    out_mask: np.ndarray | None
    caches: list[Any]
    directions: list[Direction] = field(default_factory=list)


def float64_layers(layers: list[Layer]) -> list[Layer]:
    """Deep copies of ``layers`` with every parameter and carried state in float64."""
    out = []
    for layer in layers:
        twin = copy.deepcopy(layer)
        parts = [twin, twin.forward_layer, twin.backward_layer] if isinstance(twin, Bidirectional) else [twin]
        for part in parts:
            part.dtype = np.dtype(np.float64)
            if not isinstance(part, Bidirectional):
                part.params = {k: np.array(v, np.float64) for k, v in part.params.items()}
                part.grads = {}
            if isinstance(part, Recurrent) and part.states is not None:
                part.states = tuple(np.array(s, np.float64) for s in part.states)
        out.append(twin)
    return out


def build(model: Any, x: Any, mask: np.ndarray | None) -> None:
    """Build a model's unbuilt layers by one ``model.forward`` (as its first call would), keeping
    the state that stateful layers carry exactly as it was."""
    recurrent = []
    for layer in model.layers:
        if isinstance(layer, Bidirectional):
            recurrent += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, Recurrent):
            recurrent.append(layer)
    saved = [layer.states for layer in recurrent]
    try:
        model.forward(x, mask)
    finally:
        for layer, states in zip(recurrent, saved, strict=True):
            layer.states = states


# -- forward ----------------------------------------------------------------------------------------


def forward(layers: list[Layer], x: Any, mask: np.ndarray | None) -> Replay:
    """``Sequential.forward(x, mask, training=False)`` with the recurrent layers on reference cells."""
    replay = Replay(layers=layers, outputs=None, out_mask=None, caches=[])
    h, m = x, mask
    for layer in layers:
        if isinstance(layer, Recurrent | Bidirectional):
            h, cache = layer_forward(layer, h, m, None, replay.directions)
            if not layer.return_sequences:
                m = None
        else:
            if hasattr(layer, "compute_mask"):  # Embedding(mask_zero=True) and its kin add a padding mask
                m = layer.compute_mask(h, m)
            h, cache = layer.forward(h, training=False)
        replay.caches.append(cache)
    replay.outputs, replay.out_mask = h, m
    return replay


def layer_forward(
    layer: Recurrent | Bidirectional,
    x: Any,
    mask: np.ndarray | None,
    initial_state: Any,
    directions: list[Direction],
) -> tuple[Any, dict[str, Any]]:
    """The layer's ``forward(x, initial_state, mask, training=False)``; appends its directions."""
    if isinstance(layer, Bidirectional):
        return _bidirectional_forward(layer, x, mask, initial_state, directions)
    x = check_sequences(x, features=layer.input_dim, dtype=layer.dtype)
    N, T, D = x.shape
    if not layer.built:
        layer.build(D)
    mask = resolve_mask(mask, None, N, T)
    states = layer._initial_states(initial_state, N)
    x_tm = x.transpose(1, 0, 2)  # (T, N, D)
    mask_tm = None if mask is None else mask.T  # (T, N)
    if layer.go_backwards:
        x_tm = x_tm[::-1]
        mask_tm = None if mask_tm is None else mask_tm[::-1]
    seq, final, direction = _run(layer, layer.name, x_tm, states, mask_tm, "reverse" if layer.go_backwards else None)
    directions.append(direction)
    main = np.ascontiguousarray(seq.transpose(1, 0, 2)) if layer.return_sequences else final[0]
    out = [main, *final] if layer.return_state else main
    return out, {"direction": direction, "shape": (N, T, D)}


def _run(
    layer: Recurrent,
    label: str,
    x_tm: np.ndarray,
    states: tuple[np.ndarray, ...],
    mask_tm: np.ndarray | None,
    order: str | np.ndarray | None,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], Direction]:
    """``Recurrent.run`` without dropout, always on the reference cell."""
    cell = CELLS[layer.kind]
    seq, final, cache = cell.forward(
        np.ascontiguousarray(x_tm), states, layer.params, mask=mask_tm, rdrop=None, **layer.cell_options()
    )
    return seq, final, Direction(label, layer, cell, cache, order)


def _bidirectional_forward(
    layer: Bidirectional, x: Any, mask: np.ndarray | None, initial_state: Any, directions: list[Direction]
) -> tuple[Any, dict[str, Any]]:
    x = check_sequences(x, features=layer.forward_layer.input_dim, dtype=layer.dtype)
    N, T, D = x.shape
    layer.build(D)
    mask = resolve_mask(mask, None, N, T)
    fwd, bwd = layer.forward_layer, layer.backward_layer
    S = len(fwd.state_names)
    if initial_state is None:
        states = (fwd._initial_states(None, N), bwd._initial_states(None, N))
    else:
        if not isinstance(initial_state, list | tuple) or len(initial_state) != 2 * S:
            raise ValueError(f"initial_state must be a list of {2 * S} arrays: forward states then backward states")
        states = (fwd._initial_states(list(initial_state[:S]), N), bwd._initial_states(list(initial_state[S:]), N))
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D)
    mask_tm = None if mask is None else mask.T
    idx = reversal_index(mask, N, T)  # (T, N)
    seq_f, final_f, dir_f = _run(fwd, f"{layer.name}/forward", x_tm, states[0], mask_tm, None)
    seq_b, final_b, dir_b = _run(bwd, f"{layer.name}/backward", take_time(x_tm, idx), states[1], mask_tm, idx)
    directions += [dir_f, dir_b]
    seq_b = take_time(seq_b, idx)
    if layer.return_sequences:
        a, b = seq_f.transpose(1, 0, 2), seq_b.transpose(1, 0, 2)
    else:
        a, b = final_f[0], final_b[0]
    main = layer._merge(a, b)
    out = [main, *final_f, *final_b] if layer.return_state else main
    return out, {"directions": (dir_f, dir_b), "idx": idx, "parts": (a, b), "shape": (N, T, D)}


# -- backward ---------------------------------------------------------------------------------------


def backward(replay: Replay, dout: np.ndarray) -> np.ndarray | None:
    """``Sequential.backward``: fills every direction's ``dh``; the model's ``grads`` stay untouched."""
    d: Any = dout
    for layer, cache in zip(reversed(replay.layers), reversed(replay.caches), strict=True):
        if isinstance(layer, Recurrent | Bidirectional):
            d = layer_backward(layer, d, cache)[0]
        else:
            saved = layer.grads
            try:
                d = layer.backward(d, cache)
            finally:
                layer.grads = saved
    return d


def layer_backward(layer: Recurrent | Bidirectional, dout: Any, cache: dict[str, Any]) -> tuple[np.ndarray, list]:
    """The layer's ``backward(dout, cache)``: returns ``(dx (N, T, D), dinitial_state list)``."""
    if isinstance(layer, Bidirectional):
        return _bidirectional_backward(layer, dout, cache)
    N, T, _ = cache["shape"]
    H, S = layer.units, len(layer.state_names)
    dmain, dstates = _split_dout(dout, layer.return_state, S)
    dstates = [None if d is None else _grad(d, (N, H), f"dout for state {layer.state_names[i]}", layer.dtype)
               for i, d in enumerate(dstates)]
    dseq = None
    if dmain is not None:
        if layer.return_sequences:
            dseq = _grad(dmain, (N, T, H), "dout", layer.dtype).transpose(1, 0, 2)
        else:
            dmain = _grad(dmain, (N, H), "dout", layer.dtype)
            dstates[0] = dmain if dstates[0] is None else dstates[0] + dmain
    dx_tm, dstates0 = _run_backward(cache["direction"], dseq, tuple(dstates))
    if layer.go_backwards:
        dx_tm = dx_tm[::-1]
    return np.ascontiguousarray(dx_tm.transpose(1, 0, 2)), list(dstates0)


def _run_backward(
    direction: Direction, dseq: np.ndarray | None, dstates: tuple[np.ndarray | None, ...]
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The reference cell's BPTT with ``dh_record``; no dropout, the layer's truncation."""
    cache = direction.cache
    T, N, _ = cache["x"].shape
    record = np.zeros((T, N, direction.layer.units), cache["x"].dtype)  # (T, N, H)
    dseq = None if dseq is None else np.ascontiguousarray(dseq)
    dx, dstates0, _ = direction.cell.backward(
        dseq, dstates, cache, truncate=direction.layer.truncate_gradient, dh_record=record
    )
    direction.dh = record
    return dx, dstates0


def _bidirectional_backward(layer: Bidirectional, dout: Any, cache: dict[str, Any]) -> tuple[np.ndarray, list]:
    S = len(layer.forward_layer.state_names)
    dmain, dst = _split_dout(dout, layer.return_state, 2 * S)
    da, db = layer._unmerge(dmain, *cache["parts"])
    dst_f, dst_b = dst[:S], dst[S:]
    if layer.return_sequences:
        dseqs = [None if d is None else np.ascontiguousarray(np.asarray(d).transpose(1, 0, 2)) for d in (da, db)]
    else:
        dseqs = [None, None]
        dst_f[0] = _add(dst_f[0], da)
        dst_b[0] = _add(dst_b[0], db)
    idx = cache["idx"]
    dir_f, dir_b = cache["directions"]
    dx_f, ds_f = _run_backward(dir_f, dseqs[0], tuple(dst_f))
    dseq_b = None if dseqs[1] is None else take_time(dseqs[1], idx)
    dx_b, ds_b = _run_backward(dir_b, dseq_b, tuple(dst_b))
    dx_tm = dx_f + take_time(dx_b, idx)
    return np.ascontiguousarray(dx_tm.transpose(1, 0, 2)), [*ds_f, *ds_b]


def _split_dout(dout: Any, return_state: bool, n_states: int) -> tuple[Any, list[Any]]:
    if not return_state:
        return dout, [None] * n_states
    if not isinstance(dout, list | tuple) or len(dout) != 1 + n_states:
        raise ValueError(f"dout must be a list of {1 + n_states} gradients [output, *states] (return_state=True)")
    return dout[0], list(dout[1:])


def _grad(d: Any, shape: tuple[int, ...], name: str, dtype: np.dtype) -> np.ndarray:
    d = np.asarray(d)
    if d.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {d.shape}")
    return d.astype(dtype, copy=False)


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b
