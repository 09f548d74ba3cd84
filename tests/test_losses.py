"""Losses: every (loss, gradient) pair against float64 central differences and PyTorch autograd,
with and without masks, both target forms, both output layouts; stability; error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F  # noqa: N812

from rnnlab import losses
from rnnlab.losses import mean_squared_error, sigmoid_binary_cross_entropy, softmax_cross_entropy
from tests.helpers import assert_close, numerical_grad

N, T, Q = 3, 4, 5


def assert_max_diff(name: str, ours: np.ndarray | float, ref: np.ndarray | float, tol: float) -> None:
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{name}: shape mismatch: ours={ours.shape} torch={ref.shape}"
    diff = float(np.max(np.abs(ours - ref))) if ref.size else 0.0
    assert diff < tol, f"{name}: max |ours - torch| = {diff:.3e} >= {tol:.0e} (shape {ours.shape})"


def torch_loss_and_grad(loss_of, logits: np.ndarray) -> tuple[float, np.ndarray]:
    """Run ``loss_of(torch logits)`` through autograd; return the loss and d loss / d logits."""
    o = torch.tensor(logits, requires_grad=True)
    loss = loss_of(o)
    loss.backward()
    return loss.item(), o.grad.numpy()


def make_mask(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Right padding of random lengths (at least 1), plus one hole, as the data loaders produce."""
    mask = rng.random(shape) < 0.7
    mask.reshape(-1)[0] = True
    return mask


def make_case(layout: str, form: str, masked: bool, seed: int = 0):
    """Random logits, targets in the requested form, and a mask (or None)."""
    rng = np.random.default_rng(seed)
    element_shape = (N, T) if layout == "per_element" else (N,)
    logits = rng.normal(0.0, 2.0, (*element_shape, Q))
    ids = rng.integers(0, Q, element_shape)
    mask = make_mask(element_shape, rng) if masked else None
    if mask is not None:
        ids = np.where(mask, ids, -1)  # padded elements hold -1, a label the loss must ignore
    if form == "ids":
        targets = ids
    elif form == "onehot":
        targets = np.eye(Q)[np.where(ids < 0, 0, ids)]
    else:  # soft probability rows
        targets = rng.dirichlet(np.ones(Q), element_shape)
    return logits, targets, mask


CASES = [
    (layout, form, masked)
    for layout in ("per_element", "per_sequence")
    for form in ("ids", "onehot", "probs")
    for masked in (False, True)
]


def _ids(case):
    return "-".join([case[0], case[1], "masked" if case[2] else "full"])


# ---------------------------------------------------------------------------------------------
# softmax_cross_entropy
# ---------------------------------------------------------------------------------------------


def torch_softmax_ce(o: torch.Tensor, targets: np.ndarray, mask: np.ndarray | None) -> torch.Tensor:
    o2 = o.reshape(-1, Q)
    if targets.dtype.kind == "i":  # ignore_index does the masking
        y = torch.tensor(targets.reshape(-1) if mask is None else np.where(mask, targets, -100).reshape(-1))
        return F.cross_entropy(o2, y, ignore_index=-100)
    per = F.cross_entropy(o2, torch.tensor(targets.reshape(-1, Q)), reduction="none")  # masking by hand
    m = torch.ones_like(per) if mask is None else torch.tensor(mask.reshape(-1), dtype=per.dtype)
    return (per * m).sum() / m.sum()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_softmax_cross_entropy_matches_torch_autograd(case):
    logits, targets, mask = make_case(*case)
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    ref_loss, ref_grad = torch_loss_and_grad(lambda o: torch_softmax_ce(o, targets, mask), logits)
    assert_max_diff("loss", loss, ref_loss, 1e-12)
    assert_max_diff("dlogits", dlogits, ref_grad, 1e-12)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_softmax_cross_entropy_matches_central_differences(case):
    logits, targets, mask = make_case(*case, seed=1)
    _, dlogits = softmax_cross_entropy(logits, targets, mask)
    num = numerical_grad(lambda: softmax_cross_entropy(logits, targets, mask)[0], logits)
    assert_close("dlogits", dlogits, num, 1e-7)


def test_softmax_cross_entropy_is_the_lectures_average_over_time_steps():
    """Without padding: 1/T sum_t l(Y^_t, Y_t), with l the minibatch mean cross-entropy at step t."""
    logits, targets, _ = make_case("per_element", "onehot", False)
    Y_hat = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)  # (N, T, Q)
    per_step = [-(targets[:, t] * np.log(Y_hat[:, t])).sum(axis=1).mean() for t in range(T)]
    assert softmax_cross_entropy(logits, targets)[0] == pytest.approx(np.mean(per_step), rel=1e-13)


def test_padded_elements_may_hold_any_label_and_get_zero_gradient():
    logits, ids, mask = make_case("per_element", "ids", True)
    loss_a, d_a = softmax_cross_entropy(logits, np.where(mask, ids, 0), mask)
    loss_b, d_b = softmax_cross_entropy(logits, np.where(mask, ids, 99), mask)
    assert loss_a == loss_b
    np.testing.assert_array_equal(d_a, d_b)
    assert not d_a[~mask].any(), "padded elements must get a zero gradient"
    # And the loss is the plain mean over the real elements alone.
    real_loss, _ = softmax_cross_entropy(logits[mask], ids[mask])
    assert loss_a == pytest.approx(real_loss, rel=1e-13)


def test_all_true_mask_equals_no_mask():
    logits, ids, _ = make_case("per_element", "ids", False)
    a = softmax_cross_entropy(logits, ids)
    b = softmax_cross_entropy(logits, ids, np.ones((N, T), bool))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    rng = np.random.default_rng(3)
    logits = rng.normal(0.0, 1.0, (N, T, Q)) * 1e4
    ids = rng.integers(0, Q, (N, T))
    loss, dlogits = softmax_cross_entropy(logits, ids)
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    ref_loss, ref_grad = torch_loss_and_grad(
        lambda o: F.cross_entropy(o.reshape(-1, Q), torch.tensor(ids.ravel())), logits
    )
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_max_diff("dlogits", dlogits, ref_grad, 1e-12)


def test_float32_in_float32_out():
    logits, ids, mask = make_case("per_element", "ids", True)
    loss32, d32 = softmax_cross_entropy(logits.astype(np.float32), ids, mask)
    loss64, d64 = softmax_cross_entropy(logits, ids, mask)
    assert d32.dtype == np.float32 and isinstance(loss32, float)
    assert loss32 == pytest.approx(loss64, rel=1e-6)
    assert_max_diff("dlogits float32 vs float64", d32.astype(np.float64), d64, 1e-7)
    _, d32_onehot = softmax_cross_entropy(logits.astype(np.float32), np.eye(Q)[np.maximum(ids, 0)], mask)
    assert d32_onehot.dtype == np.float32


def test_inputs_are_not_modified():
    logits, ids, mask = make_case("per_element", "ids", True)
    before = logits.copy(), ids.copy(), mask.copy()
    softmax_cross_entropy(logits, ids, mask)
    for a, b in zip((logits, ids, mask), before, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 4),
    t=st.integers(1, 5),
    q=st.integers(2, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_softmax_cross_entropy_random_shapes_and_masks_match_torch(n, t, q, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, (n, t, q))
    mask = rng.random((n, t)) < 0.6
    mask[rng.integers(n), rng.integers(t)] = True
    ids = np.where(mask, rng.integers(0, q, (n, t)), -1)
    loss, dlogits = softmax_cross_entropy(logits, ids, mask)
    y = torch.tensor(np.where(mask, ids, -100).ravel())
    ref_loss, ref_grad = torch_loss_and_grad(lambda o: F.cross_entropy(o.reshape(-1, q), y, ignore_index=-100), logits)
    assert_max_diff("loss", loss, ref_loss, 1e-12)
    assert_max_diff("dlogits", dlogits, ref_grad, 1e-12)


def _ce_error_cases():
    o = np.zeros((2, 3, 4))
    ids = np.zeros((2, 3), np.int64)
    mask = np.ones((2, 3), bool)
    bad_id = ids.copy()
    bad_id[1, 2] = 4
    negative = ids.copy()
    negative[0, 1] = -1
    nan_logits = o.copy()
    nan_logits[1, 0, 2] = np.nan
    inf_logits = o.copy()
    inf_logits[0, 0, 0] = np.inf
    return [
        ("label 4 with Q=4", dict(logits=o, targets=bad_id), r"targets\[1, 2\] = 4 .*\[0, 4\)"),
        ("negative label", dict(logits=o, targets=negative), r"targets\[0, 1\] = -1 .*\[0, 4\)"),
        ("ids shape", dict(logits=o, targets=ids[:, :2]), r"shape \(2, 3\).*got shape \(2, 2\)"),
        ("one-hot shape", dict(logits=o, targets=np.zeros((2, 3, 5))), r"\(2, 3, 4\), got shape \(2, 3, 5\)"),
        ("float ids", dict(logits=o, targets=ids.astype(float)), r"look like class ids.*astype"),
        ("negative prob", dict(logits=o, targets=-np.ones((2, 3, 4))), r"non-negative"),
        ("logits ndim", dict(logits=np.zeros(4), targets=np.zeros((), np.int64)), r"\(N, T, Q\).*got shape \(4,\)"),
        ("NaN logits", dict(logits=nan_logits, targets=ids), r"finite.*element \(1, 0\)"),
        ("inf logits", dict(logits=inf_logits, targets=ids), r"finite.*element \(0, 0\)"),
        ("empty mask", dict(logits=o, targets=ids, mask=~mask), r"no real element"),
        ("mask shape", dict(logits=o, targets=ids, mask=mask[:, :2]), r"mask must have shape \(2, 3\).*\(2, 2\)"),
        ("mask values", dict(logits=o, targets=ids, mask=np.full((2, 3), 2)), r"mask must be boolean"),
        ("empty batch", dict(logits=np.zeros((0, 3, 4)), targets=np.zeros((0, 3), np.int64)), r"no element"),
    ]


@pytest.mark.parametrize(("what", "kwargs", "match"), _ce_error_cases(), ids=[c[0] for c in _ce_error_cases()])
def test_softmax_cross_entropy_errors_name_expected_and_received(what, kwargs, match):
    with pytest.raises(ValueError, match=match):
        softmax_cross_entropy(**kwargs)


def test_wrong_dtypes_are_type_errors():
    with pytest.raises(TypeError, match="floating-point"):
        softmax_cross_entropy(np.zeros((2, 3), np.int64), np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="class ids or float"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array(["a", "b"]))


def test_non_finite_logits_at_padded_elements_are_ignored():
    logits, ids, mask = make_case("per_element", "ids", True)
    dirty = logits.copy()
    dirty[~mask] = np.nan
    a = softmax_cross_entropy(logits, ids, mask)
    b = softmax_cross_entropy(dirty, ids, mask)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


# ---------------------------------------------------------------------------------------------
# sigmoid_binary_cross_entropy
# ---------------------------------------------------------------------------------------------

BCE_CASES = [
    (layout, reduction, masked)
    for layout in ("per_element", "per_sequence")
    for reduction in ("mean", "sum_over_features")
    for masked in (False, True)
]


def make_bce_case(layout: str, masked: bool, seed: int = 0, F_: int = 6):
    rng = np.random.default_rng(seed)
    element_shape = (N, T) if layout == "per_element" else (N,)
    logits = rng.normal(0.0, 2.0, (*element_shape, F_))
    targets = rng.random((*element_shape, F_))
    targets[..., :2] = targets[..., :2] > 0.5  # some hard 0/1 targets, some soft ones
    mask = make_mask(element_shape, rng) if masked else None
    return logits, targets, mask


def torch_bce(o: torch.Tensor, targets: np.ndarray, mask: np.ndarray | None, reduction: str) -> torch.Tensor:
    per = F.binary_cross_entropy_with_logits(o, torch.tensor(targets), reduction="none")  # (..., F)
    per_element = per.sum(-1) if reduction == "sum_over_features" else per.mean(-1)
    m = torch.ones_like(per_element) if mask is None else torch.tensor(mask, dtype=per.dtype)
    return (per_element * m).sum() / m.sum()


@pytest.mark.parametrize("case", BCE_CASES, ids=lambda c: "-".join([c[0], c[1], "masked" if c[2] else "full"]))
def test_sigmoid_bce_matches_torch_and_central_differences(case):
    layout, reduction, masked = case
    logits, targets, mask = make_bce_case(layout, masked)
    loss, dlogits = sigmoid_binary_cross_entropy(logits, targets, mask, reduction=reduction)
    ref_loss, ref_grad = torch_loss_and_grad(lambda o: torch_bce(o, targets, mask, reduction), logits)
    assert_max_diff("loss", loss, ref_loss, 1e-12)
    assert_max_diff("dlogits", dlogits, ref_grad, 1e-12)
    num = numerical_grad(lambda: sigmoid_binary_cross_entropy(logits, targets, mask, reduction)[0], logits)
    assert_close("dlogits (central differences)", dlogits, num, 1e-7)


def test_sigmoid_bce_sum_over_features_is_the_mean_times_F():
    logits, targets, mask = make_bce_case("per_element", True, F_=88)
    mean, d_mean = sigmoid_binary_cross_entropy(logits, targets, mask)
    per_step, d_step = sigmoid_binary_cross_entropy(logits, targets, mask, reduction="sum_over_features")
    assert per_step == pytest.approx(88 * mean, rel=1e-13)
    np.testing.assert_allclose(d_step, 88 * d_mean, rtol=1e-13)


def test_sigmoid_bce_is_stable_for_huge_logits():
    logits = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]])
    targets = np.array([[0.0, 1.0, 0.5, 0.0, 1.0]])
    loss, dlogits = sigmoid_binary_cross_entropy(logits, targets)
    ref_loss, ref_grad = torch_loss_and_grad(
        lambda o: F.binary_cross_entropy_with_logits(o, torch.tensor(targets)), logits
    )
    assert np.isfinite(loss) and loss == pytest.approx(ref_loss, rel=1e-12)
    assert_max_diff("dlogits", dlogits, ref_grad, 1e-15)


def test_sigmoid_bce_accepts_bool_targets_and_ignores_padded_garbage():
    logits, targets, mask = make_bce_case("per_element", True)
    hard = targets > 0.5
    a = sigmoid_binary_cross_entropy(logits, hard, mask)
    dirty = hard.astype(np.float64)
    dirty[~mask] = np.nan
    b = sigmoid_binary_cross_entropy(logits, dirty, mask)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    assert not a[1][~mask].any()
    loss32, d32 = sigmoid_binary_cross_entropy(logits.astype(np.float32), hard, mask)
    assert d32.dtype == np.float32 and loss32 == pytest.approx(a[0], rel=1e-6)


def test_sigmoid_bce_errors():
    o = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"\[0, 1\].*e\.g\. 1\.5"):
        sigmoid_binary_cross_entropy(o, np.full((2, 3, 4), 1.5))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\), got shape \(2, 3\)"):
        sigmoid_binary_cross_entropy(o, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum_over_features', got 'sum'"):
        sigmoid_binary_cross_entropy(o, np.zeros_like(o), reduction="sum")
    with pytest.raises(ValueError, match="no real element"):
        sigmoid_binary_cross_entropy(o, np.zeros_like(o), np.zeros((2, 3), bool))


# ---------------------------------------------------------------------------------------------
# mean_squared_error
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["per_element", "per_sequence"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_mse_matches_torch_and_central_differences(layout, masked):
    rng = np.random.default_rng(5)
    element_shape = (N, T) if layout == "per_element" else (N,)
    pred = rng.normal(size=(*element_shape, 2))
    target = rng.normal(size=(*element_shape, 2))
    mask = make_mask(element_shape, rng) if masked else None

    def torch_mse(o):
        per = F.mse_loss(o, torch.tensor(target), reduction="none").mean(-1)
        m = torch.ones_like(per) if mask is None else torch.tensor(mask, dtype=per.dtype)
        return (per * m).sum() / m.sum()

    loss, dpred = mean_squared_error(pred, target, mask)
    ref_loss, ref_grad = torch_loss_and_grad(torch_mse, pred)
    assert_max_diff("loss", loss, ref_loss, 1e-12)
    assert_max_diff("dpred", dpred, ref_grad, 1e-12)
    num = numerical_grad(lambda: mean_squared_error(pred, target, mask)[0], pred)
    assert_close("dpred (central differences)", dpred, num, 1e-7)
    if mask is None:
        assert loss == pytest.approx(F.mse_loss(torch.tensor(pred), torch.tensor(target)).item(), rel=1e-13)


def test_mse_ignores_padded_targets_and_validates():
    pred = np.ones((2, 3, 1))
    target = np.zeros((2, 3, 1))
    mask = np.array([[True, True, False], [True, False, False]])
    target[~mask] = np.nan
    loss, dpred = mean_squared_error(pred, target, mask)
    assert loss == 1.0
    assert not dpred[~mask].any()
    with pytest.raises(ValueError, match="target must be finite"):
        mean_squared_error(pred, np.full_like(pred, np.inf))
    with pytest.raises(ValueError, match=r"\(N, T, D\).*\(N, D\).*got shape \(2,\)"):
        mean_squared_error(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"target must have the outputs' shape \(2, 3, 1\), got shape \(2, 3\)"):
        mean_squared_error(pred, np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_keras_cross_entropy_names_accept_both_target_forms(name):
    loss = losses.get(name)
    logits, ids, mask = make_case("per_element", "ids", True)
    onehot = np.eye(Q)[np.maximum(ids, 0)]
    a, b = loss(logits, ids, mask), loss(logits, onehot, mask)
    assert a[0] == pytest.approx(b[0], rel=1e-14)
    np.testing.assert_allclose(a[1], b[1], atol=1e-16)


def test_registry_maps_names_to_functions():
    assert losses.get("binary_crossentropy").fn is sigmoid_binary_cross_entropy
    assert losses.get("mse").fn is mean_squared_error
    assert losses.get("softmax_cross_entropy").fn is softmax_cross_entropy
    assert losses.get(losses.get("mse")).name == "mse"
    assert set(losses.names()) >= {
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "binary_crossentropy",
        "mse",
    }
    with pytest.raises(ValueError, match="unknown loss 'hinge'; expected one of .*binary_crossentropy"):
        losses.get("hinge")
    with pytest.raises(TypeError, match="loss must be a string"):
        losses.get(3)
