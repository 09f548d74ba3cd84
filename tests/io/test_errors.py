"""ModelFileError: a ValueError whose message starts with the file, and that survives pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

from rnnlab.io.errors import ModelFileError


def test_message_names_file_then_problem() -> None:
    err = ModelFileError(Path("runs") / "model.rnnlab", "truncated file")
    assert isinstance(err, ValueError)
    assert str(err) == f"{Path('runs') / 'model.rnnlab'}: truncated file"
    assert err.path.endswith("model.rnnlab") and err.problem == "truncated file"


def test_bytes_path_is_decoded() -> None:
    assert str(ModelFileError(b"m.rnnlab", "bad")) == "m.rnnlab: bad"


def test_survives_pickling_for_worker_processes() -> None:
    # Pickling our own exception object in a test is fine; files are what must never be unpickled.
    err = pickle.loads(pickle.dumps(ModelFileError("m.rnnlab", "bad header")))
    assert isinstance(err, ModelFileError) and str(err) == "m.rnnlab: bad header"


def test_single_message_form() -> None:
    err = ModelFileError("m.rnnlab: the model configuration does not load")
    assert err.path is None and str(err) == "m.rnnlab: the model configuration does not load"
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)
