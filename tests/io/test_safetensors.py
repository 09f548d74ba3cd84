"""The pure-NumPy safetensors reader/writer: bit-exact round trips, compatibility with the
``safetensors`` package both ways, and a corruption suite in which every bad file raises
``ModelFileError`` naming the file, and nothing else ever escapes."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import rnnlab.io.safetensors as st_module
from rnnlab.io.errors import ModelFileError
from rnnlab.io.safetensors import MAX_HEADER_BYTES, SUPPORTED_DTYPES, load_arrays, save_arrays

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_]
SHAPES = [(), (0,), (3, 0, 2), (1,), (7,), (4, 5), (2, 3, 4)]
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def random_array(rng: np.random.Generator, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Every bit pattern is fair game (NaN payloads, -0.0, subnormals), except bools are 0/1."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    raw = rng.integers(0, 256, size=size * dtype.itemsize, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def assert_bit_identical(ours: np.ndarray, want: np.ndarray, name: str) -> None:
    want = np.asarray(want)
    assert ours.shape == want.shape, f"{name}: shape mismatch: loaded={ours.shape} saved={want.shape}"
    assert ours.dtype == want.dtype.newbyteorder("="), f"{name}: dtype loaded={ours.dtype} saved={want.dtype}"
    want_bytes = np.ascontiguousarray(want, dtype=ours.dtype).tobytes()
    assert ours.tobytes() == want_bytes, f"{name}: bytes differ"


def assert_all_identical(loaded: dict[str, np.ndarray], saved: dict[str, np.ndarray]) -> None:
    assert set(loaded) == set(saved)
    for name in saved:
        assert_bit_identical(loaded[name], saved[name], name)


def header_of(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n])


# ----------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype_and_shape(tmp_path: Path, dtype: Any) -> None:
    rng = np.random.default_rng(0)
    arrays = {f"a{i}": random_array(rng, dtype, shape) for i, shape in enumerate(SHAPES)}
    save_arrays(tmp_path / "f.safetensors", arrays)
    loaded, metadata = load_arrays(tmp_path / "f.safetensors")
    assert metadata == {}
    assert_all_identical(loaded, arrays)


def test_round_trip_large_array(tmp_path: Path) -> None:
    big = np.random.default_rng(1).standard_normal((512, 1024)).astype(np.float32)  # 2 MiB
    save_arrays(tmp_path / "big.safetensors", {"big": big, "tiny": np.int8(3)})
    loaded, _ = load_arrays(tmp_path / "big.safetensors")
    assert_bit_identical(loaded["big"], big, "big")
    assert loaded["tiny"].shape == () and loaded["tiny"] == 3


def test_non_contiguous_and_big_endian_inputs(tmp_path: Path) -> None:
    base = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    arrays = {
        "transposed": base.T,
        "strided": base[:, ::2, 1::3],
        "fortran": np.asfortranarray(base),
        "reversed": base[::-1],
        "big_endian_f8": base.astype(">f8"),
        "big_endian_i2_sliced": np.arange(20, dtype=">i2")[::3],
        "bool_view": np.array([0, 1, 0, 1], dtype=np.uint8).view(np.bool_)[::2],
    }
    save_arrays(tmp_path / "f.safetensors", arrays)
    loaded, _ = load_arrays(tmp_path / "f.safetensors")
    assert_all_identical(loaded, arrays)
    assert loaded["big_endian_f8"].dtype.isnative


def test_bool_arrays_with_odd_bytes_are_normalised(tmp_path: Path) -> None:
    odd = np.array([0, 2, 255, 1], dtype=np.uint8).view(np.bool_)
    save_arrays(tmp_path / "f.safetensors", {"m": odd})
    loaded, _ = load_arrays(tmp_path / "f.safetensors")
    assert loaded["m"].view(np.uint8).tolist() == [0, 1, 1, 1]


def test_loaded_arrays_are_fresh_writable_and_own_their_memory(tmp_path: Path) -> None:
    save_arrays(tmp_path / "f.safetensors", {"w": np.ones((2, 3), np.float32), "s": np.float64(2.0)})
    loaded, _ = load_arrays(tmp_path / "f.safetensors")
    for name, array in loaded.items():
        assert array.flags.writeable and array.flags.owndata and array.base is None, name
        assert array.flags.c_contiguous, name
        array[...] = 7  # must not raise, must not touch the file
    again, _ = load_arrays(tmp_path / "f.safetensors")
    assert again["w"].sum() == 6 and again["s"] == 2.0


def test_metadata_and_unicode_names_round_trip(tmp_path: Path) -> None:
    metadata = {"format": "rnnlab", "note": 'ünïcødé ✓ "quoted" \\ back\nslash', "": ""}
    arrays = {"layer/0/W_ih": np.eye(2), "größe ✓": np.zeros(1, np.int32), "": np.ones(1, np.uint8)}
    save_arrays(tmp_path / "f.safetensors", arrays, metadata)
    loaded, meta = load_arrays(tmp_path / "f.safetensors")
    assert meta == metadata
    assert_all_identical(loaded, arrays)


def test_empty_file_of_no_tensors(tmp_path: Path) -> None:
    save_arrays(tmp_path / "f.safetensors", {})
    assert load_arrays(tmp_path / "f.safetensors") == ({}, {})
    assert load_file(tmp_path / "f.safetensors") == {}


def test_layout_is_deterministic_and_aligned(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    arrays = {name: random_array(rng, dtype, (3,)) for name, dtype in zip("abcdefghi", DTYPES, strict=True)}
    save_arrays(tmp_path / "one", arrays)
    save_arrays(tmp_path / "two", dict(reversed(arrays.items())))
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes()
    raw = (tmp_path / "one").read_bytes()
    assert int.from_bytes(raw[:8], "little") % 8 == 0
    for name, info in header_of(tmp_path / "one").items():
        itemsize = arrays[name].dtype.itemsize
        assert info["data_offsets"][0] % itemsize == 0, f"{name} is not aligned"


# ----------------------------------------------------------------------------------------------
# What the writer refuses, before touching the disk


@pytest.mark.parametrize(
    ("arrays", "metadata", "error", "match"),
    [
        ({"c": np.zeros(2, np.complex64)}, None, ValueError, r"'c' has dtype complex64.*supported"),
        ({"u": np.zeros(2, np.uint16)}, None, ValueError, "uint16"),
        ({"o": np.array([None])}, None, ValueError, "object"),
        ({"t": np.zeros(2, "datetime64[s]")}, None, ValueError, "datetime64"),
        ({"s": np.zeros(2, [("a", "f4"), ("b", "f4")])}, None, ValueError, "dtype"),
        ({"l": [1.0, 2.0]}, None, TypeError, r"'l' must be a numpy array, got list.*np.asarray"),
        ({"m": np.ma.masked_array([1.0, 2.0], mask=[0, 1])}, None, TypeError, "masked"),
        ({3: np.zeros(1)}, None, TypeError, "names must be str"),
        ({"__metadata__": np.zeros(1)}, None, ValueError, "reserved"),
        ({"\ud800": np.zeros(1)}, None, ValueError, "surrogate"),
        ({"a": np.zeros(1)}, {"epoch": 3}, TypeError, "metadata must map str -> str"),
        ({"a": np.zeros(1)}, ["x"], TypeError, "metadata must be a dict"),
        ([np.zeros(1)], None, TypeError, "arrays must be a dict"),
    ],
)
def test_writer_refuses_bad_input_without_touching_disk(
    tmp_path: Path, arrays: Any, metadata: Any, error: type[Exception], match: str
) -> None:
    path = tmp_path / "f.safetensors"
    path.write_bytes(b"old")
    with pytest.raises(error, match=match):
        save_arrays(path, arrays, metadata)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.safetensors"]


def test_failure_while_writing_tensor_data_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.safetensors"
    save_arrays(path, {"old": np.arange(4.0)})
    before = path.read_bytes()
    real, calls = st_module._file_bytes, []

    def fails_on_second_tensor(array: np.ndarray, code: str) -> np.ndarray:
        calls.append(code)
        if len(calls) == 2:
            raise MemoryError("cannot convert")
        return real(array, code)

    monkeypatch.setattr(st_module, "_file_bytes", fails_on_second_tensor)
    with pytest.raises(MemoryError):
        save_arrays(path, {"a": np.ones(1000), "b": np.ones(1000)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["f.safetensors"]


def test_failed_rename_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.safetensors"
    save_arrays(path, {"old": np.arange(4.0)})
    before = path.read_bytes()

    def refuse(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        save_arrays(path, {"new": np.zeros(3)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["f.safetensors"]


# ----------------------------------------------------------------------------------------------
# Compatibility with the reference implementation, both ways


def test_reference_reads_our_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    arrays = {f"{np.dtype(d).name}/{i}": random_array(rng, d, s) for d in DTYPES for i, s in enumerate(SHAPES)}
    arrays["strided"] = np.arange(24.0).reshape(4, 6)[::2, ::3]
    save_arrays(tmp_path / "ours.safetensors", arrays, {"format": "rnnlab", "k": "v"})
    assert_all_identical(load_file(tmp_path / "ours.safetensors"), arrays)
    with safe_open(tmp_path / "ours.safetensors", framework="np") as f:
        assert f.metadata() == {"format": "rnnlab", "k": "v"}


def test_we_read_reference_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    arrays = {f"{np.dtype(d).name}/{i}": random_array(rng, d, s) for d in DTYPES for i, s in enumerate(SHAPES)}
    save_file(arrays, tmp_path / "theirs.safetensors", metadata={"format": "pt", "ünï": "cødé"})
    loaded, metadata = load_arrays(tmp_path / "theirs.safetensors")
    assert metadata == {"format": "pt", "ünï": "cødé"}
    assert_all_identical(loaded, arrays)


dtype_strategy = st.sampled_from(DTYPES)
name_strategy = st.text(st.characters(exclude_categories=("Cs",)), max_size=12).filter(lambda s: s != "__metadata__")


@st.composite
def array_dicts(draw: st.DrawFn) -> dict[str, np.ndarray]:
    names = draw(st.lists(name_strategy, max_size=5, unique=True))
    arrays = {}
    for name in names:
        dtype = np.dtype(draw(dtype_strategy))
        shape = draw(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
        seed = draw(st.integers(0, 2**32 - 1))
        arrays[name] = random_array(np.random.default_rng(seed), dtype, shape)
    return arrays


@FAST
@given(arrays=array_dicts(), metadata=st.dictionaries(name_strategy, name_strategy, max_size=3))
def test_hypothesis_round_trip_and_reference_agree(
    tmp_path_factory: pytest.TempPathFactory, arrays: dict[str, np.ndarray], metadata: dict[str, str]
) -> None:
    path = tmp_path_factory.mktemp("h") / "f.safetensors"
    save_arrays(path, arrays, metadata)
    loaded, meta = load_arrays(path)
    assert meta == metadata
    assert_all_identical(loaded, arrays)
    assert_all_identical(load_file(path), arrays)
    save_file({k: np.array(v, order="C") for k, v in arrays.items()}, path, metadata=metadata or None)
    loaded, meta = load_arrays(path)
    assert meta == metadata
    assert_all_identical(loaded, arrays)


# ----------------------------------------------------------------------------------------------
# Corruption suite: every bad file raises ModelFileError naming the file, and nothing else


def crafted(header: Any, data: bytes = b"", length: int | None = None) -> bytes:
    """A file from a header (dict -> JSON, or raw bytes), tensor bytes, and optionally a wrong length."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return (len(raw) if length is None else length).to_bytes(8, "little") + raw + data


def f32(shape: list[int], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}


GOOD = {"a": f32([2], 0, 8), "b": f32([1], 8, 12)}
DATA12 = bytes(range(12))

# (id, file bytes, a fragment the message must contain)
BAD_FILES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty file"),
    ("seven_bytes", b"\x10\x00\x00\x00\x00\x00\x00", "too short"),
    ("length_past_end", crafted(GOOD, DATA12, length=10_000), "truncated file"),
    ("length_absurd", crafted(GOOD, DATA12, length=2**63), "limit"),
    ("length_just_over_limit", crafted(GOOD, DATA12, length=MAX_HEADER_BYTES + 1), "limit"),
    ("length_zero", crafted(b"", DATA12), "starting with '{'"),
    ("leading_space", crafted(b" " + json.dumps(GOOD).encode(), DATA12), "starting with '{'"),
    ("bad_json", crafted(b'{"a": {"dtype": "F32",', DATA12), "not valid JSON"),
    ("not_utf8", crafted(b'{"\xff\xfe": 1}'), "not valid UTF-8"),
    ("json_array_after_brace", crafted(b"{}[]"), "not valid JSON"),
    ("nan_constant", crafted(b'{"a": NaN}'), "not valid JSON"),
    ("deep_nesting", crafted(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "not valid JSON"),
    (
        "giant_integer",
        crafted(b'{"a": {"dtype": "F32", "shape": [' + b"9" * 5000 + b'], "data_offsets": [0, 4]}}'),
        "not valid JSON",
    ),
    ("duplicate_key", crafted(b'{"a": {}, "a": {}}'), "duplicate key"),
    ("entry_not_object", crafted({"a": [1, 2]}), "expected an object"),
    ("missing_dtype", crafted({"a": {"shape": [1], "data_offsets": [0, 4]}}, bytes(4)), "no dtype"),
    ("missing_shape_offsets", crafted({"a": {"dtype": "F32"}}), "no shape or data_offsets"),
    ("unknown_dtype", crafted({"a": {**f32([1], 0, 4), "dtype": "F33"}}, bytes(4)), "unknown dtype 'F33'"),
    ("dtype_not_string", crafted({"a": {**f32([1], 0, 4), "dtype": 4}}, bytes(4)), "unknown dtype 4"),
    ("bf16_unsupported", crafted({"a": {**f32([2], 0, 4), "dtype": "BF16"}}, bytes(4)), "not supported"),
    ("shape_negative", crafted({"a": f32([-1], 0, 4)}, bytes(4)), "shape must be"),
    ("shape_float", crafted({"a": f32([1.0], 0, 4)}, bytes(4)), "shape must be"),
    ("shape_bool", crafted({"a": f32([True], 0, 4)}, bytes(4)), "shape must be"),
    ("shape_not_list", crafted({"a": {**f32([1], 0, 4), "shape": 1}}, bytes(4)), "shape must be"),
    ("too_many_dims", crafted({"a": f32([1] * 65, 0, 4)}, bytes(4)), "beyond NumPy"),
    ("dim_too_big", crafted({"a": f32([0, 2**64], 0, 0)}), "beyond NumPy"),
    ("zero_size_but_too_big", crafted({"a": f32([0, 2**62, 2**62], 0, 0)}), "unusable"),
    ("offsets_three", crafted({"a": {**f32([1], 0, 4), "data_offsets": [0, 4, 8]}}, bytes(4)), "data_offsets must"),
    ("offsets_negative", crafted({"a": f32([1], -4, 0)}, bytes(4)), "data_offsets must"),
    ("offsets_reversed", crafted({"a": f32([0], 4, 0)}, bytes(4)), "end before they begin"),
    ("size_mismatch", crafted({"a": f32([2, 3], 0, 20)}, bytes(20)), "need 24 bytes"),
    ("overlap", crafted({"a": f32([2], 0, 8), "b": f32([2], 4, 12)}, DATA12), "overlap"),
    ("duplicate_range", crafted({"a": f32([2], 0, 8), "b": f32([2], 0, 8)}, bytes(8)), "overlap"),
    ("zero_size_inside_other", crafted({"a": f32([2], 0, 8), "z": f32([0], 4, 4)}, bytes(8)), "overlap"),
    ("hole_at_start", crafted({"a": f32([2], 4, 12)}, DATA12), "belong to no tensor"),
    ("hole_between", crafted({"a": f32([1], 0, 4), "b": f32([1], 8, 12)}, DATA12), "belong to no tensor"),
    (
        "offsets_out_of_range",
        crafted({"a": f32([2], 0, 8), "b": f32([1], 8, 12)}, bytes(8)),
        "header says 12 bytes of tensor data, file has 8",
    ),
    ("trailing_bytes", crafted(GOOD, DATA12 + b"extra"), "5 unexpected trailing bytes"),
    ("data_without_tensors", crafted({}, b"\x00"), "trailing bytes"),
    ("metadata_not_strings", crafted({"__metadata__": {"epoch": 3}}), "__metadata__"),
    ("metadata_list", crafted({"__metadata__": ["x"]}), "__metadata__"),
    ("bool_byte_2", crafted({"m": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02"), "BOOL"),
    ("header_is_string", crafted(b'{"a"'), "not valid JSON"),
    ("pickle", pickle.dumps({"W": np.ones(3)}), "pickle"),
    ("pickle_protocol_2", pickle.dumps({"W": [1.0]}, protocol=2), "pickle"),
    ("gzip", gzip.compress(b"hello" * 10), "gzip"),
    ("hdf5", b"\x89HDF\r\n\x1a\n" + bytes(100), "HDF5"),
    ("text", b"hello, this is just a text file\n", "text file"),
    ("random_bytes", np.random.default_rng(5).integers(0, 256, 1000, dtype=np.uint8).tobytes(), ""),
]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


BAD_FILES += [
    # The layout torch.save writes: a ZIP whose data.pkl is a pickle.
    ("pytorch_pt", zip_bytes({"archive/data.pkl": pickle.dumps({"w": 1}), "archive/version": b"3"}), "ZIP"),
    ("empty_zip", zip_bytes({}), "ZIP"),
]


def npy_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ones(3))
    return buf.getvalue()


BAD_FILES += [("npy", npy_bytes(), ".npy")]


def expect_model_file_error(path: Path, fragment: str = "") -> ModelFileError:
    """Load ``path``; it must raise ModelFileError naming the file and containing ``fragment``."""
    try:
        load_arrays(path)
    except ModelFileError as err:
        message = str(err)
        assert path.name in message, f"message does not name the file: {message}"
        assert fragment in message, f"expected {fragment!r} in: {message}"
        return err
    raise AssertionError(f"{path.name} loaded without error")


@pytest.mark.parametrize(("data", "fragment"), [(d, f) for _, d, f in BAD_FILES], ids=[i for i, _, _ in BAD_FILES])
def test_bad_file_raises_model_file_error(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "model.rnnlab"
    path.write_bytes(data)
    expect_model_file_error(path, fragment)


def test_pytorch_and_pickle_messages_are_actionable(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(dict((i, d) for i, d, _ in BAD_FILES)["pytorch_pt"])
    message = str(expect_model_file_error(path))
    assert "from_torch" in message and "safetensors.torch.save_file" in message and "no ZIP or pickle" in message
    path.write_bytes(pickle.dumps([1, 2, 3]))
    message = str(expect_model_file_error(path))
    assert "never unpickles" in message and "arbitrary code" in message


@pytest.fixture(scope="module")
def valid_file_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    rng = np.random.default_rng(6)
    arrays = {
        "W_ih": random_array(rng, np.float32, (3, 4)),
        "b": random_array(rng, np.float64, (4,)),
        "mask": random_array(rng, np.bool_, (5,)),
        "step": np.int64(42),
        "empty": np.zeros((0, 2), np.float16),
    }
    path = tmp_path_factory.mktemp("valid") / "valid.safetensors"
    save_arrays(path, arrays, {"format": "rnnlab", "config": '{"H": 4}'})
    return path.read_bytes()


def test_truncation_at_every_offset(tmp_path: Path, valid_file_bytes: bytes) -> None:
    path = tmp_path / "cut.rnnlab"
    for cut in range(len(valid_file_bytes)):
        path.write_bytes(valid_file_bytes[:cut])
        try:
            expect_model_file_error(path)
        except AssertionError as err:
            raise AssertionError(f"file cut at byte {cut} of {len(valid_file_bytes)}: {err}") from None


def load_or_model_file_error(path: Path) -> None:
    """A damaged file may still be a valid file (a renamed tensor); anything else must be ModelFileError."""
    try:
        load_arrays(path)
    except ModelFileError as err:
        assert path.name in str(err), str(err)


def test_flipped_header_bytes_never_leak_other_exceptions(tmp_path: Path, valid_file_bytes: bytes) -> None:
    path = tmp_path / "flipped.rnnlab"
    header_end = 8 + int.from_bytes(valid_file_bytes[:8], "little")
    for pos in range(header_end):
        for mask in (0x01, 0x04, 0x20, 0x80, 0xFF):
            damaged = bytearray(valid_file_bytes)
            damaged[pos] ^= mask
            path.write_bytes(damaged)
            try:
                load_or_model_file_error(path)
            except Exception as err:
                raise AssertionError(f"byte {pos} ^ {mask:#x}: {type(err).__name__}: {err}") from err


@FAST
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4))
def test_hypothesis_random_edits_never_leak_other_exceptions(
    tmp_path_factory: pytest.TempPathFactory, valid_file_bytes: bytes, edits: list[tuple[int, int]]
) -> None:
    damaged = bytearray(valid_file_bytes)
    for pos, value in edits:
        damaged[pos % len(damaged)] = value
    path = tmp_path_factory.mktemp("edit") / "edited.rnnlab"
    path.write_bytes(damaged)
    load_or_model_file_error(path)


@FAST
@given(data=st.binary(max_size=300))
def test_hypothesis_random_bytes_never_leak_other_exceptions(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("rand") / "random.rnnlab"
    path.write_bytes(data)
    load_or_model_file_error(path)


def test_directory_missing_path_and_fifo(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    expect_model_file_error(tmp_path / "adir", "is a directory")
    with pytest.raises(FileNotFoundError, match="missing.rnnlab"):
        load_arrays(tmp_path / "missing.rnnlab")
    if hasattr(os, "mkfifo"):  # opening a FIFO would block forever; it must be refused up front
        os.mkfifo(tmp_path / "fifo")
        expect_model_file_error(tmp_path / "fifo", "not a regular file")


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader called pickle or np.load")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    for ident, data, _ in BAD_FILES:
        path = tmp_path / f"{ident}.bin"
        path.write_bytes(data)
        expect_model_file_error(path)


def test_supported_dtypes_are_exported() -> None:
    assert SUPPORTED_DTYPES == ("F64", "F32", "F16", "I64", "I32", "I16", "I8", "U8", "BOOL")


@pytest.mark.skipif(sys.byteorder != "little", reason="checks the on-disk bytes of a little-endian host")
def test_on_disk_bytes_are_little_endian_c_order(tmp_path: Path) -> None:
    save_arrays(tmp_path / "f", {"x": np.array([[1, 2], [3, 4]], dtype=">i4").T})
    raw = (tmp_path / "f").read_bytes()
    assert raw[-16:] == np.array([1, 3, 2, 4], dtype="<i4").tobytes()
