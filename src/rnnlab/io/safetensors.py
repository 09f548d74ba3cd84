"""Read and write safetensors files in pure NumPy; loading validates the whole layout and runs no code.

The format (https://github.com/huggingface/safetensors), all integers little-endian::

    8 bytes    N, the length of the header, unsigned 64-bit
    N bytes    the header: a UTF-8 JSON object, starting with '{', possibly padded with spaces
                   {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
                    ...,
                    "__metadata__": {"<key>": "<value>", ...}}      (optional, strings only)
    the rest   the tensors' raw bytes, C order; ``data_offsets`` count from the first byte after
               the header, and the tensors tile the data exactly: no gaps, no overlap, no
               trailing bytes.

The writer sorts tensors by item size (largest first), then by name, and pads the header with
spaces to a multiple of 8 bytes, as the reference implementation does, so every tensor starts on a
multiple of its item size: the output is deterministic and memory-maps aligned.

The reader checks every field before it allocates anything and raises ``ModelFileError`` (message
``"<path>: <what is wrong>"``) for every defect it finds; it never raises ``IndexError``,
``KeyError`` or ``UnicodeDecodeError`` on a bad file. The returned arrays are fresh, writable,
native-byte-order arrays that own their memory (the file is read with ``readinto``, not mapped).
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from .atomic import atomic_open
from .errors import ModelFileError

__all__ = ["MAX_HEADER_BYTES", "SUPPORTED_DTYPES", "load_arrays", "save_arrays"]

# safetensors dtype code -> the little-endian NumPy dtype its bytes are read as.
_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
SUPPORTED_DTYPES: tuple[str, ...] = tuple(_DTYPES)
# Valid in the safetensors spec but without a NumPy equivalent here: named in the error message.
_OTHER_SPEC_DTYPES = frozenset(
    {"BF16", "U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "I4"}
)
_SUPPORTED_NUMPY = "float64, float32, float16, int64, int32, int16, int8, uint8, bool"

MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit; a larger header is corruption
_MAX_NDIM = 64  # NumPy's limit
_MAX_DIM = 2**63 - 1
_METADATA_KEY = "__metadata__"


# ----------------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class _Planned:
    """One tensor as it will be written: its name, code, source array and byte range in the data."""

    name: str
    code: str
    array: np.ndarray
    begin: int
    end: int


def _dtype_code(dtype: np.dtype) -> str | None:
    """The safetensors code for a NumPy dtype of any byte order, or None when there is none."""
    for code, dt in _DTYPES.items():
        if dtype.kind == dt.kind and dtype.itemsize == dt.itemsize and dtype.fields is None:
            return code
    return None


def _plan(arrays: Mapping[str, np.ndarray]) -> list[_Planned]:
    """Validate names, types and dtypes, then lay the tensors out: big items first, then by name."""
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a dict of name -> numpy array, got {type(arrays).__name__}")
    checked: list[tuple[str, str, np.ndarray]] = []
    for name, value in arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {type(name).__name__} {name!r}")
        if name == _METADATA_KEY:
            raise ValueError(f"{_METADATA_KEY!r} is reserved for the metadata; rename the tensor")
        if isinstance(value, np.ma.MaskedArray):
            raise TypeError(
                f"array {name!r} is a masked array, whose mask cannot be stored; "
                "save arr.filled(value) and the mask (arr.mask) as two arrays"
            )
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"array {name!r} must be a numpy array, got {type(value).__name__}; "
                "convert it with np.asarray(value, dtype=...) to choose its dtype explicitly"
            )
        code = _dtype_code(value.dtype)
        if code is None:
            raise ValueError(
                f"array {name!r} has dtype {value.dtype}, which a safetensors file cannot hold here; "
                f"supported: {_SUPPORTED_NUMPY}; convert it first, e.g. arr.astype(np.float64)"
            )
        checked.append((name, code, value))

    checked.sort(key=lambda t: (-_DTYPES[t[1]].itemsize, t[0]))
    planned, offset = [], 0
    for name, code, value in checked:
        nbytes = value.size * _DTYPES[code].itemsize
        planned.append(_Planned(name, code, value, offset, offset + nbytes))
        offset += nbytes
    return planned


def _encode_header(planned: list[_Planned], metadata: Mapping[str, str] | None) -> bytes:
    """The header bytes: compact JSON, UTF-8, padded with spaces to a multiple of 8."""
    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of str -> str, got {type(metadata).__name__}")
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(
                    f"metadata must map str -> str, got {type(key).__name__} {key!r} -> "
                    f"{type(value).__name__}; safetensors metadata holds only strings, so convert "
                    "the value first (str(x) or json.dumps(x))"
                )
        if metadata:
            header[_METADATA_KEY] = dict(metadata)
    for t in planned:
        header[t.name] = {"dtype": t.code, "shape": list(t.array.shape), "data_offsets": [t.begin, t.end]}
    try:
        raw = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"tensor names and metadata must be valid Unicode text; {err.object[err.start : err.end]!r} "
            "is a lone surrogate that UTF-8 (and so the file format) cannot represent"
        ) from None
    raw += b" " * (-len(raw) % 8)
    if len(raw) > MAX_HEADER_BYTES:
        raise ValueError(
            f"the header would be {len(raw)} bytes, over the format's {MAX_HEADER_BYTES}-byte limit; "
            "store fewer tensors or less metadata"
        )
    return raw


def _file_bytes(array: np.ndarray, code: str) -> np.ndarray:
    """The bytes ``array`` is stored as, as a flat uint8 array: little-endian, C order, bools 0/1.

    No copy when the array is already contiguous little-endian (and not bool).
    """
    if code == "BOOL":
        array = array.view(np.uint8) != 0  # a bool array built by .view() may hold other bytes
    data = np.ascontiguousarray(array, dtype=_DTYPES[code])
    return data.reshape(-1).view(np.uint8)


def save_arrays(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``arrays`` (and string ``metadata``) to ``path`` as a safetensors file, atomically.

    Supported dtypes: float64/32/16, int64/32/16/8, uint8 and bool, in any byte order and any
    memory layout (the file is always little-endian C order). Everything is validated before the
    file is touched; if writing fails part-way the previous file at ``path`` is left as it was.
    """
    planned = _plan(arrays)
    header = _encode_header(planned, metadata)
    with atomic_open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little"))
        f.write(header)
        for t in planned:
            f.write(_file_bytes(t.array, t.code))


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class _Entry:
    """One tensor as the header describes it, after validation."""

    name: str
    code: str
    shape: tuple[int, ...]
    begin: int
    end: int


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (
        b"PK\x03\x04",
        "a ZIP archive (PyTorch .pt/.pth files from torch.save and NumPy .npz files are ZIP archives); "
        "rnnlab reads no ZIP or pickle container. From PyTorch, where the module is in memory, convert it "
        "with rnnlab.interop.torch.from_torch, or write its state_dict with safetensors.torch.save_file",
    ),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x93NUMPY", "a NumPy .npy file; load it with np.load(path, allow_pickle=False) and re-save it"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (e.g. a Keras .h5 model)"),
    (b"\x1f\x8b", "a gzip-compressed file; decompress it first"),
    (b"GGUF", "a GGUF file"),
)


def _sniff(f: IO[bytes]) -> str:
    """A hint about what a non-safetensors file is, from its first bytes ('' when unknown)."""
    f.seek(0)
    head = f.read(16)
    what = None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        what = (
            "a Python pickle (pickle, joblib or an old torch.save file); rnnlab never unpickles "
            "files because unpickling can run arbitrary code"
        )
    for magic, description in _SIGNATURES:
        if head.startswith(magic):
            what = description
    if what is None and head and all(32 <= b < 127 or b in b"\t\n\r" for b in head):
        what = f"a text file (it starts with {head.decode('ascii')!r})"
    if what is None:
        return ""
    return f"; it looks like {what}"


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of a header value, cut short: a corrupt header can hold huge values."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _is_uint(value: Any) -> bool:
    """A JSON non-negative integer (``True`` is an int in Python, not in JSON)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` hook: build an object, refusing duplicate keys (the spec forbids them)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {_short(key)}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> None:
    """``json`` hook: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


def _read_header(f: IO[bytes], size: int, where: str) -> bytes:
    """Read and bounds-check the length field and the header bytes; return the header bytes."""
    if size < 8:
        what = "empty file (0 bytes)" if size == 0 else f"file too short ({size} bytes)"
        raise ModelFileError(where, f"{what}: a safetensors file starts with an 8-byte header length{_sniff(f)}")
    n = int.from_bytes(f.read(8), "little")
    if n > MAX_HEADER_BYTES:
        raise ModelFileError(
            where,
            f"not a safetensors file, or a corrupt one: its first 8 bytes give a header length of {n} "
            f"bytes, over the {MAX_HEADER_BYTES}-byte limit{_sniff(f)}",
        )
    if n > size - 8:
        raise ModelFileError(
            where,
            f"truncated file: the header length field says {n} bytes of header, "
            f"but only {size - 8} bytes follow it{_sniff(f)}",
        )
    raw = f.read(n)
    if len(raw) != n:
        raise ModelFileError(where, f"truncated file: could read only {len(raw)} of {n} header bytes")
    if not raw.startswith(b"{"):
        raise ModelFileError(
            where,
            "not a safetensors file, or a corrupt one: the header must be a JSON object starting "
            f"with '{{', it starts with {raw[:8]!r}{_sniff(f)}",
        )
    return raw


def _parse_entry(name: str, info: Any, where: str) -> _Entry:
    """Validate one tensor's header entry: dtype, shape, offsets, and that they agree in size."""
    tensor = f"tensor {_short(name)}"
    if not isinstance(info, dict):
        raise ModelFileError(
            where,
            f"{tensor}: expected an object with dtype, shape and data_offsets, got a {_json_type(info)}",
        )
    missing = [key for key in ("dtype", "shape", "data_offsets") if key not in info]
    if missing:
        raise ModelFileError(where, f"{tensor}: header entry has no {' or '.join(missing)}")

    code = info["dtype"]
    if not isinstance(code, str) or code not in _DTYPES:
        if isinstance(code, str) and code in _OTHER_SPEC_DTYPES:
            raise ModelFileError(
                where,
                f"{tensor}: dtype {code} is valid safetensors but not supported by rnnlab "
                f"(supported: {', '.join(SUPPORTED_DTYPES)}); convert the tensor, e.g. to F32, and re-save",
            )
        raise ModelFileError(
            where, f"{tensor}: unknown dtype {_short(code)}, expected one of {', '.join(SUPPORTED_DTYPES)}"
        )

    shape = info["shape"]
    if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
        raise ModelFileError(where, f"{tensor}: shape must be a list of non-negative integers, got {_short(shape)}")
    if len(shape) > _MAX_NDIM or any(d > _MAX_DIM for d in shape):
        raise ModelFileError(
            where, f"{tensor}: shape {_short(shape)} is beyond NumPy's limits ({_MAX_NDIM} dimensions)"
        )

    offsets = info["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_uint(o) for o in offsets)):
        raise ModelFileError(
            where,
            f"{tensor}: data_offsets must be [begin, end], two non-negative integers, got {_short(offsets)}",
        )
    begin, end = offsets
    if end < begin:
        raise ModelFileError(where, f"{tensor}: data_offsets [{begin}, {end}] end before they begin")

    nbytes = math.prod(shape) * _DTYPES[code].itemsize
    if end - begin != nbytes:
        raise ModelFileError(
            where,
            f"{tensor}: dtype {code} and shape {shape} need {nbytes} bytes, "
            f"but data_offsets [{begin}, {end}] span {end - begin}",
        )
    return _Entry(name, code, tuple(shape), begin, end)


def _parse_header(raw: bytes, where: str) -> tuple[list[_Entry], dict[str, str]]:
    """Decode the header JSON and validate every entry and the metadata."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelFileError(where, f"header is not valid UTF-8 (bad byte at header offset {err.start})") from None
    try:
        header = json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:
        raise ModelFileError(where, f"header is not valid JSON: {err}") from None
    if not isinstance(header, dict):
        raise ModelFileError(where, f"header must be a JSON object of tensors, got a {_json_type(header)}")

    metadata = header.pop(_METADATA_KEY, None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(where, f"{_METADATA_KEY} must be a JSON object of string values, got {_short(metadata)}")
    entries = [_parse_entry(name, info, where) for name, info in header.items()]
    return entries, metadata


def _check_layout(entries: list[_Entry], data_len: int, where: str) -> list[_Entry]:
    """Check the tensors tile ``[0, data_len)`` exactly; return them in file order."""
    ordered = sorted(entries, key=lambda e: (e.begin, e.end))
    pos, previous = 0, None
    for e in ordered:
        if e.begin < pos:
            assert previous is not None
            raise ModelFileError(
                where,
                f"corrupt header: tensors {_short(previous.name)} (bytes [{previous.begin}, {previous.end})) "
                f"and {_short(e.name)} (bytes [{e.begin}, {e.end})) overlap",
            )
        if e.begin > pos:
            raise ModelFileError(
                where,
                f"corrupt header: bytes [{pos}, {e.begin}) of the tensor data belong to no tensor "
                f"(a hole before {_short(e.name)})",
            )
        pos, previous = e.end, e
    if pos > data_len:
        raise ModelFileError(where, f"truncated file: header says {pos} bytes of tensor data, file has {data_len}")
    if pos < data_len:
        raise ModelFileError(
            where,
            f"{data_len - pos} unexpected trailing bytes: header says {pos} bytes of tensor data, file has {data_len}",
        )
    return ordered


def _read_tensor(f: IO[bytes], e: _Entry, where: str) -> np.ndarray:
    """Read one tensor (the file is positioned at its first byte) into a fresh native array."""
    dtype = _DTYPES[e.code]
    try:
        array = np.empty(e.shape, dtype=dtype)
    except (ValueError, OverflowError) as err:
        raise ModelFileError(where, f"tensor {_short(e.name)}: shape {list(e.shape)} is unusable: {err}") from None
    if e.end > e.begin:
        buf = memoryview(array.reshape(-1).view(np.uint8))
        filled = 0
        while filled < len(buf):
            n = f.readinto(buf[filled:])
            if not n:
                raise ModelFileError(
                    where, f"truncated file: tensor {_short(e.name)} ended after {filled} of {len(buf)} bytes"
                )
            filled += n
        if e.code == "BOOL" and array.view(np.uint8).max() > 1:
            raise ModelFileError(where, f"tensor {_short(e.name)}: BOOL data holds bytes other than 0 and 1")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def load_arrays(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file: ``(arrays, metadata)``, bit-identical to what was saved.

    Arrays come back in header order, as fresh writable arrays that own their memory. Raises
    ``FileNotFoundError`` for a missing path and ``ModelFileError`` (a ``ValueError``) naming the
    file and the defect for anything that is not a complete, well-formed safetensors file.
    """
    where = os.fsdecode(path)
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise ModelFileError(where, "is a directory, not a safetensors file; pass the path of a file in it")
    if not stat.S_ISREG(mode):
        raise ModelFileError(where, "is not a regular file (a device, pipe or socket?), cannot load it")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw = _read_header(f, size, where)
        entries, metadata = _parse_header(raw, where)
        ordered = _check_layout(entries, size - 8 - len(raw), where)
        arrays = {e.name: _read_tensor(f, e, where) for e in ordered}
    return {e.name: arrays[e.name] for e in entries}, metadata
