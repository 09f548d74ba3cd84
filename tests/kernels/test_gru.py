"""The compiled GRU (``rnnlab.kernels.gru``), both variants, against the NumPy reference."""

import numpy as np
import pytest

from rnnlab import cells
from rnnlab.kernels import gru

from ._parity import CASES, CHUNKED, GATED_CASES, Problem, case_ids, check, compare, step_through

DTYPES = [np.float64, np.float32]
ALL = CASES + GATED_CASES
AFTER_ONLY = [
    ("b_without_b_R", {"use_recurrent_bias": False}, None),
    ("b_R_without_b", {"use_bias": False}, None),
    ("no_biases_mask", {"use_bias": False, "use_recurrent_bias": False, "mask": "end"}, None),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "problem", "truncate"), ALL, ids=case_ids(ALL))
@pytest.mark.parametrize("variant", ["gru", "gru_after"], ids=["reset_before", "reset_after"])
def test_matches_reference(variant, name, problem, truncate, dtype):
    check(variant=variant, dtype=dtype, truncate=truncate, **problem)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "problem", "truncate"), AFTER_ONLY, ids=case_ids(AFTER_ONLY))
def test_reset_after_bias_combinations(name, problem, truncate, dtype):
    check(variant="gru_after", dtype=dtype, truncate=truncate, **problem)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "problem", "truncate", "chunk_rows"), CHUNKED, ids=case_ids(CHUNKED))
@pytest.mark.parametrize("variant", ["gru", "gru_after"], ids=["reset_before", "reset_after"])
def test_backward_in_chunks_matches_reference(variant, name, problem, truncate, chunk_rows, dtype):
    check(variant=variant, dtype=dtype, truncate=truncate, chunk_rows=chunk_rows, **problem)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("N", [1, 6])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("variant", ["gru", "gru_after"], ids=["reset_before", "reset_after"])
def test_step_matches_forward(variant, N, use_bias, dtype):
    p = Problem(variant, dtype=dtype, N=N, use_bias=use_bias, use_recurrent_bias=use_bias)
    out, final, _ = cells.gru.forward(p.x, p.state, p.params, **p.options())
    outs, state = step_through(gru, p, gru.prepare(p.params, dtype))
    compare({"out": outs, "h": state[0]}, {"out": out, "h": final[0]}, dtype)
    outs, state = step_through(gru, p, p.params)
    compare({"out": outs, "h": state[0]}, {"out": out, "h": final[0]}, dtype)
