"""Gradient clipping against torch.nn.utils.clip_grad_value_ / clip_grad_norm_."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.optim.clipping import clip_by_global_norm, clip_by_value, combine_norms, global_norm, param_norms
from tests.optim.common import make_problem


def torch_clip(grads, *, max_norm=None, clipvalue=None):
    ts = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for k, v in grads.items()}
    for k, t in ts.items():
        t.grad = torch.tensor(grads[k].copy())
    norm = None
    if max_norm is not None:
        norm = torch.nn.utils.clip_grad_norm_(list(ts.values()), max_norm).item()
    if clipvalue is not None:
        torch.nn.utils.clip_grad_value_(list(ts.values()), clipvalue)
    return {k: t.grad.numpy() for k, t in ts.items()}, norm


@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e3])
def test_clip_by_global_norm_matches_torch(max_norm):
    _, grads = make_problem()
    for g in grads[:4]:
        before = {k: v.copy() for k, v in g.items()}
        ours, norm = clip_by_global_norm(g, max_norm)
        ref, ref_norm = torch_clip(g, max_norm=max_norm)
        assert norm == pytest.approx(ref_norm, rel=1e-14)
        for k in g:
            diff = float(np.max(np.abs(ours[k] - ref[k])))
            assert diff < 1e-14, f"clipped gradient {k!r}: max |ours - torch| = {diff:.3e}"
            np.testing.assert_array_equal(g[k], before[k])  # inputs untouched
        if norm <= max_norm:
            assert all(ours[k] is g[k] for k in g), "nothing to clip: arrays pass through"
        else:
            assert global_norm(ours) == pytest.approx(max_norm, rel=1e-5)


def test_clip_by_value_matches_torch_and_keeps_the_sign():
    _, grads = make_problem()
    g = grads[0]
    ours = clip_by_value(g, 0.3)
    ref, _ = torch_clip(g, clipvalue=0.3)
    for k in g:
        np.testing.assert_array_equal(ours[k], ref[k])
        np.testing.assert_array_equal(ours[k], np.sign(g[k]) * np.minimum(np.abs(g[k]), 0.3))
        assert ours[k] is not g[k]


def test_norm_helpers_and_float32():
    g = {"a": np.array([3.0, 4.0]), "b": np.array([[12.0]])}
    assert param_norms(g) == {"a": 5.0, "b": 12.0}
    assert global_norm(g) == combine_norms([5.0, 12.0]) == 13.0
    g32 = {k: v.astype(np.float32) for k, v in g.items()}
    clipped, norm = clip_by_global_norm(g32, 1.3)
    assert norm == 13.0 and all(v.dtype == np.float32 for v in clipped.values())
    assert clip_by_value(g32, 1.0)["a"].dtype == np.float32


def test_nan_spreads_like_torch():
    g = {"a": np.array([np.nan, 1.0]), "b": np.array([2.0])}
    ours, norm = clip_by_global_norm(g, 1.0)
    ref, ref_norm = torch_clip(g, max_norm=1.0)
    assert np.isnan(norm) and np.isnan(ref_norm)
    for k in g:
        np.testing.assert_array_equal(ours[k], ref[k])  # equal_nan by default


def test_clipping_arguments_are_checked():
    with pytest.raises(ValueError, match="max_norm must be > 0, got 0"):
        clip_by_global_norm({"a": np.ones(2)}, 0)
    with pytest.raises(ValueError, match="clipvalue must be > 0, got -1"):
        clip_by_value({"a": np.ones(2)}, -1)
