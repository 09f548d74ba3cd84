r"""Gate statistics of LSTM and GRU layers over time: the mean of each gate and how often it saturates.

The gates decide what the gradient can do (fourth note, sections 4-5). In this library's
equations (``rnnlab.cells.lstm``, ``rnnlab.cells.gru``)::

    LSTM   C_t = F_t * C_{t-1} + I_t * C~_t        dC_t/dC_{t-1} = F_t (the cell-state path)
    GRU    H_t = Z_t * H_{t-1} + (1 - Z_t) * H~_t  dH_t/dH_{t-1} = Z_t + (terms through the gates)

so a forget gate ``F`` near 1 (LSTM) or an update gate ``Z`` near 1 (GRU: ``Z`` is the share of the
*old* state that is kept, as in the notes' ``H_t = Z_t H_{t-1} + (1 - Z_t) H~_t``) keeps the
gradient alive over many steps, and a gate near 0 cuts it. Papers writing the GRU as
``(1 - z) h + z h~`` call the same situation "update gate near 0".

The statistics are read from the reference cells' cache, whose ``A (T, N, G*H)`` holds the
activated gates side by side: LSTM ``[i | f | c~ | o]``, GRU ``[r | z | h~]``. For each gate and
step ``t``, over the real (unpadded) sequences ``n`` and all units::

    mean[t] = mean_{n, k} v[t, n, k]
    low[t]  = fraction of v[t, n, k] <= lo + eps      near the bottom of the activation's range
    high[t] = fraction of v[t, n, k] >= hi - eps      near the top

with ``[lo, hi]`` = ``[0, 1]`` for sigmoid and hard-sigmoid gates, ``[-1, 1]`` for tanh candidates
(NaN where the range is unbounded: ``relu``, ``linear``).

Shapes: ``N`` batch, ``T`` time, ``H`` units, ``G`` gate blocks (LSTM 4, GRU 3). Time runs in the
input's order (``t = 0`` first), also for ``go_backwards`` and ``Bidirectional`` layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.checks import resolve_mask
from rnnlab.diagnostics import _replay
from rnnlab.layers import Bidirectional, Layer, Recurrent

__all__ = ["GATES", "GateStats", "gate_statistics", "gates_from_cache"]

# The gate blocks of ``A`` in order, and which activation each uses ("f" gates, "g" candidate).
GATES: dict[str, tuple[tuple[str, str], ...]] = {
    "lstm": (("i", "f"), ("f", "f"), ("c~", "g"), ("o", "f")),
    "gru": (("r", "f"), ("z", "f"), ("h~", "g")),
}

RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, np.inf),
    "linear": (-np.inf, np.inf),
}


@dataclass
class GateStats:
    """Statistics of one gated layer (one direction), each gate a ``(T,)`` array.

    Attributes:
        label: the layer's name (``/forward`` or ``/backward`` inside a ``Bidirectional``).
        kind: ``"lstm"`` or ``"gru"``.
        mean, low, high: gate name -> ``(T,)``: mean value, fraction near the bottom of the range,
            fraction near the top (module docstring). NaN at steps with no real sequence.
        eps: the distance from the ends of the range that counts as saturated.
        weight: ``(T,)`` the number of real sequences at each step (to average over time).
    """

    label: str
    kind: str
    mean: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    eps: float
    weight: np.ndarray

    @property
    def gates(self) -> list[str]:
        return list(self.mean)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per gate: ``mean``, ``low`` and ``high`` averaged over every real step."""
        w = self.weight

        def avg(a: np.ndarray) -> float:
            ok = (w > 0) & np.isfinite(a)
            return float((a[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else float("nan")

        return {g: {"mean": avg(self.mean[g]), "low": avg(self.low[g]), "high": avg(self.high[g])} for g in self.mean}


def gates_from_cache(
    kind: str, cache: dict[str, Any], *, eps: float = 0.1, mask: np.ndarray | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Per-step gate statistics straight from a reference cell's cache (time-major, processing order).

    Args:
        kind: ``"lstm"`` or ``"gru"``.
        cache: the third value ``rnnlab.cells.lstm.forward`` / ``gru.forward`` returned.
        eps: saturation margin, in (0, 0.5].
        mask: ``(T, N)`` bool, True where a step is real; defaults to the cache's own mask.

    Returns:
        ``{"mean": {gate: (T,)}, "low": {...}, "high": {...}, "weight": {"": (T,)}}``.
    """
    if kind not in GATES:
        raise ValueError(f"gate statistics exist for 'lstm' and 'gru' cells, got {kind!r}")
    if not isinstance(eps, int | float) or not 0 < eps <= 0.5:
        raise ValueError(f"eps must be a number in (0, 0.5], got {eps!r}")
    A = np.asarray(cache["A"])  # (T, N, G*H), activated gates
    T, N, GH = A.shape
    blocks = GATES[kind]
    H = GH // len(blocks)
    if mask is None:
        m = cache.get("m")
        mask = None if m is None else m[:, :, 0] > 0.5
    w = np.ones((T, N)) if mask is None else np.asarray(mask, bool).astype(np.float64)  # (T, N)
    count = w.sum(axis=1) * H  # (T,) real entries per step
    with np.errstate(invalid="ignore", divide="ignore"):
        out: dict[str, dict[str, np.ndarray]] = {"mean": {}, "low": {}, "high": {}}
        for j, (gate, which) in enumerate(blocks):
            v = A[:, :, j * H : (j + 1) * H].astype(np.float64)  # (T, N, H)
            lo, hi = RANGES.get(cache[which].name, (-np.inf, np.inf))
            out["mean"][gate] = np.einsum("tnh,tn->t", v, w) / count
            nan = np.full(T, np.nan)
            out["low"][gate] = np.einsum("tnh,tn->t", v <= lo + eps, w) / count if np.isfinite(lo) else nan
            out["high"][gate] = np.einsum("tnh,tn->t", v >= hi - eps, w) / count if np.isfinite(hi) else nan.copy()
    out["weight"] = {"": w.sum(axis=1)}
    return out


def gate_statistics(
    model_or_layer: Any, x: Any, *, mask: Any = None, lengths: Any = None, eps: float = 0.1
) -> dict[str, GateStats]:
    """Gate statistics of every LSTM/GRU layer of a ``Sequential`` model (or of one layer) on a batch.

    Args:
        model_or_layer: a ``Sequential`` (built by one forward pass if it is not yet), or a built
            ``LSTM``/``GRU``/``Bidirectional`` layer.
        x: inputs ``(N, T, D)`` (token ids ``(N, T)`` for an ``Embedding`` model).
        mask, lengths: padding (one of them, or neither); padded steps are left out.
        eps: saturation margin (module docstring), in (0, 0.5].

    Returns:
        label -> ``GateStats``, first layer first; layers without gates (``SimpleRNN``) are skipped.
    """
    x_arr = np.asarray(x)
    if x_arr.ndim < 2:
        raise ValueError(f"x must be a batch of sequences (N, T, D) or token ids (N, T), got shape {x_arr.shape}")
    N, T = x_arr.shape[:2]
    m = resolve_mask(mask, lengths, N, T)
    if isinstance(model_or_layer, Recurrent | Bidirectional):
        if not model_or_layer.built:
            raise ValueError(f"layer {model_or_layer.name!r} is not built yet: call it on data first")
        directions: list[_replay.Direction] = []
        _replay.layer_forward(model_or_layer, x_arr, m, None, directions)
    else:
        layers = getattr(model_or_layer, "layers", None)
        if not isinstance(layers, list) or not layers or not all(isinstance(lay, Layer) for lay in layers):
            raise TypeError(
                f"gate_statistics takes a Sequential model or an LSTM/GRU layer, got {type(model_or_layer).__name__}"
            )
        if not all(lay.built for lay in layers):
            _replay.build(model_or_layer, x_arr, m)  # as the model's first call would
        directions = _replay.forward(layers, x_arr, m).directions
    stats = {}
    for d in directions:
        kind = d.layer.kind
        if kind not in GATES:
            continue
        # Gate values and mask in input time order (go_backwards / Bidirectional reorder the steps).
        mask_tm = d.mask
        cache = dict(d.cache, A=d.to_input_time(d.cache["A"]))
        raw = gates_from_cache(kind, cache, eps=eps, mask=None if mask_tm is None else d.to_input_time(mask_tm))
        stats[d.label] = GateStats(
            label=d.label, kind=kind, mean=raw["mean"], low=raw["low"], high=raw["high"], eps=float(eps),
            weight=raw["weight"][""],
        )
    return stats
