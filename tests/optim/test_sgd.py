"""SGD against torch.optim.SGD: plain, momentum, Nesterov, weight decay, both clippings, errors."""

from __future__ import annotations

import pytest
import torch

from rnnlab.optim import SGD
from tests.optim.common import check_against_torch

CLIPS = {
    "noclip": {},
    "clipnorm": {"clipnorm": 1.0},
    "clipvalue": {"clipvalue": 0.4},
    "both": {"clipnorm": 2.0, "clipvalue": 0.3},
}


@pytest.mark.parametrize("clip", CLIPS, ids=list(CLIPS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize(("momentum", "nesterov"), [(0.0, False), (0.9, False), (0.7, True)])
def test_sgd_matches_torch(momentum, nesterov, weight_decay, clip):
    ours = SGD(lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay, **CLIPS[clip])
    check_against_torch(
        ours,
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay),
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0.0}, r"lr must be a number > 0.0, got 0.0"),
        ({"lr": -1}, r"lr must be a number > 0.0, got -1"),
        ({"lr": float("nan")}, r"lr must be a number > 0.0, got nan"),
        ({"momentum": -0.1}, r"momentum must be a number >= 0.0, got -0.1"),
        ({"nesterov": True}, r"nesterov=True needs momentum > 0"),
        ({"weight_decay": -1e-4}, r"weight_decay must be a number >= 0.0, got -0.0001"),
        ({"clipnorm": 0.0}, r"clipnorm must be a number > 0.0, got 0.0"),
        ({"clipvalue": -1.0}, r"clipvalue must be a number > 0.0, got -1.0"),
    ],
)
def test_sgd_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(**kwargs)


def test_sgd_type_errors():
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        SGD(momentum=0.9, nesterov="yes")
    with pytest.raises(TypeError, match="lr must be a number or an rnnlab.optim.schedules.Schedule"):
        SGD(lr=lambda step: 0.1)


def test_slots_follow_the_options():
    assert SGD().slot_names == ()
    assert SGD(momentum=0.5).slot_names == ("momentum_buffer",)
