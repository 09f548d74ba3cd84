"""Turning variable-length sequences into batches: padding with a mask, and length bucketing.

Layout is batch-major like the rest of rnnlab's public API: ``N`` sequences, ``T`` time steps
(``T_max`` = the longest in the batch), then the feature dimensions if any. The mask is ``True``
on real steps and ``False`` on padding, so a loss is ``(loss * mask).sum() / mask.sum()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike


def pad_sequences(
    seqs: Sequence[np.ndarray], dtype: DTypeLike | None = None, value: float = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of different lengths into ``(N, T_max, ...)`` plus an ``(N, T_max)`` mask.

    ``seqs[i]`` is ``(T_i,)`` (e.g. token ids) or ``(T_i, D)`` (e.g. features); all must share the
    trailing shape. Steps past ``T_i`` are filled with ``value``. ``dtype`` defaults to the common
    dtype of the inputs. Returns ``(padded, mask)`` with ``mask[i, t] = t < T_i``.
    """
    if isinstance(seqs, np.ndarray) and seqs.dtype != object:
        raise TypeError(
            "pad_sequences expects a list of arrays of different lengths, got one ndarray of shape "
            f"{seqs.shape}; pass list(arr) if its rows are the sequences"
        )
    arrays = [np.asarray(s) for s in seqs]
    if not arrays:
        raise ValueError("pad_sequences needs at least one sequence, got an empty list")
    trailing = arrays[0].shape[1:]
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"sequence {i} is a scalar; expected an array of shape (T, ...)")
        if a.shape[0] == 0:
            raise ValueError(f"sequence {i} has length 0; expected at least one step (drop empty sequences first)")
        if a.shape[1:] != trailing:
            raise ValueError(
                f"sequence {i} has shape {a.shape}, but sequence 0 has {arrays[0].shape}; expected every "
                f"sequence to be (T_i, *{trailing})"
            )
    out_dtype = np.dtype(dtype) if dtype is not None else np.result_type(*arrays)
    lengths = np.array([a.shape[0] for a in arrays])  # (N,)
    N, T_max = len(arrays), int(lengths.max())
    padded = np.full((N, T_max, *trailing), value, dtype=out_dtype)  # (N, T_max, ...)
    for i, a in enumerate(arrays):
        padded[i, : a.shape[0]] = a
    mask = np.arange(T_max)[None, :] < lengths[:, None]  # (N, T_max) bool
    return padded, mask


def bucket_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None,
    shuffle: bool = True,
    chunk_batches: int = 50,
) -> list[np.ndarray]:
    """Split ``range(len(lengths))`` into batches of indices whose sequences have similar lengths.

    With ``shuffle=True`` the indices are shuffled, cut into chunks of ``chunk_batches *
    batch_size``, sorted by length inside each chunk and cut into batches; then the batch order is
    shuffled. Batches thus need little padding yet differ from epoch to epoch. With
    ``shuffle=False`` (evaluation) the indices are sorted by length once (stable, no randomness;
    ``rng`` may be ``None``). Every index appears in exactly one batch; only the last batch of the
    last chunk can be smaller than ``batch_size``.
    """
    if not isinstance(batch_size, int | np.integer) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(chunk_batches, int | np.integer) or chunk_batches < 1:
        raise ValueError(f"chunk_batches must be a positive integer, got {chunk_batches!r}")
    lens = np.asarray(lengths)
    if lens.ndim != 1 or (lens.size and not np.issubdtype(lens.dtype, np.integer)):
        raise ValueError(f"lengths must be a 1-D sequence of ints, got {lens.dtype} of shape {lens.shape}")
    if shuffle and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"shuffle=True needs rng to be a np.random.Generator, got {type(rng).__name__}; "
            "pass np.random.default_rng(seed)"
        )
    n = len(lens)
    if not shuffle:
        order = np.argsort(lens, kind="stable")
        return [order[s : s + batch_size] for s in range(0, n, batch_size)]
    assert rng is not None
    perm = rng.permutation(n)
    chunk = batch_size * int(chunk_batches)
    batches: list[np.ndarray] = []
    for c in range(0, n, chunk):
        idx = perm[c : c + chunk]
        idx = idx[np.argsort(lens[idx], kind="stable")]
        batches.extend(idx[s : s + batch_size] for s in range(0, len(idx), batch_size))
    return [batches[k] for k in rng.permutation(len(batches))]
