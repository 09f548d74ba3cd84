"""fit_monitored: the same training as fit, plus each parameter's gradient norm before/after clipping."""

import math

import numpy as np
import pytest

from rnnlab.diagnostics import clipped_grads, first_divergence, fit_monitored
from rnnlab.diagnostics.experiment import exploding_rnn
from rnnlab.layers import GRU
from rnnlab.layers.dense import Dense
from rnnlab.models import Sequential
from rnnlab.optim import SGD

N, T, D, H = 40, 7, 3, 4


def model(optimizer):
    m = Sequential([GRU(H, input_dim=D, seed=0), Dense(1, input_dim=H, seed=1)], seed=3)
    return m.compile(optimizer, "mse", [("within_tolerance", {"tol": 0.1})])


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, T, D)).astype("float32"), rng.normal(size=(N, 1)).astype("float32")


def test_same_updates_and_losses_as_fit():
    x, y = data()
    a = model({"class_name": "Adam", "config": {"lr": 0.01, "clipnorm": 0.5}})
    b = model({"class_name": "Adam", "config": {"lr": 0.01, "clipnorm": 0.5}})
    ha = a.fit(x, y, batch_size=8, epochs=2, verbose=0)
    hb = fit_monitored(b, x, y, batch_size=8, epochs=2, validation_data=(x, y))
    for k, v in a.params.items():
        np.testing.assert_array_equal(v, b.params[k], err_msg=f"parameter {k}")
    np.testing.assert_allclose(hb.steps["loss"], ha.steps["loss"], rtol=1e-6)
    np.testing.assert_allclose(hb.steps["grad_norm"], ha.steps["grad_norm"], rtol=1e-6)
    np.testing.assert_allclose(hb.steps["clipped_norm"], ha.steps["clipped_norm"], rtol=1e-6)
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], rtol=1e-6)
    assert hb.epoch == [1, 2] and "val_loss" in hb.history and "val_within_tolerance" in hb.history
    for k in a.params:
        assert len(hb.steps[f"grad_norm/{k}"]) == 10 and len(hb.steps[f"clipped_norm/{k}"]) == 10
        assert f"clipped_norm/{k}" in hb.history


def test_clipnorm_scales_every_parameter_by_the_same_factor():
    x, y = data()
    m = model(SGD(lr=0.01, clipnorm=0.05))
    h = fit_monitored(m, x, y, batch_size=8, epochs=1)
    for i, total in enumerate(h.steps["grad_norm"]):
        coef = min(1.0, 0.05 / (total + 1e-6))
        assert h.steps["clipped_norm"][i] == pytest.approx(total * coef, rel=1e-5)
        for k in m.params:
            assert h.steps[f"clipped_norm/{k}"][i] == pytest.approx(h.steps[f"grad_norm/{k}"][i] * coef, rel=1e-5)


def test_clipped_grads_follows_the_optimizers_order():
    g = {"a": np.array([3.0, 4.0]), "b": np.array([0.0, 12.0])}  # global norm 13
    out = clipped_grads(SGD(lr=1.0, clipnorm=1.3, clipvalue=0.5), g)
    np.testing.assert_allclose(out["a"], [0.3, 0.4], rtol=1e-6)  # 1.3 / 13 = 0.1, then |.| <= 0.5
    np.testing.assert_allclose(out["b"], [0.0, 0.5])
    assert clipped_grads(SGD(lr=1.0), g)["b"] is g["b"]


def test_divergence_stops_cleanly_and_clipping_keeps_the_run_finite():
    rng = np.random.default_rng(1)
    x = rng.random((64, 30, 2)).astype("float32")
    y = rng.random((64, 1)).astype("float32")
    runs = {}
    for clip in (None, 1.0):
        m = exploding_rnn(8, 2.5, seed=0, optimizer={"class_name": "SGD", "config": {"lr": 0.05, "clipnorm": clip}})
        with np.errstate(over="ignore", invalid="ignore"):
            runs[clip] = fit_monitored(m, x, y, batch_size=8, epochs=3)
    unclipped, clipped = runs[None], runs[1.0]
    step = first_divergence(unclipped)
    assert step is not None, "the unclipped run was expected to diverge"
    assert len(unclipped.steps["loss"]) == step + 1, "training stops at the first non-finite step"
    assert math.isnan(unclipped.history["loss"][-1])
    assert first_divergence(clipped) is None and len(clipped.steps["loss"]) == 24
    assert max(clipped.steps["clipped_norm"]) <= 1.0 + 1e-6


def test_max_steps_and_errors():
    x, y = data()
    h = fit_monitored(model("sgd"), x, y, batch_size=8, epochs=5, max_steps=3)
    assert len(h.steps["loss"]) == 3 and h.epoch == [1]
    with pytest.raises(ValueError, match="compile"):
        fit_monitored(Sequential([GRU(H, input_dim=D)]), x, y)
    with pytest.raises(ValueError, match="max_steps"):
        fit_monitored(model("sgd"), x, y, max_steps=0)
