"""Training checkpoints: weights, optimizer state and training state in one rnnlab file.

A checkpoint is an rnnlab model file (see model_file.py) with ``kind = "checkpoint"``: the
weights under ``weights/``, the optimizer's arrays (moments, step counts ...) under
``optimizer/``, and a ``training_state`` JSON object in the metadata (epoch, step, history, the
random generator's state ...). Loading validates all of it and never runs code from the file.

Random generators are saved through ``rng_state_to_json`` / ``rng_from_json``: NumPy's
``bit_generator.state`` is a dict of Python ints (PCG64's are 128-bit; JSON keeps big ints exact
in Python) and, for some generators, small uint arrays (turned into lists), so a restored
generator continues the exact same random stream.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model_file import OPTIMIZER, WEIGHTS, _load_rnnlab_file, _parse_json_object, _save_rnnlab_file, _to_json

__all__ = ["Checkpoint", "load_checkpoint", "rng_from_json", "rng_state_to_json", "save_checkpoint"]

# The NumPy bit generators whose state can be saved: looked up by name, never imported by name.
_BIT_GENERATORS: dict[str, type[np.random.BitGenerator]] = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


@dataclass
class Checkpoint:
    """Everything needed to resume training, as ``load_checkpoint`` returns it."""

    config: dict[str, Any]  # the architecture (JSON: tuples come back as lists)
    weights: dict[str, np.ndarray]  # model parameters by name
    optimizer_state: dict[str, np.ndarray]  # optimizer arrays by name, e.g. Adam moments
    training_state: dict[str, Any]  # epoch, step, history, rng state ... (JSON data)


def save_checkpoint(
    path: str | os.PathLike[str],
    config: Mapping[str, Any],
    weights: Mapping[str, np.ndarray],
    optimizer_state: Mapping[str, np.ndarray],
    training_state: Mapping[str, Any],
) -> None:
    """Save a training checkpoint to ``path``, atomically.

    ``config`` and ``training_state`` must be JSON-able dicts (put a random generator in with
    ``rng_state_to_json``); ``weights`` and ``optimizer_state`` map names to arrays. Everything is
    validated before the file is touched, and a failed save leaves the previous checkpoint intact.
    """
    state_json = _to_json(training_state, "training_state")
    _save_rnnlab_file(
        path,
        "checkpoint",
        config,
        {WEIGHTS: weights, OPTIMIZER: optimizer_state},
        {"training_state": state_json},
    )


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a checkpoint written by ``save_checkpoint``.

    Raises ``FileNotFoundError`` for a missing path and ``ModelFileError`` naming the file for
    anything else, including a model file (weights only) where a checkpoint was expected.
    """
    loaded = _load_rnnlab_file(path, ("checkpoint",))
    training_state = _parse_json_object(loaded.metadata.get("training_state"), "training_state", os.fsdecode(path))
    return Checkpoint(loaded.config, loaded.groups[WEIGHTS], loaded.groups[OPTIMIZER], training_state)


def _plain(value: Any) -> Any:
    """A bit generator state as JSON data: arrays become lists and NumPy ints Python ints."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def rng_state_to_json(rng: np.random.Generator) -> dict[str, Any]:
    """The exact state of ``rng`` as a JSON-able dict; ``rng_from_json`` turns it back.

    Works for NumPy's own bit generators (PCG64, the default; PCG64DXSM, MT19937, Philox, SFC64).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    bit_generator = rng.bit_generator
    name = type(bit_generator).__name__
    if _BIT_GENERATORS.get(name) is not type(bit_generator):
        raise ValueError(
            f"cannot save the state of bit generator {type(bit_generator).__qualname__}; supported: "
            f"{', '.join(_BIT_GENERATORS)} (np.random.default_rng gives PCG64)"
        )
    return _plain(bit_generator.state)


def rng_from_json(d: Mapping[str, Any]) -> np.random.Generator:
    """A ``numpy.random.Generator`` in exactly the state ``rng_state_to_json`` recorded.

    Raises ``ValueError`` for an unknown bit generator or a malformed state.
    """
    if not isinstance(d, Mapping):
        raise ValueError(f"a random generator state must be a dict from rng_state_to_json, got {type(d).__name__}")
    name = d.get("bit_generator")
    cls = _BIT_GENERATORS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"unknown bit generator {name!r} in the random generator state; rnnlab can restore "
            f"{', '.join(_BIT_GENERATORS)}"
        )
    bit_generator = cls(0)
    try:
        bit_generator.state = dict(d)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as err:
        raise ValueError(
            f"not a valid {name} state ({type(err).__name__}: {err}); expected the dict rng_state_to_json returns"
        ) from None
    if _plain(bit_generator.state) != _plain(dict(d)):
        raise ValueError(f"not a valid {name} state: some values are out of range and were not restored exactly")
    return np.random.Generator(bit_generator)
