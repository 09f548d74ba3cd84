"""Shared checks for the three cell modules: gradients by central differences, masks, truncation."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from rnnlab.cells import cuts_here
from tests.helpers import assert_close, numerical_grad

T, N, D, H = 6, 3, 4, 3


def make_problem(
    cell: ModuleType,
    seed: int = 0,
    *,
    reset_after: bool = False,
    use_bias: bool = True,
    masked: bool = False,
    dropout: bool = False,
) -> dict[str, Any]:
    """Random float64 inputs, weights, states, upstream gradients and (optionally) masks."""
    rng = np.random.default_rng(seed)
    G = cell.GATES
    params = {"W": rng.normal(0, 0.6, (D, G * H)), "W_R": rng.normal(0, 0.6, (H, G * H))}
    if use_bias:
        params["b"] = rng.normal(0, 0.5, G * H)
        if reset_after:
            params["b_R"] = rng.normal(0, 0.5, G * H)
    mask = None
    if masked:  # right padding for two rows and a hole in the middle of another
        mask = np.ones((T, N), bool)
        mask[4:, 0] = False
        mask[1:, 1] = False
        mask[2:4, 2] = False
    return dict(
        x=rng.normal(size=(T, N, D)),
        state=tuple(rng.normal(size=(N, H)) for _ in cell.STATES),
        params=params,
        mask=mask,
        rdrop=(rng.random((N, H)) > 0.3) / 0.7 if dropout else None,
        dout=rng.normal(size=(T, N, H)),
        dstate=tuple(rng.normal(size=(N, H)) for _ in cell.STATES),
    )


def loss(cell: ModuleType, p: dict[str, Any], opts: dict[str, Any]) -> float:
    """``sum(out * dout) + sum(final * dstate)``: its gradient is what ``backward`` returns."""
    out, final, _ = cell.forward(p["x"], p["state"], p["params"], mask=p["mask"], rdrop=p["rdrop"], **opts)
    return float((out * p["dout"]).sum() + sum((s * d).sum() for s, d in zip(final, p["dstate"], strict=True)))


def windowed_loss(
    cell: ModuleType, p: dict[str, Any], opts: dict[str, Any], k: int, boundary: dict[int, tuple[np.ndarray, ...]]
) -> float:
    """The same loss computed window by window, each window starting from a *fixed* state.

    Its exact gradient is what truncated BPTT with windows of ``k`` steps must return.
    """
    total, state = 0.0, p["state"]
    for s in range(0, T, k):
        e = min(s + k, T)
        state = p["state"] if s == 0 else boundary[s]
        m = None if p["mask"] is None else p["mask"][s:e]
        out, state, _ = cell.forward(p["x"][s:e], state, p["params"], mask=m, rdrop=p["rdrop"], **opts)
        total += float((out * p["dout"][s:e]).sum())
    return total + float(sum((a * d).sum() for a, d in zip(state, p["dstate"], strict=True)))


def check_gradients(
    cell: ModuleType, p: dict[str, Any], opts: dict[str, Any], truncate: int | None = None, tol: float = 1e-6
) -> None:
    """Compare ``backward`` with float64 central differences for x, the initial state and every parameter."""
    _, _, cache = cell.forward(p["x"], p["state"], p["params"], mask=p["mask"], rdrop=p["rdrop"], **opts)
    dx, dstate0, grads = cell.backward(p["dout"], p["dstate"], cache, truncate=truncate)
    if truncate is None:

        def f() -> float:
            return loss(cell, p, opts)
    else:
        boundary = {}
        _, _, c = cell.forward(p["x"], p["state"], p["params"], mask=p["mask"], rdrop=p["rdrop"], **opts)
        for t in range(T):
            if cuts_here(t, truncate):
                boundary[t] = tuple(c[k][t].copy() for k in ("Hs", "Cs") if k in c)

        def f() -> float:
            return windowed_loss(cell, p, opts, truncate, boundary)

    assert_close("dx", dx, numerical_grad(f, p["x"]), tol)
    for name, s, ds in zip(cell.STATES, p["state"], dstate0, strict=True):
        assert_close(f"d{name}0", ds, numerical_grad(f, s), tol)
    assert set(grads) == set(p["params"]), f"grads keys {sorted(grads)} != params keys {sorted(p['params'])}"
    for name, value in p["params"].items():
        assert_close(f"d{name}", grads[name], numerical_grad(f, value), tol)


def check_mask_semantics(cell: ModuleType, opts: dict[str, Any]) -> None:
    """A padded step keeps the state, outputs zero and passes no gradient to its input."""
    p = make_problem(cell, masked=True)
    out, final, cache = cell.forward(p["x"], p["state"], p["params"], mask=p["mask"], **opts)
    pad = ~p["mask"]
    assert np.all(out[pad] == 0.0), "outputs at padded steps must be exactly zero"
    # row 1 has only its first step real: its final state is the state after step 0
    _, first, _ = cell.forward(p["x"][:1], p["state"], p["params"], **opts)
    for s_final, s_first in zip(final, first, strict=True):
        np.testing.assert_allclose(s_final[1], s_first[1], rtol=0, atol=1e-14)
    dx, _, _ = cell.backward(p["dout"], p["dstate"], cache)
    assert np.all(dx[pad] == 0.0), "inputs at padded steps must receive zero gradient"
    # the same result as running the real steps of row 1 alone
    _, alone, _ = cell.forward(p["x"][:1, 1:2], tuple(s[1:2] for s in p["state"]), p["params"], **opts)
    np.testing.assert_allclose(final[0][1:2], alone[0], rtol=0, atol=1e-14)


def check_float32(cell: ModuleType, opts: dict[str, Any]) -> None:
    """The float32 forward matches the float64 one to 1e-5."""
    p = make_problem(cell, masked=True)
    out64, fin64, _ = cell.forward(p["x"], p["state"], p["params"], mask=p["mask"], **opts)
    p32 = {k: v.astype(np.float32) for k, v in p["params"].items()}
    out32, fin32, _ = cell.forward(
        p["x"].astype(np.float32), tuple(s.astype(np.float32) for s in p["state"]), p32, mask=p["mask"], **opts
    )
    assert out32.dtype == np.float32
    assert np.max(np.abs(out32 - out64)) < 1e-5, f"float32 vs float64 outputs differ by {np.max(np.abs(out32 - out64))}"
    for a, b in zip(fin32, fin64, strict=True):
        assert np.max(np.abs(a - b)) < 1e-5


def check_dh_record(cell: ModuleType, opts: dict[str, Any]) -> None:
    """``dh_record[t]`` is dL/dH_t: the derivative of the loss with the state after step t perturbed."""
    p = make_problem(cell, 6)
    _, _, cache = cell.forward(p["x"], p["state"], p["params"], **opts)
    record = np.zeros((T, N, H))
    cell.backward(p["dout"], p["dstate"], cache, dh_record=record)
    for t in (0, 2, T - 1):
        head, states, _ = cell.forward(p["x"][: t + 1], p["state"], p["params"], **opts)
        h_t = states[0].copy()

        def f(h_t=h_t, t=t, head=head, states=states) -> float:
            total = float((head[:t] * p["dout"][:t]).sum() + (h_t * p["dout"][t]).sum())
            out, final, _ = cell.forward(p["x"][t + 1 :], (h_t, *states[1:]), p["params"], **opts)
            total += float((out * p["dout"][t + 1 :]).sum()) if t + 1 < T else 0.0
            final = final if t + 1 < T else (h_t, *states[1:])
            return total + float(sum((a * d).sum() for a, d in zip(final, p["dstate"], strict=True)))

        assert_close(f"dL/dH_{t}", record[t], numerical_grad(f, h_t), 1e-6)
