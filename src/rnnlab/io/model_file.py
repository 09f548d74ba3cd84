"""rnnlab's model file: a safetensors file whose metadata holds the architecture, with the weights.

A model file is an ordinary safetensors file (any safetensors tool can read its tensors), so
loading one can never run code. Its ``__metadata__`` (strings only, as the format requires)::

    format          "rnnlab"
    format_version  "1"               a newer version is refused with "upgrade rnnlab"
    kind            "model"           or "checkpoint" (see checkpoint.py)
    config          '{"cell": ...}'   the architecture as a JSON object
    tensors_sha256  hex SHA-256 over every tensor's name, dtype, shape and bytes: catches
                    corruption of the tensor data, which the format itself cannot detect
    rnnlab_version  the rnnlab that wrote the file (informational)

and its tensors are the weights, stored as ``weights/<name>``. A checkpoint adds
``optimizer/<name>`` tensors and a ``training_state`` JSON object in the metadata.

The config round-trips through JSON: tuples come back as lists, and non-finite floats are
written as ``NaN``/``Infinity`` (Python's JSON extension).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import __version__
from .errors import ModelFileError
from .safetensors import _dtype_code, _file_bytes, load_arrays, save_arrays

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model_file", "save_model_file"]

FORMAT = "rnnlab"
FORMAT_VERSION = 1
WEIGHTS = "weights/"
OPTIMIZER = "optimizer/"
_KINDS = ("model", "checkpoint")
_PREFIXES = {"model": (WEIGHTS,), "checkpoint": (WEIGHTS, OPTIMIZER)}
_ARGUMENT_NAMES = {WEIGHTS: "weights", OPTIMIZER: "optimizer_state"}  # for error messages


def _check_jsonable(value: Any, where: str) -> None:
    """Raise ``TypeError`` naming the offending entry unless ``value`` is plain JSON data.

    Accepted: dicts with str keys, lists, tuples (read back as lists), str, int, float, bool and
    None. NumPy scalars and arrays are refused with a hint, rather than silently mangled.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where} has the key {key!r} of type {type(key).__name__}; JSON object keys "
                    "must be str (convert it with str(key))"
                )
            _check_jsonable(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_jsonable(item, f"{where}[{i}]")
        return
    hint = "use .item() for a NumPy scalar, .tolist() for a small array, or store arrays as tensors"
    raise TypeError(f"{where} is a {type(value).__name__}, which JSON cannot hold; {hint}")


def _to_json(value: Mapping[str, Any], where: str) -> str:
    """``value`` (a dict) as compact JSON text, after ``_check_jsonable``."""
    if not isinstance(value, dict):
        raise TypeError(f"{where} must be a dict, got {type(value).__name__}")
    _check_jsonable(value, where)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _tensors_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over each tensor's name, dtype, shape and stored bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = arrays[name]
        if not isinstance(array, (np.ndarray, np.generic)) or _dtype_code(array.dtype) is None:
            continue  # save_arrays refuses it, with the full message
        array = np.asarray(array)
        code = _dtype_code(array.dtype)
        digest.update(json.dumps([name, code, list(array.shape)]).encode("ascii"))
        digest.update(_file_bytes(array, code))
    return digest.hexdigest()


def _save_rnnlab_file(
    path: str | os.PathLike[str],
    kind: str,
    config: Mapping[str, Any],
    groups: Mapping[str, Mapping[str, np.ndarray]],
    extra_metadata: Mapping[str, str],
) -> None:
    """Write an rnnlab file of ``kind``: ``groups`` maps a key prefix to ``{name: array}``."""
    arrays: dict[str, np.ndarray] = {}
    for prefix, group in groups.items():
        label = _ARGUMENT_NAMES[prefix]
        if not isinstance(group, Mapping):
            raise TypeError(f"{label} must be a dict of name -> array, got {type(group).__name__}")
        for name, array in group.items():
            if not isinstance(name, str):
                raise TypeError(f"{label} names must be str, got {type(name).__name__} {name!r}")
            arrays[prefix + name] = array
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        "config": _to_json(config, "config"),
        "tensors_sha256": _tensors_sha256(arrays),
        "rnnlab_version": __version__,
        **extra_metadata,
    }
    save_arrays(path, arrays, metadata)


@dataclass
class _RnnlabFile:
    """A loaded and validated rnnlab file, before the kind-specific checks."""

    kind: str
    config: dict[str, Any]
    groups: dict[str, dict[str, np.ndarray]]  # prefix -> {name without prefix: array}
    metadata: dict[str, str]


def _parse_json_object(text: str | None, key: str, where: str) -> dict[str, Any]:
    """Decode the metadata entry ``key`` as a JSON object, or raise ModelFileError."""
    if text is None:
        raise ModelFileError(where, f"rnnlab metadata has no {key!r} entry; the file is incomplete or corrupt")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ModelFileError(where, f"metadata {key!r} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ModelFileError(where, f"metadata {key!r} must be a JSON object, got {type(value).__name__}")
    return value


def _load_rnnlab_file(path: str | os.PathLike[str], kinds: tuple[str, ...]) -> _RnnlabFile:
    """Load a safetensors file and check it is an rnnlab file of one of ``kinds``, intact."""
    where = os.fsdecode(path)
    arrays, metadata = load_arrays(path)

    fmt = metadata.get("format")
    if fmt != FORMAT:
        said = f"; its metadata says format={fmt!r}" if fmt is not None else ""
        raise ModelFileError(
            where,
            f"is a safetensors file but not an rnnlab model (no rnnlab metadata{said}); "
            "read its tensors with rnnlab.io.load_arrays, or save a model with rnnlab.io.save_model_file",
        )
    version = metadata.get("format_version", "")
    if not (version.isascii() and version.isdigit() and int(version) >= 1):
        raise ModelFileError(where, f"rnnlab metadata has an invalid format_version {version!r}, expected '1'")
    if int(version) > FORMAT_VERSION:
        writer = metadata.get("rnnlab_version")
        by = f" (written by rnnlab {writer})" if writer else ""
        raise ModelFileError(
            where,
            f"rnnlab file format version {int(version)}{by} is newer than this rnnlab reads "
            f"(up to {FORMAT_VERSION}); upgrade rnnlab to load it",
        )
    kind = metadata.get("kind")
    if kind not in _KINDS:
        raise ModelFileError(where, f"rnnlab metadata has an invalid kind {kind!r}, expected 'model' or 'checkpoint'")
    if kind not in kinds:
        raise ModelFileError(
            where,
            f"is an rnnlab {kind} file, but a {' or '.join(kinds)} was expected: it holds weights only, "
            "no optimizer or training state; load it with rnnlab.io.load_model_file",
        )
    config = _parse_json_object(metadata.get("config"), "config", where)

    expected = metadata.get("tensors_sha256")
    if expected is not None and _tensors_sha256(arrays) != expected:
        raise ModelFileError(
            where, "corrupt tensor data: the checksum of the tensors does not match the one saved with them"
        )

    groups: dict[str, dict[str, np.ndarray]] = {prefix: {} for prefix in _PREFIXES[kind]}
    for key, array in arrays.items():
        prefix = next((p for p in _PREFIXES[kind] if key.startswith(p)), None)
        if prefix is None:
            allowed = " or ".join(repr(p) for p in _PREFIXES[kind])
            raise ModelFileError(
                where, f"unexpected tensor {key!r}: tensors of an rnnlab {kind} file start with {allowed}"
            )
        groups[prefix][key[len(prefix) :]] = array
    return _RnnlabFile(kind, config, groups, metadata)


def save_model_file(path: str | os.PathLike[str], config: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> None:
    """Save a model: its ``config`` (a JSON-able dict, the architecture) and its ``weights``.

    Written atomically: a failed save leaves any previous file at ``path`` untouched. Raises
    ``TypeError``/``ValueError`` naming the entry when the config is not JSON-able or an array
    has an unsupported dtype, before anything is written.
    """
    _save_rnnlab_file(path, "model", config, {WEIGHTS: weights}, {})


def load_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Load ``(config, weights)`` from a model file, or from a checkpoint (its optimizer state ignored).

    Raises ``FileNotFoundError`` for a missing path and ``ModelFileError`` (a ``ValueError``) that
    names the file for anything else: not safetensors, not rnnlab, a newer format, corruption.
    Never unpickles and never runs code from the file.
    """
    loaded = _load_rnnlab_file(path, _KINDS)
    return loaded.config, loaded.groups[WEIGHTS]
