"""Behaviour every optimizer shares (the Optimizer base class): checkpoints, configs, schedules,
gradient-norm records, dtypes, input checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from rnnlab import optim
from rnnlab.optim import SGD, Adagrad, Adam, RMSprop, schedules
from tests.optim.common import SHAPES, check_against_torch, make_problem, run_rnnlab

# One fully-optioned instance of each optimizer (every slot in use).
FACTORIES = {
    "sgd": lambda: SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, clipnorm=1.0),
    "adam": lambda: Adam(lr=schedules.CosineDecay(0.05, total_steps=8), amsgrad=True, clipvalue=0.5),
    "rmsprop": lambda: RMSprop(lr=0.01, momentum=0.5, centered=True, clipnorm=2.0, clipvalue=0.4),
    "adagrad": lambda: Adagrad(lr=schedules.StepDecay(0.1, step_size=3, gamma=0.5), lr_decay=0.01),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_checkpoint_round_trip_continues_exactly(name):
    params, grads = make_problem(seed=3)
    uninterrupted, _ = run_rnnlab(FACTORIES[name](), params, grads)

    first = FACTORIES[name]()
    halfway, _ = run_rnnlab(first, params, grads[:4])
    arrays, meta = first.state_dict()
    meta = json.loads(json.dumps(meta))  # the meta survives JSON
    arrays = {k: v.copy() for k, v in arrays.items()}
    assert meta["iterations"] == 4
    resumed = optim.restore(arrays, meta)
    assert type(resumed) is type(first) and resumed.get_config() == first.get_config()
    finished, _ = run_rnnlab(resumed, halfway, grads[4:])
    for k in params:
        np.testing.assert_array_equal(finished[k], uninterrupted[k], err_msg=f"parameter {k!r} after resuming")

    # load_state_dict into a fresh optimizer built from the same constructor does the same.
    again = FACTORIES[name]()
    again.load_state_dict(arrays, meta)
    finished_again, _ = run_rnnlab(again, halfway, grads[4:])
    for k in params:
        np.testing.assert_array_equal(finished_again[k], uninterrupted[k])


@pytest.mark.parametrize("name", FACTORIES)
def test_state_dict_holds_copies_named_slot_slash_param(name):
    opt = FACTORIES[name]()
    params, grads = make_problem()
    run_rnnlab(opt, params, grads[:2])
    arrays, meta = opt.state_dict()
    assert {k.split("/")[0] for k in arrays} == set(opt.slot_names)
    assert {k.split("/", 1)[1] for k in arrays} == set(SHAPES)
    assert meta["class_name"] == type(opt).__name__ and meta["iterations"] == 2
    for a in arrays.values():
        a[...] = 123.0
    assert not any((opt.slots[s][p] == 123.0).all() for s in opt.slots for p in opt.slots[s])


@pytest.mark.parametrize("name", FACTORIES)
def test_config_round_trip_through_json(name):
    opt = FACTORIES[name]()
    config = json.loads(json.dumps(optim.serialize(opt)))
    rebuilt = optim.get(config)
    assert type(rebuilt) is type(opt)
    assert rebuilt.get_config() == opt.get_config()
    assert repr(rebuilt) == repr(opt)


def test_load_state_dict_errors():
    arrays, meta = Adam().state_dict()
    with pytest.raises(ValueError, match="saved by optimizer 'Adam', cannot load it into SGD"):
        SGD().load_state_dict(arrays, meta)
    with pytest.raises(ValueError, match=r"unexpected optimizer state array 'momentum_buffer/W'.*exp_avg"):
        Adam().load_state_dict({"momentum_buffer/W": np.zeros(3)}, meta)
    with pytest.raises(ValueError, match=r"meta\['iterations'\] must be an integer >= 0, got -1"):
        Adam().load_state_dict({}, {**meta, "iterations": -1})
    opt = Adam()
    opt.load_state_dict({"exp_avg/W": np.zeros((2, 2)), "exp_avg_sq/W": np.zeros((2, 2))}, {**meta, "iterations": 1})
    params = {"V": np.zeros(3), "W": np.zeros(3)}
    with pytest.raises(ValueError, match=r"'exp_avg/W' has shape \(2, 2\) but parameter 'W' has shape \(3,\)"):
        opt.step(params, {"V": np.ones(3), "W": np.ones(3)})
    assert not params["V"].any() and opt.iterations == 1, "nothing may move when the state does not fit"
    # State saved in float64 follows float32 parameters.
    opt = Adam()
    opt.load_state_dict({"exp_avg/W": np.zeros(3), "exp_avg_sq/W": np.zeros(3)}, {**meta, "iterations": 1})
    opt.step({"W": np.zeros(3, np.float32)}, {"W": np.ones(3, np.float32)})
    assert opt.slots["exp_avg"]["W"].dtype == np.float32


def test_schedule_matches_torch_scheduler_inside_the_optimizer():
    ours = Adam(lr=schedules.Warmup(schedules.CosineDecay(0.05, total_steps=6, min_lr=0.001), 4, 0.2))

    def make_scheduler(opt):
        return lr_scheduler.SequentialLR(
            opt,
            [
                lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=4),
                lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.001),
            ],
            milestones=[4],
        )

    check_against_torch(ours, lambda ps: torch.optim.Adam(ps, lr=0.05), make_scheduler=make_scheduler)
    ours = SGD(lr=schedules.StepDecay(0.2, step_size=3, gamma=0.5), momentum=0.9)
    check_against_torch(
        ours,
        lambda ps: torch.optim.SGD(ps, lr=0.2, momentum=0.9),
        make_scheduler=lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    )


def test_current_lr_follows_the_schedule():
    opt = SGD(lr=schedules.ExponentialDecay(1.0, gamma=0.5))
    params, grads = make_problem(steps=3)
    seen = []
    for g in grads:
        seen.append(opt.current_lr())
        opt.step(params, g)
    assert seen == [1.0, 0.5, 0.25] and opt.iterations == 3
    assert SGD(lr=0.3).current_lr() == 0.3


def test_gradient_norm_records():
    params, grads = make_problem()
    g = grads[0]  # a large gradient: global norm ~20
    expected = {k: float(np.linalg.norm(v)) for k, v in g.items()}
    opt = SGD(lr=0.1, clipnorm=1.0)
    opt.step({k: v.copy() for k, v in params.items()}, g)
    assert opt.last_param_norms == pytest.approx(expected, rel=1e-13)
    assert opt.last_grad_norm == pytest.approx(np.sqrt(sum(n * n for n in expected.values())), rel=1e-13)
    assert opt.last_grad_norm > 10
    assert opt.last_clipped_norm == pytest.approx(1.0, rel=1e-5)  # max_norm / (norm + 1e-6) * norm

    plain = SGD(lr=0.1)
    plain.step({k: v.copy() for k, v in params.items()}, g)
    assert plain.last_clipped_norm == plain.last_grad_norm == opt.last_grad_norm

    by_value = SGD(lr=0.1, clipvalue=0.1)
    by_value.step({k: v.copy() for k, v in params.items()}, g)
    clipped = {k: np.clip(v, -0.1, 0.1) for k, v in g.items()}
    assert by_value.last_clipped_norm == pytest.approx(optim.global_norm(clipped), rel=1e-13)


def test_grads_are_never_modified_and_params_are_updated_in_place():
    params, grads = make_problem()
    saved = [{k: v.copy() for k, v in g.items()} for g in grads]
    ids = {k: id(v) for k, v in params.items()}
    opt = RMSprop(lr=0.01, momentum=0.5, weight_decay=0.1, clipnorm=1.0, clipvalue=0.2)
    for g in grads:
        opt.step(params, g)
    assert {k: id(v) for k, v in params.items()} == ids
    for g, s in zip(grads, saved, strict=True):
        for k in g:
            np.testing.assert_array_equal(g[k], s[k])
    sgd_params, sgd_grads = make_problem()
    g0 = {k: v.copy() for k, v in sgd_grads[0].items()}
    opt = SGD(lr=0.1, momentum=0.9)  # the buffer starts as a copy of the first gradient
    opt.step(sgd_params, sgd_grads[0])
    opt.step(sgd_params, sgd_grads[1])
    for k in g0:
        np.testing.assert_array_equal(sgd_grads[0][k], g0[k])


@pytest.mark.parametrize("name", FACTORIES)
def test_float32_parameters_and_state_stay_float32(name):
    params32, grads32 = make_problem(dtype=np.float32)
    _, grads64 = make_problem(dtype=np.float64)
    opt32, opt64 = FACTORIES[name](), FACTORIES[name]()
    out32, _ = run_rnnlab(opt32, params32, grads32)
    out64, _ = run_rnnlab(
        opt64,
        {k: v.astype(np.float64) for k, v in params32.items()},
        [{k: v.astype(np.float64) for k, v in g.items()} for g in grads32],
    )
    assert all(v.dtype == np.float32 for v in out32.values())
    assert all(a.dtype == np.float32 for table in opt32.slots.values() for a in table.values())
    for k in out32:
        np.testing.assert_allclose(out32[k], out64[k], rtol=1e-4, atol=1e-4, err_msg=k)
    # float64 gradients for float32 parameters are cast, not upcasting the state.
    opt = FACTORIES[name]()
    p = {k: v.copy() for k, v in params32.items()}
    opt.step(p, grads64[0])
    assert all(a.dtype == np.float32 for table in opt.slots.values() for a in table.values())


def test_params_and_grads_are_checked():
    params, grads = make_problem()
    opt = Adam()
    g = dict(grads[0])
    del g["b"]
    with pytest.raises(ValueError, match=r"missing gradients for \['b'\]"):
        opt.step(params, g)
    with pytest.raises(ValueError, match=r"gradients without a parameter: \['extra'\]"):
        opt.step(params, {**grads[0], "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"gradient 'W' has shape \(6, 4\), expected the parameter's shape \(4, 6\)"):
        opt.step(params, {**grads[0], "W": grads[0]["W"].T})
    with pytest.raises(TypeError, match="gradient 'W' must be a float numpy array"):
        opt.step(params, {**grads[0], "W": grads[0]["W"].tolist()})
    with pytest.raises(TypeError, match="parameter 'b' must be a float numpy array"):
        opt.step({**params, "b": np.zeros(6, np.int64)}, grads[0])
    frozen = params["b"].copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="parameter 'b' is read-only"):
        opt.step({**params, "b": frozen}, grads[0])
    with pytest.raises(TypeError, match="must be dicts of arrays"):
        opt.step(list(params.values()), grads[0])
    assert opt.iterations == 0, "a rejected step must not count"
