"""The optimizer registry: names, configs, instances, restore from a state_dict."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab import optim
from rnnlab.optim import SGD, Adagrad, Adam, RMSprop, schedules


def test_get_by_name_builds_defaults():
    assert isinstance(optim.get("sgd"), SGD)
    assert isinstance(optim.get("Adam"), Adam)
    assert isinstance(optim.get("RMSPROP"), RMSprop)
    assert isinstance(optim.get("adagrad"), Adagrad)
    assert optim.names() == ("sgd", "adam", "rmsprop", "adagrad")
    opt = Adam()
    assert optim.get(opt) is opt


def test_get_from_config_with_a_schedule():
    config = {
        "class_name": "SGD",
        "config": {
            "lr": {"class_name": "StepDecay", "config": {"lr": 0.1, "step_size": 2, "gamma": 0.5}},
            "momentum": 0.9,
        },
    }
    opt = optim.get(config)
    assert isinstance(opt, SGD) and opt.lr == schedules.StepDecay(0.1, 2, 0.5) and opt.momentum == 0.9
    assert optim.serialize(opt)["config"]["lr"] == config["config"]["lr"]


def test_restore_builds_the_saved_optimizer():
    opt = RMSprop(lr=0.02, momentum=0.3)
    params = {"w": np.ones(3)}
    opt.step(params, {"w": np.array([0.1, -0.2, 0.3])})
    restored = optim.restore(*opt.state_dict())
    assert isinstance(restored, RMSprop) and restored.get_config() == opt.get_config()
    assert restored.iterations == 1
    np.testing.assert_array_equal(restored.slots["momentum_buffer"]["w"], opt.slots["momentum_buffer"]["w"])


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'; expected one of sgd, adam, rmsprop, adagrad"):
        optim.get("adamw")
    with pytest.raises(ValueError, match="unknown optimizer class_name 'Nadam'"):
        optim.get({"class_name": "Nadam", "config": {}})
    with pytest.raises(ValueError, match="optimizer must be a name"):
        optim.get(3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        optim.get({"class_name": "Adam", "config": {"learning_rate": 0.1}})
