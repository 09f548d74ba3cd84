"""The Universal Dependencies English Web Treebank, shipped inside the package.

The three gzipped CoNLL-U files live in ``rnnlab/datasets/ud_english_ewt/`` with the treebank's
licence (CC BY-SA 4.0), README and an ATTRIBUTION.md; they are found through
``importlib.resources``, so this works from an installed package as well as a source tree.

Counts: train 12,544 sentences / 204,577 words, dev 2,001 / 25,147, test 2,077 / 25,094; 17 UPOS
tags. The default data set of rnnlab's part-of-speech tagging examples.
"""

from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from rnnlab.data.conllu import Sentence, read_conllu

EWT_FILES: dict[str, str] = {
    "train": "en_ewt-ud-train.conllu.gz",
    "dev": "en_ewt-ud-dev.conllu.gz",
    "test": "en_ewt-ud-test.conllu.gz",
}

# Keeps files extracted from a zipped install alive until the interpreter exits.
_extracted = ExitStack()
atexit.register(_extracted.close)


@functools.cache
def _packaged_path(filename: str) -> Path:
    """A real file path for one packaged file (extracted once to a temporary file if zipped)."""
    folder = resources.files("rnnlab") / "datasets" / "ud_english_ewt"
    resource = folder / filename
    if not resource.is_file():
        raise FileNotFoundError(
            f"the packaged UD English EWT file {filename} is missing from {folder}; reinstall rnnlab "
            "(its package data 'datasets/**/*' must be included)"
        )
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(resources.as_file(resource))  # zip import


def ewt_paths() -> dict[str, Path]:
    """Paths of the packaged EWT files: ``{"train": ..., "dev": ..., "test": ...}``."""
    return {split: _packaged_path(filename) for split, filename in EWT_FILES.items()}


def load_ewt(split: str = "train", column: str = "upos") -> list[Sentence]:
    """Read one split (``"train"``, ``"dev"`` or ``"test"``) of the packaged EWT as sentences."""
    if split not in EWT_FILES:
        raise ValueError(f"split must be one of {list(EWT_FILES)}, got {split!r}")
    return read_conllu(ewt_paths()[split], column=column)
