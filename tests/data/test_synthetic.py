"""Tests for rnnlab.data.synthetic: the adding problem and copy memory, checked by construction."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.synthetic import adding_problem, copy_memory


@pytest.mark.parametrize("T", [2, 3, 50, 101])
def test_adding_problem_layout_and_targets(T):
    x, y = adding_problem(500, T, np.random.default_rng(T))
    assert x.shape == (500, T, 2) and y.shape == (500, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(np.unique(markers).tolist()) <= {0.0, 1.0}
    half = T // 2
    assert (markers[:, :half].sum(axis=1) == 1).all()  # one marker in the first half
    assert (markers[:, half:].sum(axis=1) == 1).all()  # one in the second half
    expected = (values * markers).sum(axis=1, keepdims=True, dtype=np.float64)
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_adding_problem_is_seeded_and_the_baseline_mse_is_about_one_sixth():
    a = adding_problem(20_000, 30, np.random.default_rng(7))
    b = adding_problem(20_000, 30, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert abs(float(((a[1] - 1.0) ** 2).mean()) - 1 / 6) < 0.01


@pytest.mark.parametrize(("T", "n_symbols", "length"), [(1, 8, 10), (20, 8, 10), (5, 3, 1)])
def test_copy_memory_layout_and_targets(T, n_symbols, length):
    n = 200
    x, y = copy_memory(n, T, np.random.default_rng(0), n_symbols=n_symbols, length=length)
    total = T + 2 * length
    assert x.shape == y.shape == (n, total)
    assert x.dtype == y.dtype == np.int64
    symbols = x[:, :length]
    assert ((symbols >= 1) & (symbols <= n_symbols)).all()
    delimiter = length + T - 1
    expected_x = np.zeros((n, total), dtype=np.int64)
    expected_x[:, :length] = symbols
    expected_x[:, delimiter] = n_symbols + 1
    np.testing.assert_array_equal(x, expected_x)
    expected_y = np.zeros((n, total), dtype=np.int64)
    expected_y[:, T + length :] = symbols
    np.testing.assert_array_equal(y, expected_y)
    assert (y[:, delimiter + 1 :] == y[:, -length:]).all()  # replay starts right after the delimiter


def test_copy_memory_uses_every_symbol():
    x, _ = copy_memory(100, 5, np.random.default_rng(1), n_symbols=8, length=10)
    assert set(np.unique(x[:, :10]).tolist()) == set(range(1, 9))


def test_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="T must be an integer >= 2, got 1"):
        adding_problem(3, 1, rng)
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        copy_memory(0, 5, rng)
    with pytest.raises(ValueError, match="length must be an integer >= 1"):
        copy_memory(2, 5, rng, length=0)
    with pytest.raises(TypeError, match=r"pass np\.random\.default_rng\(seed\)"):
        adding_problem(3, 4, 42)  # type: ignore[arg-type]
