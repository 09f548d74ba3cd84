"""``Bidirectional``: a recurrent layer run forward and backward in time, outputs merged.

The backward direction reads each sequence from its own last real step to its first, as PyTorch's
packed sequences do: with right padding, sequence ``n`` of length ``L_n`` is read as
``x[L_n - 1], ..., x[0]``, never starting in the padding. (With any mask, the real steps of each
row are reversed among themselves and the padded positions stay where they are.) Its outputs are
put back in the original time order before merging.

Shapes: ``N`` batch, ``T`` time, ``D`` input features, ``H`` units per direction.

Outputs, as Keras: the merged sequence ``(N, T, 2H)`` (``concat``) or ``(N, T, H)`` (``sum``,
``mul``, ``ave``) with ``return_sequences``, else the merge of the two final outputs (the forward
direction's after the last step, the backward one's after the first); ``merge_mode=None`` returns
the two outputs as a list. ``return_state`` appends the forward then the backward final states.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.checks import check_sequences, resolve_mask
from rnnlab.layers.base import Layer
from rnnlab.layers.recurrent import Recurrent

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def reversal_index(mask: np.ndarray | None, batch: int, time: int) -> np.ndarray:
    """``idx (T, N)``: ``x_rev[t, n] = x[idx[t, n], n]`` reverses each row's real steps.

    The permutation is its own inverse, so the same index puts outputs back in order.
    """
    idx = np.repeat(np.arange(time)[:, None], batch, axis=1)  # (T, N)
    if mask is None:
        return idx[::-1].copy()
    for n in range(batch):
        real = np.flatnonzero(mask[n])
        idx[real, n] = real[::-1]
    return idx


def take_time(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Gather ``a (T, N, ...)`` along time with a per-row index ``idx (T, N)``."""
    return a[idx, np.arange(a.shape[1])[None, :]]


class Bidirectional(Layer):
    """Run ``layer`` forward and a copy of it backward in time and merge the outputs.

    Args:
        layer: a ``SimpleRNN``, ``LSTM`` or ``GRU``; its ``return_sequences``/``return_state`` decide
            what this wrapper returns.
        merge_mode: ``'concat'`` (default), ``'sum'``, ``'mul'``, ``'ave'`` or None (a list of both).
        backward_layer: the layer for the backward direction; by default a fresh copy of ``layer``
            (same configuration, its own weights).

    Parameters are the two layers' under the prefixes ``forward/`` and ``backward/``.
    """

    def __init__(
        self,
        layer: Recurrent,
        merge_mode: str | None = "concat",
        backward_layer: Recurrent | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(layer, Recurrent):
            raise TypeError(f"Bidirectional wraps a SimpleRNN, LSTM or GRU, got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"unknown merge_mode {merge_mode!r}; expected one of {MERGE_MODES}")
        if layer.go_backwards or (backward_layer is not None and backward_layer.go_backwards):
            raise ValueError(
                "Bidirectional reverses the backward direction itself; build the layers with go_backwards=False"
            )
        super().__init__(name=name or f"bidirectional_{layer.name}", dtype=layer.dtype.name, seed=layer.seed)
        self.forward_layer = layer
        if backward_layer is None:
            config = layer.get_config()
            config["seed"] = None if layer.seed is None else layer.seed + 1
            config["name"] = f"{layer.name}_backward"
            backward_layer = type(layer)(**config)
        if backward_layer.units != layer.units and merge_mode in ("sum", "mul", "ave"):
            raise ValueError(
                f"merge_mode {merge_mode!r} needs equal units, got {layer.units} and {backward_layer.units}"
            )
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.built = layer.built and backward_layer.built

    @property
    def layers(self) -> dict[str, Recurrent]:
        return {"forward": self.forward_layer, "backward": self.backward_layer}

    @property
    def params(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {f"{d}/{k}": v for d, layer in self.layers.items() for k, v in layer.params.items()}

    @params.setter
    def params(self, value: dict[str, np.ndarray]) -> None:
        for key, v in value.items():
            d, k = key.split("/", 1)
            self.layers[d].params[k] = v

    @property
    def grads(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {f"{d}/{k}": v for d, layer in self.layers.items() for k, v in layer.grads.items()}

    @grads.setter
    def grads(self, value: dict[str, np.ndarray]) -> None:
        for key, v in value.items():
            d, k = key.split("/", 1)
            self.layers[d].grads[k] = v

    def build(self, input_dim: int) -> None:
        for layer in self.layers.values():
            if not layer.built:
                layer.build(input_dim)
        self.built = True

    # -- time-major core ------------------------------------------------------------------------

    def run(
        self,
        x: np.ndarray,
        states: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]],
        mask: np.ndarray | None,
        training: bool,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[tuple[np.ndarray, ...], ...], dict[str, Any]]:
        """Time-major: ``x (T, N, D)``, ``mask (T, N)``; returns both output sequences in time order."""
        T, N, _ = x.shape
        idx = reversal_index(None if mask is None else mask.T, N, T)
        seq_f, final_f, cache_f = self.forward_layer.run(x, states[0], mask, training)
        seq_b, final_b, cache_b = self.backward_layer.run(take_time(x, idx), states[1], mask, training)
        seq_b = take_time(seq_b, idx)
        return (seq_f, seq_b), (final_f, final_b), {"idx": idx, "f": cache_f, "b": cache_b}

    def run_backward(
        self,
        dseqs: tuple[np.ndarray | None, np.ndarray | None],
        dstates: tuple[tuple[np.ndarray | None, ...], tuple[np.ndarray | None, ...]],
        cache: dict[str, Any],
    ) -> tuple[np.ndarray, tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]]:
        idx = cache["idx"]
        dx_f, ds_f = self.forward_layer.run_backward(dseqs[0], dstates[0], cache["f"])
        dseq_b = None if dseqs[1] is None else np.ascontiguousarray(take_time(dseqs[1], idx))
        dx_b, ds_b = self.backward_layer.run_backward(dseq_b, dstates[1], cache["b"])
        return dx_f + take_time(dx_b, idx), (ds_f, ds_b)

    # -- merging ----------------------------------------------------------------------------------

    def _merge(self, a: np.ndarray, b: np.ndarray) -> Any:
        mode = self.merge_mode
        if mode == "concat":
            return np.concatenate([a, b], axis=-1)
        if mode == "sum":
            return a + b
        if mode == "mul":
            return a * b
        if mode == "ave":
            return (a + b) * 0.5
        return [a, b]

    def _unmerge(self, d: Any, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Gradients of the two merged parts, given the gradient ``d`` of the merge."""
        mode = self.merge_mode
        if d is None:
            return None, None
        if mode is None:
            return d[0], d[1]
        d = np.asarray(d, dtype=self.dtype)
        expected = (*a.shape[:-1], (a.shape[-1] + b.shape[-1]) if mode == "concat" else a.shape[-1])
        if d.shape != expected:
            raise ValueError(f"dout must have shape {expected}, got {d.shape}")
        if mode == "concat":
            return d[..., : a.shape[-1]], d[..., a.shape[-1] :]
        if mode == "sum":
            return d, d
        if mode == "mul":
            return d * b, d * a
        return d * 0.5, d * 0.5

    # -- the batch-major public pair --------------------------------------------------------------

    def forward(
        self,
        x: Any,
        initial_state: Any = None,
        mask: Any = None,
        lengths: Any = None,
        training: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """Run both directions on ``x (N, T, D)``.

        ``initial_state``: None, or a list of the forward layer's states followed by the backward
        layer's (LSTM: ``[h_f, c_f, h_b, c_b]``). ``mask``/``lengths`` as for the recurrent layers.
        """
        x = check_sequences(x, features=self.forward_layer.input_dim, dtype=self.dtype)
        N, T, D = x.shape
        self.build(D)
        mask = resolve_mask(mask, lengths, N, T)
        S = len(self.forward_layer.state_names)
        if initial_state is None:
            states = (self.forward_layer._initial_states(None, N), self.backward_layer._initial_states(None, N))
        else:
            if not isinstance(initial_state, list | tuple) or len(initial_state) != 2 * S:
                raise ValueError(f"initial_state must be a list of {2 * S} arrays: forward states then backward states")
            states = (
                self.forward_layer._initial_states(list(initial_state[:S]), N),
                self.backward_layer._initial_states(list(initial_state[S:]), N),
            )
        x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))
        (seq_f, seq_b), (final_f, final_b), cache = self.run(x_tm, states, None if mask is None else mask.T, training)
        if self.return_sequences:
            a, b = seq_f.transpose(1, 0, 2), seq_b.transpose(1, 0, 2)
        else:
            a, b = final_f[0], final_b[0]
        main = self._merge(a, b)
        out = [main, *final_f, *final_b] if self.return_state else main
        cache.update(shape=(N, T, D), parts=(a, b))
        return out, cache

    def backward(self, dout: Any, cache: dict[str, Any]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Returns ``(dx (N, T, D), dinitial_state list)``; sets both layers' ``grads``."""
        S = len(self.forward_layer.state_names)
        if self.return_state:
            if not isinstance(dout, list | tuple) or len(dout) != 1 + 2 * S:
                raise ValueError(
                    f"dout must be a list of {1 + 2 * S} gradients [output, *forward states, *backward states]"
                )
            dmain, dst = dout[0], list(dout[1:])
        else:
            dmain, dst = dout, [None] * (2 * S)
        da, db = self._unmerge(dmain, *cache["parts"])
        dst_f, dst_b = dst[:S], dst[S:]
        if self.return_sequences:
            dseqs = tuple(
                None if d is None else np.ascontiguousarray(np.asarray(d).transpose(1, 0, 2)) for d in (da, db)
            )
        else:
            dseqs = (None, None)
            dst_f[0] = _add(dst_f[0], da)
            dst_b[0] = _add(dst_b[0], db)
        dx_tm, (ds_f, ds_b) = self.run_backward(dseqs, (tuple(dst_f), tuple(dst_b)), cache)
        return np.ascontiguousarray(dx_tm.transpose(1, 0, 2)), [*ds_f, *ds_b]

    def get_config(self) -> dict[str, Any]:
        return {
            "layer": {"class": type(self.forward_layer).__name__, "config": self.forward_layer.get_config()},
            "backward_layer": {"class": type(self.backward_layer).__name__, "config": self.backward_layer.get_config()},
            "merge_mode": self.merge_mode,
            "name": self.name,
        }


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b
