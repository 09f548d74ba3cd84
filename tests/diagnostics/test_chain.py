"""The fourth note's chain: the explorer against the direct formula and float64 central differences."""

import numpy as np
import pytest

from rnnlab.diagnostics import chain, chain_output, chain_sweep

SIGMA = {
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "relu": (lambda z: max(z, 0.0), lambda z: float(z > 0)),
}


def direct(activation, w, b, a0):
    """[prod_{l=2}^{L} sigma'(z_l) w_l] sigma'(z_1) a_0, written out with its own forward loop."""
    sigma, dsigma = SIGMA[activation]
    a, zs = a0, []
    for wl, bl in zip(w, b, strict=True):
        z = wl * a + bl
        zs.append(z)
        a = sigma(z)
    out = dsigma(zs[0]) * a0
    for l in range(1, len(w)):
        out *= dsigma(zs[l]) * w[l]
    return out


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_every_depth_equals_the_direct_formula_and_central_differences(activation):
    rng = np.random.default_rng(0)
    L = 8
    w = rng.uniform(0.5, 2.0, L) * rng.choice([-1, 1], L) if activation != "relu" else rng.uniform(0.6, 1.8, L)
    b = rng.normal(0, 0.3, L) if activation != "relu" else rng.uniform(0.1, 0.5, L)  # keep ReLU's z > 0
    a0 = 0.7
    c = chain(activation, w, b, a0)
    assert c.depth == L and c.a.shape == (L + 1,) and c.z.shape == (L,)
    for depth in range(1, L + 1):
        formula = direct(activation, w[:depth], b[:depth], a0)
        assert c.grad[depth - 1] == pytest.approx(formula, rel=1e-12), f"{activation} depth {depth}"
        eps = 1e-6
        up, down = w[:depth].copy(), w[:depth].copy()
        up[0] += eps
        down[0] -= eps
        f_up, f_down = chain_output(activation, up, b[:depth], a0), chain_output(activation, down, b[:depth], a0)
        numeric = (f_up - f_down) / (2 * eps)
        assert c.grad[depth - 1] == pytest.approx(numeric, rel=1e-6, abs=1e-12), f"{activation} depth {depth}"
    assert c.a[-1] == pytest.approx(chain_output(activation, w, b, a0), rel=1e-14)


def test_known_products():
    # ReLU with w > 0, b = 0, a0 = 1: every factor is w, so da_L/dw_1 = w^(L-1).
    np.testing.assert_allclose(chain("relu", 2.0, depth=10).grad, 2.0 ** np.arange(10))
    np.testing.assert_allclose(chain("relu", 1.0, depth=10).grad, np.ones(10))
    assert np.all(chain("relu", -1.0, depth=5).grad[1:] == 0)  # z_1 < 0 cuts the chain
    # sigmoid' <= 1/4: with |w| <= 1 the product is at most 4^-L.
    g = chain("sigmoid", 1.0, depth=20).grad
    assert np.all(np.abs(g) <= 0.25 ** np.arange(1, 21) + 1e-300)
    # tanh with w = 1, b = 0 decays slowly (the activations shrink toward tanh' = 1) ...
    slow = chain("tanh", 1.0, depth=30).grad[-1]
    # ... while a large weight saturates tanh and vanishes geometrically.
    fast = chain("tanh", 8.0, depth=30).grad[-1]
    assert 1e-3 < abs(slow) < 1 and abs(fast) < 1e-30


def test_sweep_shapes_and_json():
    sweep = chain_sweep(weights=(0.5, 1.0, 2.0), depth=12)
    assert sweep.activations == ("sigmoid", "tanh", "relu")
    for act in sweep.activations:
        assert sweep.grads[act].shape == (3, 12)
    np.testing.assert_allclose(sweep.grads["relu"][2], 2.0 ** np.arange(12))
    d = sweep.to_dict()
    assert d["at_depth"]["relu"]["2"] == pytest.approx(2.0**11)
    assert d["depth"] == 12


def test_errors():
    with pytest.raises(ValueError, match="activation must be one of"):
        chain("gelu", 1.0, depth=3)
    with pytest.raises(ValueError, match="give depth"):
        chain("tanh", 1.0)
    with pytest.raises(ValueError, match="has 2 values but depth is 3"):
        chain("tanh", [1.0, 2.0], depth=3)
    with pytest.raises(ValueError, match="depth must be"):
        chain_sweep(depth=0)
    with pytest.raises(ValueError, match="weights must be"):
        chain_sweep(weights=[])
