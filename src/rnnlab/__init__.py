"""rnnlab: Elman RNN, LSTM and GRU layers with hand-derived backpropagation through time."""

from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a model file written by ``Sequential.save`` (see ``rnnlab.models.load_model``)."""
    from rnnlab.models import load_model as _load

    return _load(path)
