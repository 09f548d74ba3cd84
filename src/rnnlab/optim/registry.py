"""Optimizers by name or config, and rebuilding one from a checkpoint's ``state_dict``.

``get("adam")`` builds an optimizer with its defaults; ``get({"class_name": "Adam", "config":
{...}})`` from a saved config (``serialize(opt)`` writes one); ``restore(arrays, meta)`` builds the
optimizer that ``state_dict()`` described, hyper-parameters and state together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rnnlab.optim.adagrad import Adagrad
from rnnlab.optim.adam import Adam
from rnnlab.optim.optimizer import Optimizer
from rnnlab.optim.rmsprop import RMSprop
from rnnlab.optim.sgd import SGD

__all__ = ["get", "names", "restore", "serialize"]

_OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def names() -> tuple[str, ...]:
    """The optimizer names ``get`` knows."""
    return tuple(_OPTIMIZERS)


def _lookup(name: Any, argument: str) -> type[Optimizer]:
    if not isinstance(name, str) or name.lower() not in _OPTIMIZERS:
        raise ValueError(f"unknown {argument} {name!r}; expected one of {', '.join(_OPTIMIZERS)}")
    return _OPTIMIZERS[name.lower()]


def get(identifier: str | Mapping[str, Any] | Optimizer) -> Optimizer:
    """An optimizer from a name (case-insensitive, default hyper-parameters), a
    ``{"class_name": ..., "config": {...}}`` dict, or an ``Optimizer`` (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier, "optimizer")()
    if isinstance(identifier, Mapping) and "class_name" in identifier:
        cls = _lookup(identifier["class_name"], "optimizer class_name")
        return cls.from_config(dict(identifier.get("config", {})))
    raise ValueError(
        f"optimizer must be a name ({', '.join(_OPTIMIZERS)}), a dict {{'class_name': ..., 'config': ...}} "
        f"or an Optimizer, got {identifier!r}"
    )


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, JSON-able; ``get`` reverses it."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def restore(arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Optimizer:
    """The optimizer a ``state_dict()`` came from: same class, hyper-parameters and state."""
    optimizer = get({"class_name": meta.get("class_name"), "config": meta.get("config", {})})
    optimizer.load_state_dict(arrays, meta)
    return optimizer
