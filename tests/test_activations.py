"""Activations: values, derivatives written from the output, lookup errors."""

import numpy as np
import pytest

from rnnlab import activations
from tests.helpers import numerical_grad


def test_hard_sigmoid_is_the_keras2_onnx_one():
    a = np.array([-10.0, -2.5, -1.0, 0.0, 1.0, 2.5, 10.0])
    np.testing.assert_allclose(activations.get("hard_sigmoid")(a), np.clip(0.2 * a + 0.5, 0, 1))


def test_sigmoid_is_stable_and_exact():
    a = np.array([-800.0, -5.0, 0.0, 5.0, 800.0])
    y = activations.get("sigmoid")(a)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y[1:4], 1 / (1 + np.exp(-a[1:4])), rtol=1e-14)


@pytest.mark.parametrize("name", activations.names())
def test_derivative_from_output_matches_central_differences(name):
    act = activations.get(name)
    a = np.array([-3.1, -0.7, -0.2, 0.3, 0.9, 2.2, 4.0])  # away from kinks
    y = act(a)
    for i in range(a.size):

        def f(i=i):
            return float(act(a)[i])

        num = numerical_grad(f, a)[i]
        assert abs(act.grad(y)[i] - num) < 1e-7, f"{name}: f'({a[i]}) = {act.grad(y)[i]} vs {num}"


def test_in_place_forward_writes_the_buffer():
    a = np.linspace(-2, 2, 5)
    out = np.empty_like(a)
    assert activations.get("tanh")(a, out=out) is out
    np.testing.assert_allclose(out, np.tanh(a))


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*hard_sigmoid"):
        activations.get("swish")
    with pytest.raises(TypeError, match="must be a string"):
        activations.get(3)
