"""Adam against torch.optim.Adam: betas, epsilon placement, bias correction, AMSGrad, weight decay,
clipping; the torch-style lerp helper; errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.optim import Adam
from rnnlab.optim.adam import lerp_
from tests.optim.common import check_against_torch


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
        {"amsgrad": True},
        {"weight_decay": 0.1},
        {"clipnorm": 1.0},
        {"clipvalue": 0.2},
        {"beta_1": 0.0, "clipnorm": 0.5, "clipvalue": 0.1, "weight_decay": 0.01, "amsgrad": True},
    ],
    ids=["defaults", "betas-eps", "amsgrad", "weight_decay", "clipnorm", "clipvalue", "everything"],
)
def test_adam_matches_torch(kwargs):
    ours = Adam(lr=0.05, **kwargs)
    check_against_torch(
        ours,
        lambda ps: torch.optim.Adam(
            ps,
            lr=0.05,
            betas=(ours.beta_1, ours.beta_2),
            eps=ours.epsilon,
            amsgrad=ours.amsgrad,
            weight_decay=ours.weight_decay,
        ),
    )


@pytest.mark.parametrize("w", [0.1, 0.5, 0.999])
def test_lerp_matches_torch_lerp(w):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    ref = torch.tensor(a).lerp_(torch.tensor(b), w).numpy()
    lerp_(a, b, w)
    assert float(np.max(np.abs(a - ref))) < 1e-15


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"beta_1": 1.0}, r"beta_1 must be a number in \[0.0, 1.0\), got 1.0"),
        ({"beta_2": -0.1}, r"beta_2 must be a number in \[0.0, 1.0\), got -0.1"),
        ({"epsilon": -1e-8}, r"epsilon must be a number >= 0.0, got -1e-08"),
        ({"lr": 0}, r"lr must be a number > 0.0, got 0"),
    ],
)
def test_adam_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adam(**kwargs)
