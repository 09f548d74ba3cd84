"""Checkpoints: weights + optimizer + training state round trip, and random generators that resume
the exact same stream after a trip through JSON."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnlab.io import (
    Checkpoint,
    ModelFileError,
    load_checkpoint,
    rng_from_json,
    rng_state_to_json,
    save_checkpoint,
    save_model_file,
)
from rnnlab.io.safetensors import load_arrays, save_arrays

BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox, np.random.SFC64]


def make_checkpoint(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "config": {"cell": "gru", "H": 8, "reset_after": True},
        "weights": {"W_ih": np.arange(24.0).reshape(3, 8), "b": np.ones(8, np.float32)},
        "optimizer_state": {"m/W_ih": np.full((3, 8), 0.5), "v/W_ih": np.zeros((3, 8)), "t": np.int64(17)},
        "training_state": {
            "epoch": 3,
            "step": 1200,
            "history": {"loss": [2.5, 1.75, math.nan, math.inf], "val_loss": [2.6, 1.9, 1.8, 1.7]},
            "rng": rng_state_to_json(rng),
        },
    }


def draw_everything(rng: np.random.Generator) -> list[Any]:
    """A mix of draws that touches every part of the state (including the buffered 32-bit half)."""
    return [
        rng.random(5).tolist(),
        rng.integers(0, 2**32, 7, dtype=np.uint32).tolist(),
        rng.standard_normal(3).tolist(),
        rng.permutation(10).tolist(),
        int(rng.integers(0, 2**62)),
    ]


def test_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    draw_everything(rng)
    parts = make_checkpoint(rng)
    save_checkpoint(tmp_path / "c.rnnlab", **parts)
    ckpt = load_checkpoint(tmp_path / "c.rnnlab")
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.config == parts["config"]
    for group in ("weights", "optimizer_state"):
        loaded, saved = getattr(ckpt, group), parts[group]
        assert set(loaded) == set(saved), group
        for name in saved:
            want = np.asarray(saved[name])
            assert loaded[name].dtype == want.dtype and loaded[name].tobytes() == want.tobytes(), name
    state = ckpt.training_state
    assert state["epoch"] == 3 and state["step"] == 1200
    loss = state["history"]["loss"]
    assert loss[:2] == [2.5, 1.75] and math.isnan(loss[2]) and loss[3] == math.inf
    assert draw_everything(rng_from_json(state["rng"])) == draw_everything(rng)


def test_tensor_keys_in_file(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.rnnlab", **make_checkpoint(np.random.default_rng(0)))
    arrays, metadata = load_arrays(tmp_path / "c.rnnlab")
    assert set(arrays) == {"weights/W_ih", "weights/b", "optimizer/m/W_ih", "optimizer/v/W_ih", "optimizer/t"}
    assert metadata["kind"] == "checkpoint" and json.loads(metadata["training_state"])["epoch"] == 3


def test_model_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    save_model_file(tmp_path / "m.rnnlab", {"H": 2}, {"W": np.ones(2)})
    with pytest.raises(ModelFileError, match=r"m\.rnnlab: is an rnnlab model file, but a checkpoint was expected"):
        load_checkpoint(tmp_path / "m.rnnlab")


@pytest.mark.parametrize(
    ("training_state", "fragment"),
    [(None, "no 'training_state' entry"), ("{oops", "not valid JSON"), ("[]", "must be a JSON object")],
)
def test_bad_training_state_in_file(tmp_path: Path, training_state: str | None, fragment: str) -> None:
    metadata = {"format": "rnnlab", "format_version": "1", "kind": "checkpoint", "config": "{}"}
    if training_state is not None:
        metadata["training_state"] = training_state
    save_arrays(tmp_path / "c.rnnlab", {}, metadata)
    with pytest.raises(ModelFileError, match=fragment) as info:
        load_checkpoint(tmp_path / "c.rnnlab")
    assert "c.rnnlab" in str(info.value)


def test_foreign_and_truncated_checkpoints(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.rnnlab", **make_checkpoint(np.random.default_rng(1)))
    raw = (tmp_path / "c.rnnlab").read_bytes()
    for cut in range(0, len(raw), 7):
        (tmp_path / "cut.rnnlab").write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match="cut.rnnlab"):
            load_checkpoint(tmp_path / "cut.rnnlab")


def test_training_state_must_be_json(tmp_path: Path) -> None:
    parts = make_checkpoint(np.random.default_rng(2))
    parts["training_state"]["rng"] = np.random.default_rng(2)  # forgot rng_state_to_json
    with pytest.raises(TypeError, match=r"training_state\['rng'\] is a Generator"):
        save_checkpoint(tmp_path / "c.rnnlab", **parts)
    assert os.listdir(tmp_path) == []


def test_optimizer_state_must_be_a_dict_of_arrays(tmp_path: Path) -> None:
    parts = make_checkpoint(np.random.default_rng(2))
    parts["optimizer_state"] = [np.zeros(2)]
    with pytest.raises(TypeError, match="optimizer_state must be a dict of name -> array, got list"):
        save_checkpoint(tmp_path / "c.rnnlab", **parts)
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_checkpoint(tmp_path / "c.rnnlab", **make_checkpoint(np.random.default_rng(3)))
    before = (tmp_path / "c.rnnlab").read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(tmp_path / "c.rnnlab", **make_checkpoint(np.random.default_rng(4)))
    monkeypatch.undo()
    assert (tmp_path / "c.rnnlab").read_bytes() == before
    assert os.listdir(tmp_path) == ["c.rnnlab"]


# ----------------------------------------------------------------------------------------------
# Random generator state


@pytest.mark.parametrize("bit_generator", BIT_GENERATORS, ids=lambda c: c.__name__)
def test_rng_round_trip_through_json_text_reproduces_stream(bit_generator: type) -> None:
    rng = np.random.Generator(bit_generator(12345))
    draw_everything(rng)  # leave a buffered uint32 half behind where the generator has one
    rng.integers(0, 2**32, 1, dtype=np.uint32)
    text = json.dumps(rng_state_to_json(rng))
    restored = rng_from_json(json.loads(text))
    assert type(restored.bit_generator) is bit_generator
    assert draw_everything(restored) == draw_everything(rng)
    assert np.array_equal(restored.random(1000), rng.random(1000))


def test_pcg64_state_needs_big_ints() -> None:
    state = rng_state_to_json(np.random.default_rng(0))
    assert state["bit_generator"] == "PCG64"
    assert max(state["state"]["state"], state["state"]["inc"]) >= 2**64  # beyond any 64-bit type
    assert json.loads(json.dumps(state)) == state


def test_rng_state_is_a_snapshot() -> None:
    rng = np.random.default_rng(5)
    state = rng_state_to_json(rng)
    first = rng.random(3)
    assert np.array_equal(rng_from_json(state).random(3), first)


def test_unknown_or_wrong_generators_are_refused() -> None:
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        rng_state_to_json(np.random.RandomState(0))  # type: ignore[arg-type]

    class CustomBitGenerator(np.random.PCG64):
        pass

    with pytest.raises(ValueError, match="cannot save the state of bit generator .*CustomBitGenerator"):
        rng_state_to_json(np.random.Generator(CustomBitGenerator(0)))
    with pytest.raises(ValueError, match="unknown bit generator 'Xoshiro256'.*PCG64"):
        rng_from_json({"bit_generator": "Xoshiro256", "state": {}})
    with pytest.raises(ValueError, match="unknown bit generator None"):
        rng_from_json({"state": {}})
    with pytest.raises(ValueError, match="must be a dict"):
        rng_from_json([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("state"),
        lambda s: s["state"].update(state=-1),
        lambda s: s["state"].update(state=2**200),
        lambda s: s["state"].update(inc="7"),
        lambda s: s.update(has_uint32="yes"),
    ],
    ids=["missing", "negative", "too_big", "string", "bad_flag"],
)
def test_malformed_rng_state_is_refused(mutate: Any) -> None:
    state = rng_state_to_json(np.random.default_rng(0))
    mutate(state)
    with pytest.raises(ValueError, match="not a valid PCG64 state"):
        rng_from_json(state)
