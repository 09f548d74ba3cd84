"""GRU cell math, both variants: the notes' equations step by step, BPTT by central differences."""

import numpy as np
import pytest

from rnnlab.cells import gru
from tests.cells.common import check_dh_record, check_float32, check_gradients, check_mask_semantics, make_problem


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


@pytest.mark.parametrize("reset_after", [False, True])
def test_forward_is_the_equations_step_by_step(reset_after):
    p = make_problem(gru, reset_after=reset_after)
    W, W_R, b = p["params"]["W"], p["params"]["W_R"], p["params"]["b"]
    H = W_R.shape[0]
    blocks = lambda M: [M[..., k * H : (k + 1) * H] for k in range(3)]  # noqa: E731
    (W_ir, W_iz, W_ih), (W_rr, W_rz, W_rh), (b_r, b_z, b_h) = blocks(W), blocks(W_R), blocks(b)
    (H_t,) = p["state"]
    expected = []
    for X_t in p["x"]:
        if reset_after:  # PyTorch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
            b_Rr, b_Rz, b_Rh = blocks(p["params"]["b_R"])
            R = sigmoid(X_t @ W_ir + b_r + H_t @ W_rr + b_Rr)
            Z = sigmoid(X_t @ W_iz + b_z + H_t @ W_rz + b_Rz)
            H_tilde = np.tanh(X_t @ W_ih + b_h + R * (H_t @ W_rh + b_Rh))
        else:  # the notes: H~ = tanh(X W^(IH) + (R * H_{t-1}) W^(RH) + B^(H))
            R = sigmoid(X_t @ W_ir + H_t @ W_rr + b_r)
            Z = sigmoid(X_t @ W_iz + H_t @ W_rz + b_z)
            H_tilde = np.tanh(X_t @ W_ih + (R * H_t) @ W_rh + b_h)
        H_t = Z * H_t + (1 - Z) * H_tilde
        expected.append(H_t)
    out, (h,), _ = gru.forward(p["x"], p["state"], p["params"], reset_after=reset_after)
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(h, H_t, rtol=1e-13, atol=1e-14)


def test_the_two_variants_are_different_functions():
    p = make_problem(gru)
    a, _, _ = gru.forward(p["x"], p["state"], p["params"], reset_after=False)
    b, _, _ = gru.forward(p["x"], p["state"], p["params"], reset_after=True)
    assert np.max(np.abs(a - b)) > 1e-3


OPTIONS = [{}, {"recurrent_activation": "hard_sigmoid"}, {"activation": "relu"}]


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o.values()) or "default")
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_gradients_match_central_differences(reset_after, opts, masked):
    p = make_problem(gru, 1, reset_after=reset_after, masked=masked)
    check_gradients(gru, p, {**opts, "reset_after": reset_after})


@pytest.mark.parametrize("reset_after", [False, True])
def test_gradients_without_bias_with_recurrent_dropout(reset_after):
    p = make_problem(gru, 2, reset_after=reset_after, use_bias=False, dropout=True, masked=True)
    check_gradients(gru, p, {"reset_after": reset_after})


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_truncated_bptt_is_the_gradient_of_detached_windows(reset_after, k):
    p = make_problem(gru, 3, reset_after=reset_after, masked=True)
    check_gradients(gru, p, {"reset_after": reset_after}, truncate=k)


@pytest.mark.parametrize("reset_after", [False, True])
def test_mask_semantics(reset_after):
    check_mask_semantics(gru, {"reset_after": reset_after})


def test_float32_matches_float64():
    check_float32(gru, {})


def test_recorded_state_gradients_are_dL_dH_t():
    check_dh_record(gru, {})
