"""Elman RNN cell math: the equation step by step, BPTT by central differences, masks, truncation."""

import numpy as np
import pytest

from rnnlab.cells import rnn
from tests.cells.common import check_dh_record, check_float32, check_gradients, check_mask_semantics, make_problem


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_forward_is_the_notes_equation_step_by_step(activation):
    p = make_problem(rnn)
    W, W_R, b = p["params"]["W"], p["params"]["W_R"], p["params"]["b"]
    f = np.tanh if activation == "tanh" else (lambda a: np.maximum(a, 0))
    (H_t,) = p["state"]
    expected = []
    for X_t in p["x"]:
        H_t = f(X_t @ W + H_t @ W_R + b)
        expected.append(H_t)
    out, (h,), _ = rnn.forward(p["x"], p["state"], p["params"], activation=activation)
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(h, H_t, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "hard_sigmoid", "linear"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_gradients_match_central_differences(activation, masked):
    check_gradients(rnn, make_problem(rnn, 1, masked=masked), {"activation": activation})


def test_gradients_without_bias_with_recurrent_dropout():
    check_gradients(rnn, make_problem(rnn, 2, use_bias=False, dropout=True, masked=True), {})


@pytest.mark.parametrize("k", [1, 2, 3])
def test_truncated_bptt_is_the_gradient_of_detached_windows(k):
    check_gradients(rnn, make_problem(rnn, 3, masked=True), {}, truncate=k)


def test_truncation_cuts_the_state_gradient_at_window_starts():
    """With k = 2, the loss at step 5 reaches back to step 4 and no further."""
    p = make_problem(rnn, 5)
    _, _, cache = rnn.forward(p["x"], p["state"], p["params"])
    dout = np.zeros_like(p["dout"])
    dout[5] = 1.0
    dx, (dh0,), _ = rnn.backward(dout, (None,), cache, truncate=2)
    assert np.all(dx[:4] == 0.0) and np.all(dh0 == 0.0)
    assert np.all(np.abs(dx[4:]).sum(axis=(1, 2)) > 0)


def test_mask_semantics():
    check_mask_semantics(rnn, {})


def test_float32_matches_float64():
    check_float32(rnn, {})


def test_recorded_state_gradients_are_dL_dH_t():
    check_dh_record(rnn, {})
