"""Metrics: hand-computed values on tiny batches, masks, the per-sequence layout, errors, registry."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab import metrics
from rnnlab.metrics import accuracy, binary_accuracy, sequence_accuracy, within_tolerance


def onehot_logits(pred_ids: np.ndarray, Q: int = 3) -> np.ndarray:
    """Logits whose argmax is ``pred_ids``."""
    return np.eye(Q)[pred_ids] * 2.0 - 1.0


# Two sequences of four steps: predicted ids and true ids.
PRED = np.array([[0, 1, 2, 2], [1, 1, 0, 2]])
TRUE = np.array([[0, 1, 2, 0], [1, 1, 0, 2]])
MASK = np.array([[True, True, True, False], [True, True, False, False]])


def test_accuracy_counts_real_elements_only():
    logits = onehot_logits(PRED)
    assert accuracy(logits, TRUE) == 7 / 8
    assert accuracy(logits, TRUE, MASK) == 1.0  # the one mistake sits on a padded step
    wrong_mask = np.array([[False, False, False, True], [True, False, False, False]])
    assert accuracy(logits, TRUE, wrong_mask) == 1 / 2


def test_accuracy_takes_one_hot_targets_probabilities_and_per_sequence_outputs():
    logits = onehot_logits(PRED)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert accuracy(probs, np.eye(3)[TRUE]) == accuracy(logits, TRUE) == 7 / 8
    assert accuracy(logits[:, 3], TRUE[:, 3]) == 1 / 2  # (N, Q) per sequence
    assert accuracy(logits.astype(np.float32), TRUE, MASK) == 1.0


def test_padded_labels_may_be_out_of_range():
    labels = np.where(MASK, TRUE, -1)
    assert accuracy(onehot_logits(PRED), labels, MASK) == 1.0


def test_sequence_accuracy():
    logits = onehot_logits(PRED)
    assert sequence_accuracy(logits, TRUE) == 1 / 2  # the first sequence has one mistake
    assert sequence_accuracy(logits, TRUE, MASK) == 1.0
    # A sequence without any real element does not count.
    only_first = np.array([[True, True, True, True], [False, False, False, False]])
    assert sequence_accuracy(logits, TRUE, only_first) == 0.0
    assert sequence_accuracy(logits[:, 0], TRUE[:, 0]) == 1.0


def test_binary_accuracy_from_logits_and_probabilities():
    logits = np.array([[[2.0, -1.0], [0.5, -3.0]], [[-0.2, 0.1], [4.0, 4.0]]])  # (N=2, T=2, F=2)
    targets = np.array([[[1, 0], [0, 0]], [[0, 1], [1, 0]]])
    assert binary_accuracy(logits, targets) == 6 / 8
    probs = 1 / (1 + np.exp(-logits))
    assert binary_accuracy(probs, targets, from_logits=False) == 6 / 8
    mask = np.array([[True, False], [True, True]])
    assert binary_accuracy(logits, targets, mask) == 5 / 6
    assert binary_accuracy(logits, targets, threshold=0.9) == binary_accuracy(
        probs, targets, from_logits=False, threshold=0.9
    )
    assert binary_accuracy(logits, targets.astype(bool)) == 6 / 8


def test_within_tolerance_adding_problem_criterion():
    pred = np.array([[0.50], [1.00], [1.30], [0.20]])  # (N, 1)
    target = np.array([[0.53], [1.05], [1.30], [np.nan]])
    assert within_tolerance(pred, target, 0.04) == 2 / 4
    assert within_tolerance(pred, target, 0.04, mask=np.array([True, True, True, False])) == 2 / 3
    assert within_tolerance(pred, target, 0.1) == 3 / 4


def test_metric_errors():
    logits = onehot_logits(PRED)
    with pytest.raises(ValueError, match=r"targets\[0, 3\] = 3 .*\[0, 3\)"):
        accuracy(logits, np.where(MASK, TRUE, 3))
    with pytest.raises(ValueError, match="no real element"):
        accuracy(logits, TRUE, np.zeros_like(MASK))
    with pytest.raises(ValueError, match="at least 2 classes.*binary_accuracy"):
        accuracy(np.zeros((2, 4, 1)), np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match=r"targets must have the outputs' shape \(2, 4, 3\), got shape \(2, 4\)"):
        binary_accuracy(logits, TRUE)
    with pytest.raises(ValueError, match="threshold must lie in"):
        binary_accuracy(logits, logits, threshold=1.0)
    with pytest.raises(ValueError, match="tol must be > 0, got 0"):
        within_tolerance(np.zeros((2, 1)), np.zeros((2, 1)), 0)
    with pytest.raises(ValueError, match=r"target must have the prediction's shape \(2, 1\), got shape \(2,\)"):
        within_tolerance(np.zeros((2, 1)), np.zeros(2), 0.04)


def test_registry():
    logits = onehot_logits(PRED)
    for name in ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy"):
        assert metrics.get(name)(logits, TRUE, MASK) == 1.0
    assert metrics.get("sequence_accuracy")(logits, TRUE) == 1 / 2
    tol = metrics.get("within_tolerance", tol=0.04)
    assert tol(np.array([[0.5], [1.0]]), np.array([[0.53], [1.05]])) == 1 / 2
    assert metrics.get("binary_accuracy", from_logits=False)(np.full((1, 2), 0.7), np.ones((1, 2))) == 1.0
    assert metrics.get(tol) is tol
    with pytest.raises(ValueError, match="needs a tolerance"):
        metrics.get("within_tolerance")
    with pytest.raises(TypeError, match="does not take"):
        metrics.get("accuracy", tol=0.1)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        metrics.get("f1")
    assert "within_tolerance" in metrics.names()
