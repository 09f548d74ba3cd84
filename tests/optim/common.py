"""Shared by the optimizer tests: random problems and a side-by-side run with ``torch.optim``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rnnlab.optim import Optimizer

SHAPES = {"W": (4, 6), "W_R": (2, 6), "b": (6,)}
STEPS = 10


def make_problem(seed: int = 0, steps: int = STEPS, dtype: type = np.float64):
    """Random parameters and one fixed gradient dict per step, some steps with large gradients
    (global norm around 10-20) and some with small ones, so that clipping kicks in on some only."""
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()}
    scales = rng.choice([0.05, 0.5, 3.0], size=steps)
    grads = [{k: (scale * rng.normal(size=s)).astype(dtype) for k, s in SHAPES.items()} for scale in scales]
    return params, grads


def run_rnnlab(opt: Optimizer, params: dict[str, np.ndarray], grads: list[dict[str, np.ndarray]]):
    """Copy ``params``, run ``opt.step`` over ``grads``; return the parameters and each step's norms."""
    params = {k: v.copy() for k, v in params.items()}
    norms = []
    for g in grads:
        opt.step(params, g)
        norms.append(opt.last_grad_norm)
    return params, norms


def run_torch(
    make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    params: dict[str, np.ndarray],
    grads: list[dict[str, np.ndarray]],
    *,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    make_scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
):
    """The same loop in PyTorch: set .grad, clip_grad_norm_, clip_grad_value_, step, scheduler.step."""
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    opt = make_optimizer(list(tparams.values()))
    scheduler = make_scheduler(opt) if make_scheduler else None
    norms = []
    for g in grads:
        for k, p in tparams.items():
            p.grad = torch.tensor(g[k].copy())
        if clipnorm is not None:
            norms.append(torch.nn.utils.clip_grad_norm_(list(tparams.values()), clipnorm).item())
        if clipvalue is not None:
            torch.nn.utils.clip_grad_value_(list(tparams.values()), clipvalue)
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return {k: p.detach().numpy() for k, p in tparams.items()}, norms


def assert_same_params(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], tol: float = 1e-12) -> None:
    assert ours.keys() == ref.keys()
    for k in ours:
        assert ours[k].shape == ref[k].shape, f"{k}: shape mismatch: ours={ours[k].shape} torch={ref[k].shape}"
        diff = float(np.max(np.abs(ours[k] - ref[k])))
        assert diff < tol, f"parameter {k!r}: max |ours - torch| = {diff:.3e} >= {tol:.0e} after {STEPS} steps"


def check_against_torch(
    ours: Optimizer,
    make_torch: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    *,
    make_scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
    seed: int = 0,
) -> None:
    """Ten steps of ``ours`` and of the torch optimizer (with the same clipping) agree to 1e-12."""
    params, grads = make_problem(seed)
    start = {k: v.copy() for k, v in params.items()}
    mine, my_norms = run_rnnlab(ours, params, grads)
    ref, ref_norms = run_torch(
        make_torch, params, grads, clipnorm=ours.clipnorm, clipvalue=ours.clipvalue, make_scheduler=make_scheduler
    )
    for k in params:  # the inputs were not touched
        np.testing.assert_array_equal(params[k], start[k])
    assert max(float(np.max(np.abs(mine[k] - start[k]))) for k in mine) > 1e-3, "the optimizer did not move"
    assert_same_params(mine, ref)
    if ours.clipnorm is not None:
        np.testing.assert_allclose(my_norms, ref_norms, rtol=1e-13, err_msg="pre-clip global norms")
