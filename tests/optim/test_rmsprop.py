"""RMSprop against torch.optim.RMSprop (rho = torch's alpha): plain, centered, momentum, weight
decay, clipping; Keras-like defaults; errors."""

from __future__ import annotations

import pytest
import torch

from rnnlab.optim import RMSprop
from tests.optim.common import check_against_torch


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"rho": 0.99, "epsilon": 1e-4},
        {"centered": True},
        {"momentum": 0.8},
        {"centered": True, "momentum": 0.5, "weight_decay": 0.02},
        {"clipnorm": 1.0},
        {"clipvalue": 0.3, "momentum": 0.3},
    ],
    ids=["defaults", "rho-eps", "centered", "momentum", "centered-momentum-wd", "clipnorm", "clipvalue"],
)
def test_rmsprop_matches_torch(kwargs):
    ours = RMSprop(lr=0.01, **kwargs)
    check_against_torch(
        ours,
        lambda ps: torch.optim.RMSprop(
            ps,
            lr=0.01,
            alpha=ours.rho,
            eps=ours.epsilon,
            momentum=ours.momentum,
            centered=ours.centered,
            weight_decay=ours.weight_decay,
        ),
    )


def test_keras_like_defaults():
    opt = RMSprop()
    assert (opt.lr, opt.rho, opt.momentum, opt.centered) == (1e-3, 0.9, 0.0, False)
    assert RMSprop(centered=True, momentum=0.1).slot_names == ("square_avg", "grad_avg", "momentum_buffer")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rho": 1.0}, r"rho must be a number in \[0.0, 1.0\), got 1.0"),
        ({"momentum": -0.5}, r"momentum must be a number >= 0.0, got -0.5"),
        ({"epsilon": float("inf")}, r"epsilon must be a number >= 0.0, got inf"),
    ],
)
def test_rmsprop_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RMSprop(**kwargs)
