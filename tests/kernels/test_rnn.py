"""The compiled Elman RNN (``rnnlab.kernels.rnn``) against the NumPy reference, option by option."""

import numpy as np
import pytest

from rnnlab import cells
from rnnlab.kernels import rnn

from ._parity import CASES, CHUNKED, Problem, case_ids, check, compare, step_through

DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "problem", "truncate"), CASES, ids=case_ids(CASES))
def test_matches_reference(name, problem, truncate, dtype):
    check(variant="rnn", dtype=dtype, truncate=truncate, **problem)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "problem", "truncate", "chunk_rows"), CHUNKED, ids=case_ids(CHUNKED))
def test_backward_in_chunks_matches_reference(name, problem, truncate, chunk_rows, dtype):
    check(variant="rnn", dtype=dtype, truncate=truncate, chunk_rows=chunk_rows, **problem)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("N", [1, 6])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("prepared", [True, False])
def test_step_matches_forward(N, use_bias, prepared, dtype):
    p = Problem("rnn", dtype=dtype, N=N, use_bias=use_bias)
    out, final, _ = cells.rnn.forward(p.x, p.state, p.params, **p.options())
    params = rnn.prepare(p.params, dtype) if prepared else p.params
    outs, state = step_through(rnn, p, params)
    compare({"out": outs, "h": state[0]}, {"out": out, "h": final[0]}, dtype)
