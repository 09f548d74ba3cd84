"""Tests for rnnlab.data.batching: padding and masks, and length-bucketed batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.data.batching import bucket_batches, pad_sequences


def test_pad_int_sequences_with_mask():
    seqs = [np.array([1, 2, 3]), np.array([4]), np.array([5, 6])]
    padded, mask = pad_sequences(seqs, value=-1)
    np.testing.assert_array_equal(padded, [[1, 2, 3], [4, -1, -1], [5, 6, -1]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    assert mask.dtype == bool and padded.dtype == np.int64


def test_pad_float_features_and_dtype():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(T, 3)) for T in (4, 2, 5)]
    padded, mask = pad_sequences(seqs, dtype=np.float32)
    assert padded.shape == (3, 5, 3) and padded.dtype == np.float32 and mask.shape == (3, 5)
    for i, s in enumerate(seqs):
        T = len(s)
        np.testing.assert_allclose(padded[i, :T], s, rtol=1e-6)
        assert (padded[i, T:] == 0).all()
        assert mask[i].sum() == T and mask[i, :T].all()


def test_pad_refuses_bad_input_naming_the_index():
    with pytest.raises(ValueError, match="at least one sequence, got an empty list"):
        pad_sequences([])
    with pytest.raises(ValueError, match="sequence 1 has length 0"):
        pad_sequences([np.array([1]), np.array([], dtype=np.int64)])
    with pytest.raises(ValueError, match=r"sequence 1 has shape \(2, 4\), but sequence 0 has \(2, 3\)"):
        pad_sequences([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="sequence 0 is a scalar"):
        pad_sequences([np.array(3)])
    with pytest.raises(TypeError, match=r"got one ndarray of shape \(2, 3\); pass list\(arr\)"):
        pad_sequences(np.zeros((2, 3)))


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 60), min_size=0, max_size=300),
    batch_size=st.integers(1, 17),
    seed=st.integers(0, 2**32 - 1),
    shuffle=st.booleans(),
)
def test_bucket_batches_cover_every_index_once(lengths, batch_size, seed, shuffle):
    batches = bucket_batches(lengths, batch_size, np.random.default_rng(seed), shuffle=shuffle, chunk_batches=3)
    flat = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert sum(len(b) < batch_size for b in batches) <= 1  # only one short batch


def test_bucketing_reduces_padding_and_varies_between_epochs():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=2000)
    batches = bucket_batches(lengths, 32, rng)

    def padding(bs):
        return sum(len(b) * lengths[b].max() - lengths[b].sum() for b in bs)

    random_batches = np.array_split(rng.permutation(len(lengths)), len(batches))
    assert padding(batches) < 0.2 * padding(random_batches)
    again = bucket_batches(lengths, 32, rng)
    assert [b.tolist() for b in again] != [b.tolist() for b in batches]


def test_bucket_batches_deterministic_without_shuffle():
    lengths = [5, 1, 3, 1, 4]
    batches = bucket_batches(lengths, 2, None, shuffle=False)
    assert [b.tolist() for b in batches] == [[1, 3], [2, 4], [0]]
    same = bucket_batches(lengths, 2, np.random.default_rng(1), shuffle=False)
    assert [b.tolist() for b in same] == [b.tolist() for b in batches]


def test_bucket_batches_same_seed_same_batches():
    lengths = np.arange(100) % 7 + 1
    a = bucket_batches(lengths, 8, np.random.default_rng(3))
    b = bucket_batches(lengths, 8, np.random.default_rng(3))
    assert [x.tolist() for x in a] == [x.tolist() for x in b]


def test_bucket_batches_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        bucket_batches([1, 2], 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"needs rng to be a np\.random\.Generator, got int"):
        bucket_batches([1, 2], 1, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lengths must be a 1-D sequence of ints"):
        bucket_batches([1.5], 1, np.random.default_rng(0))
