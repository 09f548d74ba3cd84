"""Learning-rate schedules against torch.optim.lr_scheduler, configs, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from rnnlab.optim import schedules
from rnnlab.optim.schedules import Constant, CosineDecay, ExponentialDecay, StepDecay, Warmup


def torch_lrs(base_lr: float, make_scheduler, steps: int) -> list[float]:
    """The learning rate torch uses at update k when scheduler.step() follows every optimizer.step()."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


CASES = {
    "step": (StepDecay(0.5, step_size=4, gamma=0.3), lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.3), 20),
    "exponential": (ExponentialDecay(0.5, gamma=0.9), lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), 20),
    "cosine": (
        CosineDecay(0.5, total_steps=12, min_lr=0.01),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=0.01),
        13,  # torch's cosine climbs back after T_max; ours holds min_lr (tested below)
    ),
    "warmup-constant": (
        Warmup(Constant(0.5), warmup_steps=5, start_factor=0.1),
        lambda o: lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5),
        12,
    ),
    "warmup-cosine": (
        Warmup(CosineDecay(0.5, total_steps=8), warmup_steps=3),
        lambda o: lr_scheduler.SequentialLR(
            o,
            [lr_scheduler.LinearLR(o, total_iters=3), lr_scheduler.CosineAnnealingLR(o, T_max=8)],
            milestones=[3],
        ),
        12,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_schedule_matches_torch(name):
    schedule, make_scheduler, steps = CASES[name]
    ref = torch_lrs(0.5, make_scheduler, steps)  # every case starts from a base rate of 0.5
    ours = [schedule(k) for k in range(steps)]
    diff = float(np.max(np.abs(np.subtract(ours, ref))))
    assert diff < 1e-12, f"{name}: max |ours - torch| = {diff:.3e}\nours  {ours}\ntorch {ref}"


def test_cosine_holds_min_lr_after_total_steps_and_constant_is_constant():
    s = CosineDecay(1.0, total_steps=10, min_lr=0.1)
    assert s(0) == 1.0 and s(5) == pytest.approx(0.55) and s(10) == s(11) == s(1000) == pytest.approx(0.1)
    assert [Constant(0.3)(k) for k in (0, 7, 10**6)] == [0.3] * 3
    assert s(np.int64(5)) == s(5)


@pytest.mark.parametrize("name", CASES)
def test_config_round_trip(name):
    schedule = CASES[name][0]
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    assert schedules.get(config) == schedule
    assert type(schedule).from_config(schedule.get_config()) == schedule


def test_get_and_factories():
    assert schedules.get(0.1) == Constant(0.1)
    s = StepDecay(0.1, 2)
    assert schedules.get(s) is s
    assert schedules.step_decay(0.1, 2, 0.5) == StepDecay(0.1, 2, 0.5)
    assert schedules.constant(0.2) == Constant(0.2)
    assert schedules.exponential_decay(0.1, 0.9) == ExponentialDecay(0.1, 0.9)
    assert schedules.cosine_decay(0.1, 5, 0.01) == CosineDecay(0.1, 5, 0.01)
    assert schedules.warmup(s, 3) == Warmup(s, 3)
    with pytest.raises(ValueError, match="unknown schedule class_name 'Cyclic'"):
        schedules.get({"class_name": "Cyclic", "config": {}})
    with pytest.raises(ValueError, match="must be a Schedule, a number, or a dict"):
        schedules.get("cosine")
    assert schedules.StepDecay(0.1, np.int64(3)).get_config() == {"lr": 0.1, "step_size": 3, "gamma": 0.1}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Constant(0.0), r"lr must be a finite number > 0, got 0.0"),
        (lambda: StepDecay(0.1, 0), r"step_size must be an integer >= 1, got 0"),
        (lambda: StepDecay(0.1, 2.5), r"step_size must be an integer >= 1, got 2.5"),
        (lambda: ExponentialDecay(0.1, -0.5), r"gamma must be a finite number > 0, got -0.5"),
        (lambda: CosineDecay(0.1, 10, min_lr=0.2), r"min_lr must be a number in \[0, lr = 0.1\], got 0.2"),
        (lambda: Warmup(Constant(0.1), 0), r"warmup_steps must be an integer >= 1, got 0"),
        (lambda: Warmup(Constant(0.1), 3, start_factor=0.0), r"start_factor must be a number in \(0, 1\], got 0.0"),
        (lambda: Constant(0.1).lr_at(-1), r"step must be an integer >= 0, got -1"),
    ],
)
def test_schedule_arguments_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        Warmup(0.1, 3)
