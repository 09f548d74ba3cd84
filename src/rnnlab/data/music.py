"""Reader for the polyphonic-music piano rolls of Boulanger-Lewandowski, Bengio & Vincent (2012).

The data (JSB Chorales, Nottingham, MuseData, Piano-midi.de) are MATLAB ``.mat`` files with three
cell arrays, ``traindata``, ``validdata`` and ``testdata``; each cell is one piece as a ``(T, 88)``
0/1 matrix: ``T`` time steps by the 88 piano keys (A0..C8), 1 where the key sounds.
The usual task is to predict step ``t + 1`` from steps ``<= t`` (88 independent Bernoulli
outputs) and report the frame-level negative log-likelihood.

Reading ``.mat`` files needs SciPy, an optional dependency (``pip install "rnnlab[data]"``); it is
imported only when ``read_polyphonic`` is called. Nothing here unpickles data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

N_KEYS = 88  # piano keys A0..C8, the columns of every piano roll

# .mat variable name -> split name returned by read_polyphonic
SPLITS: dict[str, str] = {"traindata": "train", "validdata": "valid", "testdata": "test"}


def _loadmat(path: Path) -> dict[str, object]:
    try:
        from scipy.io import loadmat
    except ImportError as e:
        raise ImportError(
            'reading .mat piano rolls needs SciPy, which is not installed; run pip install "rnnlab[data]" '
            "(or pip install scipy)"
        ) from e
    try:
        return loadmat(path)
    except NotImplementedError as e:  # MATLAB v7.3 files are HDF5
        raise ValueError(
            f"{path}: MATLAB v7.3 (HDF5) .mat files are not supported: {e}; expected a v5 .mat file "
            "like the original piano-roll files (re-save with save(..., '-v7'))"
        ) from e
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as e:  # SciPy raises IndexError, MatReadError, ... on foreign bytes
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({e}); expected a piano-roll .mat") from e


def _piece(path: Path, key: str, i: int, x: object) -> np.ndarray:
    """Check one cell and return it as ``(T, 88)`` float32 of 0.0/1.0."""
    where = f"{path}: {key}{{{i}}}"
    if not isinstance(x, np.ndarray) or x.dtype == object or x.ndim != 2:
        desc = f"ndarray of shape {x.shape}, dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{where} is a {desc}; expected a numeric (T, {N_KEYS}) piano roll")
    if x.shape[1] != N_KEYS or x.shape[0] == 0:
        raise ValueError(f"{where} has shape {x.shape}; expected (T, {N_KEYS}) with T >= 1")
    if not np.isin(x, (0, 1)).all():
        raise ValueError(f"{where} has values other than 0 and 1; expected a binary piano roll")
    return np.ascontiguousarray(x, dtype=np.float32)


def read_polyphonic(path: str | os.PathLike[str]) -> dict[str, list[np.ndarray]]:
    """Read a piano-roll ``.mat`` file into ``{"train": [...], "valid": [...], "test": [...]}``.

    Every piece is a ``(T, 88)`` float32 array of 0.0/1.0 (time first, like every rnnlab
    sequence). A ``.mat`` file without the three cell arrays ``traindata``, ``validdata`` and
    ``testdata`` of ``(T, 88)`` binary matrices is refused with a ``ValueError`` that says what
    was found.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; expected a piano-roll .mat file such as JSB_Chorales.mat")
    mat = _loadmat(path)
    missing = [k for k in SPLITS if k not in mat]
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(
            f"{path}: missing variable(s) {missing}; expected the piano-roll variables {list(SPLITS)} "
            f"(found {found or 'none'}). Is this a Boulanger-Lewandowski polyphonic music file?"
        )
    out: dict[str, list[np.ndarray]] = {}
    for key, split in SPLITS.items():
        cells = mat[key]
        if not isinstance(cells, np.ndarray) or cells.dtype != object:
            desc = (
                f"{cells.dtype} array of shape {cells.shape}" if isinstance(cells, np.ndarray) else type(cells).__name__
            )
            raise ValueError(f"{path}: {key} is a {desc}; expected a cell array of (T, {N_KEYS}) piano rolls")
        out[split] = [_piece(path, key, i, x) for i, x in enumerate(cells.ravel(order="F"))]
    return out
