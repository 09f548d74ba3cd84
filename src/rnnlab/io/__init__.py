"""Saving and loading models and checkpoints as safetensors files, with no pickle anywhere.

Loading a file never runs code from it: files are safetensors (a JSON header and raw little-endian
array bytes), read by a pure-NumPy reader that validates every field and raises ``ModelFileError``
naming the file for anything corrupt, truncated or foreign. Every save is atomic: it either
completes or leaves the previous file untouched.

- ``safetensors``: ``save_arrays`` / ``load_arrays``, any dict of arrays plus string metadata.
- ``model_file``: ``save_model_file`` / ``load_model_file``, a config dict plus weights.
- ``checkpoint``: ``save_checkpoint`` / ``load_checkpoint``, plus optimizer and training state,
  and ``rng_state_to_json`` / ``rng_from_json`` for random generators.
- ``atomic``: ``atomic_open``, ``atomic_write_bytes``, ``atomic_write_text``, ``remove_stale_temps``.
- ``errors``: ``ModelFileError``.
"""

from .atomic import atomic_open, atomic_write_bytes, atomic_write_text, remove_stale_temps
from .checkpoint import Checkpoint, load_checkpoint, rng_from_json, rng_state_to_json, save_checkpoint
from .errors import ModelFileError
from .model_file import FORMAT_VERSION, load_model_file, save_model_file
from .safetensors import SUPPORTED_DTYPES, load_arrays, save_arrays

__all__ = [
    "FORMAT_VERSION",
    "SUPPORTED_DTYPES",
    "Checkpoint",
    "ModelFileError",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_arrays",
    "load_checkpoint",
    "load_model_file",
    "remove_stale_temps",
    "rng_from_json",
    "rng_state_to_json",
    "save_arrays",
    "save_checkpoint",
    "save_model_file",
]
