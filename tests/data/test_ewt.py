"""Tests for rnnlab.data.ewt: the packaged UD English EWT files, their licence, and their counts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rnnlab.data.ewt import EWT_FILES, ewt_paths, load_ewt


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ewt_paths_point_at_packaged_files():
    paths = ewt_paths()
    assert list(paths) == ["train", "dev", "test"]
    for split, path in paths.items():
        assert isinstance(path, Path) and path.is_file()
        assert path.name == EWT_FILES[split]
        assert "shared" not in path.parts  # library code never reads ../shared
    folder = paths["train"].parent
    assert (folder / "LICENSE.txt").is_file()
    attribution = (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in attribution and "UD_English-EWT" in attribution


def test_load_ewt_dev_counts():
    sents = load_ewt("dev")
    assert (len(sents), sum(len(s) for s in sents)) == (2_001, 25_147)
    assert len({t for s in sents for t in s.tags}) == 17


def test_load_ewt_train_counts():
    sents = load_ewt("train")
    assert (len(sents), sum(len(s) for s in sents)) == (12_544, 204_577)
    assert len({t for s in sents for t in s.tags}) == 17


def test_load_ewt_bad_split():
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'dev', 'test'\], got 'valid'"):
        load_ewt("valid")


@pytest.mark.parametrize("name", [*EWT_FILES.values(), "LICENSE.txt", "README.md"])
def test_packaged_files_equal_the_shared_ones(shared_file, name):
    shared = shared_file("ud_english_ewt", name)
    packaged = ewt_paths()["train"].parent / name
    assert _sha256(packaged) == _sha256(shared), f"{packaged} differs from {shared}"
