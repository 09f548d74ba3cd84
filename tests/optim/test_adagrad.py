"""Adagrad against torch.optim.Adagrad: accumulator start, lr_decay, epsilon, weight decay,
clipping; errors."""

from __future__ import annotations

import pytest
import torch

from rnnlab.optim import Adagrad
from tests.optim.common import check_against_torch


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"initial_accumulator_value": 0.1, "epsilon": 1e-3},
        {"lr_decay": 0.05},
        {"weight_decay": 0.05, "clipnorm": 1.0},
        {"clipvalue": 0.25, "initial_accumulator_value": 0.5},
    ],
    ids=["defaults", "accumulator-eps", "lr_decay", "wd-clipnorm", "clipvalue"],
)
def test_adagrad_matches_torch(kwargs):
    ours = Adagrad(lr=0.1, **kwargs)
    check_against_torch(
        ours,
        lambda ps: torch.optim.Adagrad(
            ps,
            lr=0.1,
            lr_decay=ours.lr_decay,
            initial_accumulator_value=ours.initial_accumulator_value,
            eps=ours.epsilon,
            weight_decay=ours.weight_decay,
        ),
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial_accumulator_value": -0.1}, r"initial_accumulator_value must be a number >= 0.0, got -0.1"),
        ({"lr_decay": -1}, r"lr_decay must be a number >= 0.0, got -1"),
        ({"epsilon": -1.0}, r"epsilon must be a number >= 0.0, got -1.0"),
    ],
)
def test_adagrad_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adagrad(**kwargs)
