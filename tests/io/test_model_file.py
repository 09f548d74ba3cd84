"""rnnlab model files: config + weights round trip, readable by any safetensors tool, and every
foreign, corrupt or too-new file refused with a ModelFileError that names the file."""

from __future__ import annotations

import ast
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import rnnlab.io
from rnnlab import __version__
from rnnlab.io import ModelFileError, load_model_file, save_arrays, save_checkpoint, save_model_file
from rnnlab.io.model_file import FORMAT_VERSION

CONFIG = {
    "cell": "lstm",
    "sizes": [3, 16, 5],
    "dropout": 0.1,
    "bias": True,
    "init": None,
    "name": "ünïcødé ✓",
    "optimizer": {"kind": "adam", "betas": [0.9, 0.999], "lr": 1e-3},
}


def make_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "layer0/W_ih": rng.standard_normal((3, 64)),
        "layer0/W_hh": rng.standard_normal((16, 64)).astype(np.float32),
        "layer0/b": np.zeros(64, np.float16),
        "head/W": rng.standard_normal((16, 5)).T,  # non-contiguous
        "vocab_ids": np.arange(7, dtype=np.int32),
        "mask": np.array([True, False, True]),
    }


def rnnlab_metadata(**overrides: str) -> dict[str, str]:
    base = {"format": "rnnlab", "format_version": "1", "kind": "model", "config": "{}"}
    return {**base, **overrides}


def expect_error(path: Path, fragment: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model_file(path)
    message = str(info.value)
    assert path.name in message and fragment in message, message
    return message


def test_round_trip(tmp_path: Path) -> None:
    weights = make_weights()
    save_model_file(tmp_path / "m.rnnlab", CONFIG, weights)
    config, loaded = load_model_file(tmp_path / "m.rnnlab")
    assert config == CONFIG
    assert set(loaded) == set(weights)
    for name, array in weights.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape, name
        assert loaded[name].tobytes() == np.ascontiguousarray(array).tobytes(), name
        assert loaded[name].flags.writeable and loaded[name].flags.owndata, name


def test_tuples_in_config_come_back_as_lists(tmp_path: Path) -> None:
    save_model_file(tmp_path / "m.rnnlab", {"sizes": (3, 4), "nested": {"t": ((1, 2),)}}, {})
    config, weights = load_model_file(tmp_path / "m.rnnlab")
    assert config == {"sizes": [3, 4], "nested": {"t": [[1, 2]]}} and weights == {}


def test_file_is_plain_safetensors_with_documented_metadata(tmp_path: Path) -> None:
    save_model_file(tmp_path / "m.rnnlab", CONFIG, make_weights())
    tensors = load_file(tmp_path / "m.rnnlab")
    assert set(tensors) == {f"weights/{name}" for name in make_weights()}
    with safe_open(tmp_path / "m.rnnlab", framework="np") as f:
        metadata = f.metadata()
    assert metadata["format"] == "rnnlab" and metadata["format_version"] == "1"
    assert metadata["kind"] == "model" and json.loads(metadata["config"]) == CONFIG
    assert metadata["rnnlab_version"] == __version__
    assert len(metadata["tensors_sha256"]) == 64


def test_file_written_by_reference_writer_with_our_metadata_loads(tmp_path: Path) -> None:
    # No checksum: other tools may write rnnlab files too; the checksum is checked when present.
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_file({"weights/W": w}, tmp_path / "ext.rnnlab", metadata=rnnlab_metadata(config='{"H": 3}'))
    config, weights = load_model_file(tmp_path / "ext.rnnlab")
    assert config == {"H": 3} and np.array_equal(weights["W"], w)


def test_load_model_file_accepts_a_checkpoint(tmp_path: Path) -> None:
    weights = {"W": np.ones((2, 2))}
    save_checkpoint(tmp_path / "c.rnnlab", CONFIG, weights, {"m/W": np.zeros((2, 2))}, {"epoch": 1})
    config, loaded = load_model_file(tmp_path / "c.rnnlab")
    assert config == CONFIG and set(loaded) == {"W"}


def test_plain_safetensors_file_is_not_an_rnnlab_model(tmp_path: Path) -> None:
    save_file({"W": np.ones(2, np.float32)}, tmp_path / "plain.safetensors")
    message = expect_error(tmp_path / "plain.safetensors", "is a safetensors file but not an rnnlab model")
    assert "(no rnnlab metadata)" in message
    save_file({"W": np.ones(2, np.float32)}, tmp_path / "hf.safetensors", metadata={"format": "pt"})
    expect_error(tmp_path / "hf.safetensors", "format='pt'")


def test_newer_format_version_says_upgrade(tmp_path: Path) -> None:
    newer = str(FORMAT_VERSION + 1)
    save_arrays(tmp_path / "new.rnnlab", {}, rnnlab_metadata(format_version=newer, rnnlab_version="9.0"))
    message = expect_error(tmp_path / "new.rnnlab", f"format version {newer}")
    assert "upgrade rnnlab" in message and "rnnlab 9.0" in message


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        (rnnlab_metadata(format_version="0"), "invalid format_version '0'"),
        (rnnlab_metadata(format_version="one"), "invalid format_version"),
        (rnnlab_metadata(format_version="١"), "invalid format_version"),  # a non-ASCII digit
        ({k: v for k, v in rnnlab_metadata().items() if k != "format_version"}, "invalid format_version ''"),
        (rnnlab_metadata(kind="optimizer"), "invalid kind 'optimizer'"),
        ({k: v for k, v in rnnlab_metadata().items() if k != "config"}, "no 'config' entry"),
        (rnnlab_metadata(config="{not json"), "'config' is not valid JSON"),
        (rnnlab_metadata(config="[1, 2]"), "'config' must be a JSON object"),
        (rnnlab_metadata(config="[" * 100_000), "'config' is not valid JSON"),
    ],
)
def test_bad_rnnlab_metadata(tmp_path: Path, metadata: dict[str, str], fragment: str) -> None:
    save_arrays(tmp_path / "bad.rnnlab", {}, metadata)
    expect_error(tmp_path / "bad.rnnlab", fragment)


def test_unexpected_tensor_prefix(tmp_path: Path) -> None:
    save_arrays(tmp_path / "m.rnnlab", {"weights/W": np.ones(1), "optimizer/m": np.ones(1)}, rnnlab_metadata())
    expect_error(tmp_path / "m.rnnlab", "unexpected tensor 'optimizer/m'")


def test_corrupt_tensor_data_fails_the_checksum(tmp_path: Path) -> None:
    save_model_file(tmp_path / "m.rnnlab", CONFIG, {"W": np.zeros(100)})
    raw = bytearray((tmp_path / "m.rnnlab").read_bytes())
    raw[-5] ^= 0x10  # inside W's data: still a well-formed safetensors file
    (tmp_path / "m.rnnlab").write_bytes(raw)
    expect_error(tmp_path / "m.rnnlab", "checksum")


def test_truncated_model_file_at_every_offset(tmp_path: Path) -> None:
    save_model_file(tmp_path / "m.rnnlab", {"H": 2}, {"W": np.ones((2, 2), np.float32), "b": np.zeros(2)})
    raw = (tmp_path / "m.rnnlab").read_bytes()
    for cut in range(len(raw)):
        (tmp_path / "cut.rnnlab").write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match="cut.rnnlab"):
            load_model_file(tmp_path / "cut.rnnlab")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (pickle.dumps({"W": np.ones(3)}), "pickle"),
        (b"PK\x03\x04" + bytes(60), "ZIP"),
        (b"", "empty file"),
        (bytes(range(256)) * 4, ""),
    ],
    ids=["pickle", "zip", "empty", "random"],
)
def test_foreign_files(tmp_path: Path, data: bytes, fragment: str) -> None:
    (tmp_path / "model.pt").write_bytes(data)
    expect_error(tmp_path / "model.pt", fragment)


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.rnnlab"):
        load_model_file(tmp_path / "nope.rnnlab")
    expect_error(tmp_path, "is a directory")


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"lr": np.float32(0.1)}, TypeError, r"config\['lr'\] is a float32.*\.item\(\)"),
        ({"sizes": np.array([1, 2])}, TypeError, r"config\['sizes'\] is a ndarray"),
        ({"layers": [{"H": np.int64(3)}]}, TypeError, r"config\['layers'\]\[0\]\['H'\] is a int64"),
        ({1: "a"}, TypeError, "key 1 of type int"),
        ({"s": {1, 2}}, TypeError, "is a set"),
        ([("a", 1)], TypeError, "config must be a dict"),
    ],
)
def test_config_must_be_plain_json(tmp_path: Path, config: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        save_model_file(tmp_path / "m.rnnlab", config, {"W": np.ones(1)})
    assert os.listdir(tmp_path) == []


def test_bad_weights_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'weights/W' has dtype complex128"):
        save_model_file(tmp_path / "m.rnnlab", {}, {"W": np.ones(1, complex)})
    with pytest.raises(TypeError, match="weights must be a dict"):
        save_model_file(tmp_path / "m.rnnlab", {}, [np.ones(1)])  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_previous_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_model_file(tmp_path / "m.rnnlab", {"v": 1}, {"W": np.ones(3)})
    before = (tmp_path / "m.rnnlab").read_bytes()

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model_file(tmp_path / "m.rnnlab", {"v": 2}, {"W": np.zeros(3)})
    monkeypatch.undo()
    assert (tmp_path / "m.rnnlab").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.rnnlab"]


FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "joblib", "cloudpickle", "torch"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "import_module", "load", "memmap"}


def test_io_package_source_never_unpickles_or_executes() -> None:
    """No pickle-family import, no eval/exec/np.load/np.memmap anywhere in rnnlab.io."""
    package_dir = Path(rnnlab.io.__file__).parent
    sources = sorted(package_dir.glob("*.py"))
    assert len(sources) >= 6
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                names = set()
            assert not names & FORBIDDEN_MODULES, f"{source.name}:{node.lineno} imports {names}"
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                allowed_json = isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "json"
                assert called not in FORBIDDEN_CALLS or allowed_json, f"{source.name}:{node.lineno} calls {called}"


def test_public_names() -> None:
    for name in rnnlab.io.__all__:
        assert getattr(rnnlab.io, name) is not None, name
    assert issubclass(rnnlab.io.ModelFileError, ValueError)
