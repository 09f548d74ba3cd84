"""The compiled LSTM (``rnnlab.kernels.lstm``) against the NumPy reference, option by option."""

import numpy as np
import pytest

from rnnlab import cells
from rnnlab.kernels import lstm

from ._parity import CASES, CHUNKED, GATED_CASES, Problem, case_ids, check, compare, step_through

DTYPES = [np.float64, np.float32]
ALL = (
    CASES
    + GATED_CASES
    + [
        ("dstate_h_only", {"dstate": (True, False)}, None),
        ("dstate_c_only", {"dstate": (False, True)}, None),
    ]
)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "problem", "truncate"), ALL, ids=case_ids(ALL))
def test_matches_reference(name, problem, truncate, dtype):
    check(variant="lstm", dtype=dtype, truncate=truncate, **problem)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "problem", "truncate", "chunk_rows"), CHUNKED, ids=case_ids(CHUNKED))
def test_backward_in_chunks_matches_reference(name, problem, truncate, chunk_rows, dtype):
    check(variant="lstm", dtype=dtype, truncate=truncate, chunk_rows=chunk_rows, **problem)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("N", [1, 6])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("prepared", [True, False])
def test_step_matches_forward(N, use_bias, prepared, dtype):
    p = Problem("lstm", dtype=dtype, N=N, use_bias=use_bias, activation="relu", recurrent_activation="hard_sigmoid")
    out, final, _ = cells.lstm.forward(p.x, p.state, p.params, **p.options())
    params = lstm.prepare(p.params, dtype) if prepared else p.params
    outs, state = step_through(lstm, p, params)
    compare({"out": outs, "h": state[0], "c": state[1]}, {"out": out, "h": final[0], "c": final[1]}, dtype)
