"""The one exception every file loader in ``rnnlab.io`` raises for a bad file: ``ModelFileError``."""

from __future__ import annotations

import os


class ModelFileError(ValueError):
    """A file is corrupt, truncated, foreign or of an unsupported version.

    Raised as ``ModelFileError(path, problem)``: ``str(err)`` is ``"<path>: <problem>"``, the file
    first, then what is wrong with it and, where there is one, how to fix it; ``err.path`` and
    ``err.problem`` hold the two parts. ``ModelFileError(message)`` with one ready-made message
    (which should name the file) also works; then ``err.path`` is None. A subclass of
    ``ValueError``, so callers that already catch bad values keep working.
    """

    path: str | None
    problem: str

    def __init__(self, path: str | os.PathLike[str] | os.PathLike[bytes] | bytes, problem: str | None = None) -> None:
        if problem is None:  # a single, complete message
            self.path, self.problem = None, str(path)
            super().__init__(self.problem)
        else:
            self.path, self.problem = os.fsdecode(path), problem
            # Both parts go to ValueError, so that the exception pickles (multiprocessing, pytest-xdist).
            super().__init__(self.path, problem)

    def __str__(self) -> str:
        return self.problem if self.path is None else f"{self.path}: {self.problem}"
