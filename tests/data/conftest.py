"""Fixtures for the data tests: the real data sets in ``shared/data`` beside the repository.

Tests that use them are skipped cleanly when that folder (or the file) is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_file() -> Callable[..., Path]:
    """``shared_file("ud_english_ewt", "x.gz")`` -> the path, or skip the test when it is missing."""

    def get(*parts: str) -> Path:
        path = SHARED_DATA.joinpath(*parts)
        if not path.is_file():
            pytest.skip(f"real data file {path} not found")
        return path

    return get
