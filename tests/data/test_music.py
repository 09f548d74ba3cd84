"""Tests for rnnlab.data.music: piano-roll .mat files, foreign files, missing SciPy, and JSB Chorales."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rnnlab.data.music import read_polyphonic

scipy_io = pytest.importorskip("scipy.io")


def cell(*arrays: np.ndarray) -> np.ndarray:
    """A MATLAB cell array (1, n) as savemat expects it: an object ndarray."""
    c = np.empty((1, len(arrays)), dtype=object)
    for i, a in enumerate(arrays):
        c[0, i] = a
    return c


def roll(T: int, rng: np.random.Generator) -> np.ndarray:
    return (rng.random((T, 88)) < 0.05).astype(np.uint8)  # (T, 88)


def save(tmp_path, name="toy.mat", **variables) -> str:
    path = tmp_path / name
    scipy_io.savemat(path, variables)
    return str(path)


def test_reads_splits_as_float32_rolls(tmp_path):
    rng = np.random.default_rng(0)
    pieces = {k: [roll(T, rng) for T in Ts] for k, Ts in {"train": (5, 9), "valid": (3,), "test": (4, 2)}.items()}
    path = save(
        tmp_path,
        traindata=cell(*pieces["train"]),
        validdata=cell(*pieces["valid"]),
        testdata=cell(*pieces["test"]),
    )
    out = read_polyphonic(path)
    assert list(out) == ["train", "valid", "test"]
    for split, expected in pieces.items():
        assert len(out[split]) == len(expected)
        for got, want in zip(out[split], expected, strict=True):
            assert got.dtype == np.float32 and got.shape == want.shape
            np.testing.assert_array_equal(got, want)


def test_foreign_mat_lists_what_was_found(tmp_path):
    path = save(tmp_path, name="foreign.mat", weights=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"foreign\.mat: missing variable\(s\) \['traindata'.*found \['weights'\]"):
        read_polyphonic(path)


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (cell(np.ones((3, 12))), r"testdata\{0\} has shape \(3, 12\); expected \(T, 88\)"),
        (cell(np.full((3, 88), 0.5)), r"testdata\{0\} has values other than 0 and 1"),
        (np.zeros((3, 88)), r"testdata is a float64 array of shape \(3, 88\); expected a cell array"),
    ],
)
def test_wrong_contents_are_named(tmp_path, bad, problem):
    ok = cell(np.zeros((2, 88)))
    path = save(tmp_path, name="odd.mat", traindata=ok, validdata=ok, testdata=bad)
    with pytest.raises(ValueError, match=rf"odd\.mat: {problem}"):
        read_polyphonic(path)


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "text.mat"
    path.write_text("hello, this is not MATLAB data at all\n")
    with pytest.raises(ValueError, match=r"text\.mat: not a readable MATLAB \.mat file"):
        read_polyphonic(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_polyphonic(tmp_path / "absent.mat")


def test_missing_scipy_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "x.mat"
    path.write_bytes(b"\0")
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # makes `from scipy.io import ...` fail
    with pytest.raises(ImportError, match=r'pip install "rnnlab\[data\]"'):
        read_polyphonic(path)


def test_real_jsb_chorales(shared_file):
    out = read_polyphonic(shared_file("polyphonic_music", "JSB_Chorales.mat"))
    assert {k: len(v) for k, v in out.items()} == {"train": 229, "valid": 76, "test": 77}
    for pieces in out.values():
        for x in pieces:
            assert x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == 88
            assert x.sum(axis=1).max() <= 4  # at most 4 voices sound at once
