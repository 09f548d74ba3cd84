"""The layers give the same outputs and gradients on both backends, for every option, in both dtypes.

The kernels are checked cell by cell in ``tests/kernels``; this checks the wiring: that the layers
really call the selected backend, and that masks, reversal, dropout, truncation, initial and carried
state, stacking and bidirectionality reach it intact.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab import backend
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN
from tests.helpers import assert_close

pytestmark = pytest.mark.skipif(not backend.numba_available(), reason="numba is not installed")


def _split_modes() -> list[str]:
    if not backend.numba_available():
        return ["whole"]
    from rnnlab.kernels import _blas

    return ["whole", "split"] if _blas.mkl_library() is not None else ["whole"]


@pytest.fixture(autouse=True, params=_split_modes())
def batch_split(request, monkeypatch):
    """``split``: the kernels (on MKL) run every batch of 4 or more rows as two parts on two threads."""
    if request.param == "split":
        from rnnlab.kernels import _blas, _split

        monkeypatch.setattr(_split, "MIN_PART_WORK", 0)
        monkeypatch.setattr(_blas, "max_threads", lambda: 2)
        monkeypatch.setattr(_blas, "CPUS", 2)
        previous = _blas.blas_provider()
        _blas.set_blas("mkl")
        yield request.param
        _blas.set_blas(previous)
    else:
        yield request.param

LAYERS = {
    "rnn": lambda **kw: SimpleRNN(5, **kw),
    "lstm": lambda **kw: LSTM(5, **kw),
    "gru": lambda **kw: GRU(5, **kw),
    "gru-ra": lambda **kw: GRU(5, reset_after=True, **kw),
    "lstm-hard": lambda **kw: LSTM(5, recurrent_activation="hard_sigmoid", **kw),
    "rnn-relu-nobias": lambda **kw: SimpleRNN(5, activation="relu", use_bias=False, **kw),
}
OPTIONS = {
    "plain": {},
    "last": {"return_sequences": False},
    "state": {"return_state": True},
    "backwards": {"go_backwards": True},
    "truncate": {"truncate_gradient": 3},
    "dropouts": {"dropout": 0.3, "recurrent_dropout": 0.4},
}


def run(make, backend_name, dtype, x, lengths, training, bidirectional=False):
    """Forward and backward of a freshly built (same seed) layer under one backend."""
    with backend.use_backend(backend_name):
        layer = make(dtype=dtype, seed=3)
        if bidirectional:
            layer = Bidirectional(layer)
        out, cache = layer.forward(x, lengths=lengths, training=training)
        outs = out if isinstance(out, list) else [out]
        rng = np.random.default_rng(9)
        douts = [rng.normal(size=o.shape).astype(dtype) for o in outs]
        dx, _ = layer.backward(douts if isinstance(out, list) else douts[0], cache)
        return outs, dx, dict(layer.grads)


def compare(a, b, tol):
    (outs_a, dx_a, g_a), (outs_b, dx_b, g_b) = a, b
    for i, (oa, ob) in enumerate(zip(outs_a, outs_b, strict=True)):
        assert_close(f"output {i}", oa, ob, tol)
    assert_close("dx", dx_a, dx_b, tol)
    assert g_a.keys() == g_b.keys()
    for key in g_a:
        assert_close(f"d{key}", g_a[key], g_b[key], tol)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-11), ("float32", 2e-5)])
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("kind", LAYERS)
def test_layer_matches_reference(kind, option, dtype, tol):
    rng = np.random.default_rng(0)
    x, lengths = rng.normal(size=(4, 7, 3)).astype(dtype), np.array([7, 4, 1, 6])
    make = lambda **kw: LAYERS[kind](**{"return_sequences": True, **OPTIONS[option], **kw})  # noqa: E731
    training = option == "dropouts"
    compare(run(make, "numba", dtype, x, lengths, training), run(make, "numpy", dtype, x, lengths, training), tol)


def test_the_split_mode_really_splits(batch_split):
    """Not a tautology: in ``split`` mode a batch of 4 runs as parts (the kernels' cache says so)."""
    with backend.use_backend("numba"):
        _, cache = LSTM(5, dtype="float64", seed=0).forward(np.zeros((4, 7, 3)))
    assert ("parts" in cache["cell_cache"]["inner"]) == (batch_split == "split")


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru-ra"])
def test_bidirectional_matches_reference(kind):
    rng = np.random.default_rng(1)
    x, lengths = rng.normal(size=(3, 6, 2)), np.array([6, 2, 5])
    make = lambda **kw: LAYERS[kind](return_sequences=True, **kw)  # noqa: E731
    compare(
        run(make, "numba", "float64", x, lengths, False, True),
        run(make, "numpy", "float64", x, lengths, False, True),
        1e-11,
    )


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_stateful_carry_matches_reference(kind):
    """Two consecutive calls of a stateful layer: the second starts from the first's final state."""
    rng = np.random.default_rng(2)
    chunks = [rng.normal(size=(2, 4, 3)) for _ in range(2)]
    results = {}
    for name in ("numba", "numpy"):
        with backend.use_backend(name):
            layer = LAYERS[kind](return_sequences=True, stateful=True, dtype="float64", seed=4)
            results[name] = [layer(c) for c in chunks]
    for i in range(2):
        assert_close(f"chunk {i}", results["numba"][i], results["numpy"][i], 1e-11)


def test_layers_follow_the_selected_backend():
    """Not a tautology: the cache of a forward pass records which module ran."""
    x = np.zeros((1, 2, 3))
    for name, package in (("numba", "rnnlab.kernels"), ("numpy", "rnnlab.cells")):
        with backend.use_backend(name):
            _, cache = LSTM(2, seed=0).forward(x)
        assert cache["cell"].__name__ == f"{package}.lstm", (name, cache["cell"].__name__)
