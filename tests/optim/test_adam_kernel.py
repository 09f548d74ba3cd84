"""Adam's compiled update gives bit for bit the NumPy update's numbers."""

import numpy as np
import pytest

from rnnlab import backend
from rnnlab.optim import Adam

pytestmark = pytest.mark.skipif(not backend.numba_available(), reason="numba is not installed")


def run(name, dtype, beta_1, steps=5):
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(7, 13)).astype(dtype), "b": rng.normal(size=(13,)).astype(dtype)}
    opt = Adam(lr=3e-3, beta_1=beta_1, clipnorm=1.0)
    with backend.use_backend(name):
        for _ in range(steps):
            grads = {k: rng.normal(size=p.shape).astype(dtype) for k, p in params.items()}
            opt.step(params, grads)
    return params, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta_1", [0.9, 0.3])  # both forms of torch.lerp
def test_compiled_adam_equals_numpy_adam_exactly(dtype, beta_1, monkeypatch):
    from rnnlab.kernels import optim as kernel

    calls = []
    real = kernel.adam_update
    monkeypatch.setattr(kernel, "adam_update", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    (fast, fast_opt), (ref, ref_opt) = run("numba", dtype, beta_1), run("numpy", dtype, beta_1)
    assert calls == [True] * 10, calls  # 5 steps x 2 arrays, all through the kernel
    for k in ref:
        np.testing.assert_array_equal(fast[k], ref[k], err_msg=k)
        for slot in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(fast_opt.slots[slot][k], ref_opt.slots[slot][k], err_msg=f"{slot}/{k}")


def test_falls_back_on_numpy_for_arrays_it_cannot_take():
    from rnnlab.kernels.optim import adam_update

    p = np.zeros((4, 4), np.float32)[:, ::2]  # not contiguous
    args = (p, np.ones_like(p), np.zeros_like(p), np.zeros_like(p))
    kw = dict(beta_1=0.9, beta_2=0.999, epsilon=1e-8, step_size=1e-3, bias_correction2=1e-3)
    assert adam_update(*args, **kw) is False
    assert not p.any()
    q = np.zeros(4, np.float32)
    assert adam_update(q, np.ones(4, np.float64), np.zeros(4, np.float32), np.zeros(4, np.float32), **kw) is False
