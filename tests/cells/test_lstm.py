"""LSTM cell math: the notes' equations step by step, BPTT by central differences, masks, truncation."""

import numpy as np
import pytest

from rnnlab.cells import lstm
from tests.cells.common import check_dh_record, check_float32, check_gradients, check_mask_semantics, make_problem


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_forward_is_the_notes_equations_step_by_step():
    p = make_problem(lstm)
    W, W_R, b = p["params"]["W"], p["params"]["W_R"], p["params"]["b"]
    H = W_R.shape[0]
    blocks = lambda M: [M[..., k * H : (k + 1) * H] for k in range(4)]  # noqa: E731
    (W_ii, W_if, W_ic, W_io), (W_ri, W_rf, W_rc, W_ro), (b_i, b_f, b_c, b_o) = blocks(W), blocks(W_R), blocks(b)
    H_t, C_t = p["state"]
    expected = []
    for X_t in p["x"]:
        I = sigmoid(X_t @ W_ii + H_t @ W_ri + b_i)
        F = sigmoid(X_t @ W_if + H_t @ W_rf + b_f)
        C_tilde = np.tanh(X_t @ W_ic + H_t @ W_rc + b_c)
        O = sigmoid(X_t @ W_io + H_t @ W_ro + b_o)
        C_t = F * C_t + I * C_tilde
        H_t = O * np.tanh(C_t)
        expected.append(H_t)
    out, (h, c), _ = lstm.forward(p["x"], p["state"], p["params"])
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(h, H_t, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(c, C_t, rtol=1e-13, atol=1e-14)


OPTIONS = [
    {},
    {"recurrent_activation": "hard_sigmoid"},
    {"activation": "relu", "recurrent_activation": "sigmoid"},
    {"activation": "linear", "recurrent_activation": "hard_sigmoid"},
]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o.values()) or "default")
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_gradients_match_central_differences(opts, masked):
    check_gradients(lstm, make_problem(lstm, 1, masked=masked), opts)


def test_gradients_without_bias_with_recurrent_dropout():
    check_gradients(lstm, make_problem(lstm, 2, use_bias=False, dropout=True, masked=True), {})


@pytest.mark.parametrize("k", [1, 2, 4])
def test_truncated_bptt_is_the_gradient_of_detached_windows(k):
    check_gradients(lstm, make_problem(lstm, 3, masked=True), {}, truncate=k)


def test_truncation_longer_than_the_sequence_is_full_bptt():
    p = make_problem(lstm, 4)
    _, _, cache = lstm.forward(p["x"], p["state"], p["params"])
    full = lstm.backward(p["dout"], p["dstate"], cache)
    trunc = lstm.backward(p["dout"], p["dstate"], cache, truncate=100)
    np.testing.assert_array_equal(full[0], trunc[0])


def test_mask_semantics():
    check_mask_semantics(lstm, {})


def test_float32_matches_float64():
    check_float32(lstm, {})


def test_recorded_state_gradients_are_dL_dH_t():
    check_dh_record(lstm, {})
