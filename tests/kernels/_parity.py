"""Helpers for the parity tests: random problems, and running reference and kernel side by side.

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnlab import cells, kernels
from rnnlab.kernels import _blas

# relative tolerance: max |kernel - reference| / max |reference|, per tensor
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}

VARIANTS = {
    "rnn": ("rnn", {}),
    "lstm": ("lstm", {}),
    "gru": ("gru", {"reset_after": False}),
    "gru_after": ("gru", {"reset_after": True}),
}


@dataclass
class Problem:
    """One random problem: inputs, state, parameters, options and upstream gradients."""

    variant: str
    dtype: Any = np.float64
    T: int = 7
    N: int = 4
    D: int = 3
    H: int = 5
    seed: int = 0
    use_bias: bool = True
    use_recurrent_bias: bool = True  # GRU reset_after's b_R
    mask: str | None = None  # None, "holes", "end"
    rdrop: bool = False
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    dout: bool = True
    dstate: tuple[bool, ...] = (True, True)
    zero_state: bool = False
    wscale: float = 1.0  # smaller weights keep unbounded gates (linear, relu) well conditioned
    arrays: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kind, extra = VARIANTS[self.variant]
        self.kind, self.extra = kind, extra
        rng = np.random.default_rng(self.seed)
        dt = np.dtype(self.dtype)
        G = cells.CELLS[kind].GATES
        T, N, D, H = self.T, self.N, self.D, self.H

        def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
            return (scale * rng.standard_normal(shape)).astype(dt)

        self.x = rand(T, N, D)
        self.params = {"W": rand(D, G * H, scale=0.6 * self.wscale), "W_R": rand(H, G * H, scale=0.5 * self.wscale)}
        if self.use_bias:
            self.params["b"] = rand(G * H, scale=0.3)
        if extra.get("reset_after") and self.use_recurrent_bias:
            self.params["b_R"] = rand(G * H, scale=0.3)
        n_states = len(cells.CELLS[kind].STATES)
        zeros = np.zeros((N, H), dt)
        self.state = tuple(zeros.copy() if self.zero_state else rand(N, H, scale=0.5) for _ in range(n_states))
        if self.mask == "holes":
            m = rng.random((T, N)) > 0.3
            m[:, 0] = True  # at least one full row
            m[2, :] = False  # and one step where everything is padded
            self.mask_array = m
        elif self.mask == "end":
            lengths = np.array([T, T - 2, 1, T - 4][:N] + [T] * max(0, N - 4))
            self.mask_array = np.arange(T)[:, None] < lengths[None, :]
        else:
            self.mask_array = None
        self.rdrop_array = (rng.random((N, H)) > 0.25).astype(dt) / dt.type(0.75) if self.rdrop else None
        self.dout_array = rand(T, N, H) if self.dout else None
        self.dstate_arrays = tuple(rand(N, H) if self.dstate[k % len(self.dstate)] else None for k in range(n_states))

    def options(self) -> dict[str, Any]:
        kw = dict(
            mask=self.mask_array,
            rdrop=self.rdrop_array,
            activation=self.activation,
            recurrent_activation=self.recurrent_activation,
        )
        kw.update(self.extra)
        return kw

    def run(self, module: Any, truncate: int | None = None) -> dict[str, np.ndarray]:
        """Forward and backward through ``module``; every result keyed by name."""
        out, final, cache = module.forward(self.x, self.state, self.params, **self.options())
        dx, dinit, grads = module.backward(self.dout_array, self.dstate_arrays, cache, truncate=truncate)
        res = {"out": out, "dx": dx}
        for k, s in enumerate(final):
            res[f"final[{k}]"] = s
        for k, s in enumerate(dinit):
            res[f"dinitial[{k}]"] = s
        for k, g in grads.items():
            res[f"d{k}"] = g
        return res


def compare(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], dtype: Any) -> None:
    """Assert every tensor matches to the dtype's relative tolerance, naming the first that does not."""
    assert ours.keys() == ref.keys(), f"result keys differ: ours={sorted(ours)} reference={sorted(ref)}"
    rtol = RTOL[np.dtype(dtype)]
    for name, r in ref.items():
        o = ours[name]
        assert o.shape == r.shape, f"{name}: shape mismatch: ours={o.shape} reference={r.shape}"
        assert o.dtype == r.dtype, f"{name}: dtype mismatch: ours={o.dtype} reference={r.dtype}"
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        diff = float(np.max(np.abs(o.astype(np.float64) - r.astype(np.float64)))) if r.size else 0.0
        assert diff <= rtol * max(scale, 1e-30), (
            f"{name} {r.shape} {np.dtype(dtype)}: max |kernel - reference| = {diff:.3e}, "
            f"max |reference| = {scale:.3e}, relative {diff / max(scale, 1e-30):.3e} > {rtol:.0e}"
        )


def check(truncate: int | None = None, chunk_rows: int | None = None, **problem: Any) -> None:
    """Build a problem, run both implementations, compare everything.

    ``chunk_rows`` shrinks the kernels' backward chunks (``_blas.CHUNK_ROWS``, with no byte budget)
    so that a small problem runs through several chunks of steps.
    """
    p = Problem(**problem)
    ref = p.run(cells.CELLS[p.kind], truncate)
    saved = _blas.CHUNK_ROWS, _blas.CHUNK_BYTES
    if chunk_rows is not None:
        _blas.CHUNK_ROWS, _blas.CHUNK_BYTES = chunk_rows, 0
    try:
        ours = p.run(kernels.KERNELS[p.kind], truncate)
    finally:
        _blas.CHUNK_ROWS, _blas.CHUNK_BYTES = saved
    compare(ours, ref, p.dtype)


ACTIVATIONS = ("tanh", "sigmoid", "hard_sigmoid", "relu", "linear")

# (id, problem options, truncate) shared by every cell
CASES: list[tuple[str, dict[str, Any], int | None]] = [
    ("default", {}, None),
    ("zero_state", {"zero_state": True}, None),
    ("no_bias", {"use_bias": False}, None),
    ("mask_holes", {"mask": "holes"}, None),
    ("mask_end", {"mask": "end"}, None),
    ("rdrop", {"rdrop": True}, None),
    ("truncate2", {}, 2),
    ("truncate3_mask_rdrop", {"mask": "holes", "rdrop": True}, 3),
    ("truncate_longer_than_T", {}, 50),
    ("dout_none", {"dout": False}, None),
    ("dstate_none", {"dstate": (False,)}, None),
    ("no_upstream", {"dout": False, "dstate": (False,)}, None),
    ("wide", {"T": 6, "N": 9, "D": 6, "H": 37, "mask": "end", "rdrop": True}, None),
    ("single_step", {"T": 1, "N": 1, "D": 1, "H": 3}, None),
] + [(f"activation_{a}", {"activation": a}, None) for a in ACTIVATIONS]

# the backward pass in chunks of steps: (id, problem options, truncate, chunk_rows)
CHUNKED: list[tuple[str, dict[str, Any], int | None, int]] = [
    ("one_step_chunks", {}, None, 1),
    ("uneven_chunks_mask_rdrop_truncate", {"T": 9, "mask": "holes", "rdrop": True}, 4, 8),
    ("chunks_no_upstream_state", {"dstate": (False,), "use_bias": False}, None, 12),
]

GATED_CASES: list[tuple[str, dict[str, Any], int | None]] = [
    (f"recurrent_{a}", {"recurrent_activation": a, "wscale": 0.4 if a in ("relu", "linear") else 1.0}, None)
    for a in ACTIVATIONS
] + [("relu_hard_sigmoid_mask", {"activation": "relu", "recurrent_activation": "hard_sigmoid", "mask": "holes"}, 2)]


def case_ids(cases: list[tuple[str, dict[str, Any], int | None]]) -> list[str]:
    return [c[0] for c in cases]


def step_through(module: Any, p: Problem, params: Any) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Run ``module.step`` over the whole sequence of ``p`` (no mask): ``(outputs (T, N, H), final)``."""
    kw = {k: v for k, v in p.options().items() if k not in ("mask", "rdrop")}
    state = p.state
    outs = []
    for t in range(p.T):
        state = module.step(p.x[t], state, params, **kw)
        outs.append(state[0])
    return np.stack(outs), state
