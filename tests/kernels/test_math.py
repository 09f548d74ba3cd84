"""``rnnlab.kernels._math``: the compiled activations against ``rnnlab.activations``."""

import re

import numpy as np
import pytest
from numba import njit

from rnnlab import activations
from rnnlab.kernels import _math


@njit(cache=True)
def _forward_all(code, a):
    out = np.empty_like(a)
    _math.act_to(code, a, out)
    return out


@njit(cache=True)
def _grad_all(code, y):
    out = np.empty_like(y)
    for j in range(y.shape[0]):
        out[j] = _math.dact(code, y[j])
    return out


def _inputs(dtype):
    grid = np.linspace(-30.0, 30.0, 200_001)
    special = [0.0, -0.0, 0.625, -0.625, 1e-8, -1e-8, 2.5, -2.5, 5.0, -5.0, 9.0, 20.0, 1e30, -1e30]
    return np.concatenate([grid, np.geomspace(1e-9, 1.0, 20_001), special]).astype(dtype)


def test_tanh_float64_within_2_ulp_of_numpy():
    a = _inputs(np.float64)
    ours, ref = _forward_all(_math.TANH, a), np.tanh(a)
    ulp = np.abs(ours - ref) / np.spacing(np.abs(ref))
    assert ulp.max() <= 2.0, f"tanh float64: {ulp.max():.2f} ulp at a={a[ulp.argmax()]!r}"


def test_tanh_float32_within_1_5_ulp_of_exact():
    a = _inputs(np.float32)
    ours, exact = _forward_all(_math.TANH, a).astype(np.float64), np.tanh(a.astype(np.float64))
    ulp = np.abs(ours - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert ulp.max() <= 1.5, f"tanh float32: {ulp.max():.2f} ulp at a={a[ulp.argmax()]!r}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", activations.names())
def test_activation_matches_reference(name, dtype):
    a = _inputs(dtype)
    fn = activations.get(name)
    ref = fn(a.copy())
    ours = _forward_all(_math.CODES[name], a)
    assert ours.dtype == ref.dtype
    tol = {np.float64: 4e-16, np.float32: 2.4e-7}[dtype]  # about 2 ulp of the largest value 1
    scale = np.maximum(np.abs(ref), 1.0) if name in ("relu", "linear") else 1.0
    err = np.abs(ours.astype(np.float64) - ref.astype(np.float64)) / scale
    assert err.max() <= tol, f"{name} {np.dtype(dtype)}: error {err.max():.2e} at a={a[err.argmax()]!r}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", activations.names())
def test_derivative_matches_reference_exactly(name, dtype):
    fn = activations.get(name)
    y = fn(_inputs(dtype))
    np.testing.assert_array_equal(_grad_all(_math.CODES[name], y), fn.grad(y), err_msg=f"d{name} {np.dtype(dtype)}")


def test_activation_code_validates_like_the_reference():
    assert _math.activation_code("hard_sigmoid") == _math.HARD_SIGMOID
    with pytest.raises(ValueError, match="unknown recurrent_activation 'swish'"):
        _math.activation_code("swish", "recurrent_activation")


NO_CACHE = dict(_math.JIT, cache=False)  # inspect_asm sees nothing in code loaded from the disk cache


@njit(**NO_CACHE)
def _sigmoid_rows(a, out):
    for j in range(a.shape[0]):
        out[j] = _math.sigmoid(a[j])


@njit(**NO_CACHE)
def _sigmoid_rows_wide(a, out):
    _math.wide_vectors()
    for j in range(a.shape[0]):
        out[j] = _math.sigmoid(a[j])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_wide_vectors_give_the_same_numbers_in_512_bit_registers(dtype):
    """``wide_vectors`` changes the vector width, not the arithmetic: the same bits, element by element;
    on a CPU with AVX-512 the loop then uses its 512-bit registers."""
    from llvmlite import binding

    a = np.random.default_rng(3).standard_normal(1031).astype(dtype) * 6
    narrow, wide = np.empty_like(a), np.empty_like(a)
    _sigmoid_rows(a, narrow)
    _sigmoid_rows_wide(a, wide)
    assert np.array_equal(narrow, wide)
    if binding.get_host_cpu_features().get("avx512f"):
        assembly = _sigmoid_rows_wide.inspect_asm(_sigmoid_rows_wide.signatures[0])
        zmm, ymm = assembly.count("zmm"), assembly.count("ymm")
        assert zmm > ymm, f"the loop was not compiled for 512-bit registers: {zmm} zmm, {ymm} ymm operands"


def _own_body(fn) -> str:
    """The LLVM IR of ``fn``'s own compiled function (callees excluded)."""
    signature = fn.signatures[0]
    name = fn.overloads[signature].fndesc.llvm_func_name
    found = re.search(r"define[^\n]*@" + re.escape(name) + r"\(.*?\n}\n", fn.inspect_llvm(signature), re.S)
    assert found, f"no definition of {name} in the IR"
    return found.group(0)


@njit(**NO_CACHE)
def _rows_sliced(a, mask, code, out):  # the cells' loop shape: a row view per row, a switch, a skip
    for t in range(a.shape[0]):
        out_t = out[t]
        for n in range(a.shape[1]):
            dst = out_t[n]
            if not mask[t, n]:
                dst[:] = 0.0
                continue
            _math.act_to(code, a[t, n], dst)


@njit(**NO_CACHE)
def _rows_borrowed(a, mask, code, out):
    for t in range(a.shape[0]):
        out_t = _math.borrow(out, t)
        for n in range(a.shape[1]):
            dst = _math.borrow(out_t, n)
            if not mask[t, n]:
                dst[:] = 0.0
                continue
            _math.act_to(code, _math.borrow(_math.borrow(a, t), n), dst)


@njit(**NO_CACHE)
def _bias_rows(a, b, out):  # slices of an unowned vector, row by row
    b = _math.unowned(b)
    H = a.shape[1] // 2
    for n in range(a.shape[0]):
        row, o = _math.borrow(a, n), _math.borrow(out, n)
        _math.act_bias_add_to(_math.TANH, row[:H], b[:H], row[H:], o[:H])
        _math.act_bias_add_to(_math.SIGMOID, row[H:], b[H:], row[:H], o[H:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_borrowed_rows_are_the_rows_without_reference_counting(dtype):
    """``borrow(a, i)`` is ``a[i]`` (for 2-D and 3-D arrays, nested, and sliced further), and the loop
    built on it updates no reference count, where the same loop on ``a[t, n]`` does."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((7, 5, 33)).astype(dtype)
    mask = rng.random((7, 5)) > 0.3
    sliced, borrowed = np.empty_like(a), np.empty_like(a)
    for code in (_math.TANH, _math.SIGMOID):
        _rows_sliced(a, mask, code, sliced)
        _rows_borrowed(a, mask, code, borrowed)
        assert np.array_equal(sliced, borrowed)
    assert np.array_equal(borrowed[~mask], np.zeros_like(borrowed[~mask]))
    counted = _own_body(_rows_sliced).count("NRT_incref")
    assert _own_body(_rows_borrowed).count("NRT_incref") == 0, f"borrowed views are counted (slices: {counted})"
    assert _own_body(_rows_borrowed).count("NRT_decref") == 0

    b = rng.standard_normal(66).astype(dtype)
    x = rng.standard_normal((5, 66)).astype(dtype)
    out = np.empty_like(x)
    _bias_rows(x, b, out)
    expected = np.concatenate(
        [np.tanh((x[:, :33] + b[:33]) + x[:, 33:]), 1 / (1 + np.exp(-((x[:, 33:] + b[33:]) + x[:, :33])))], axis=1
    )
    np.testing.assert_allclose(out, expected, rtol=4e-6 if dtype == np.float32 else 1e-14)
    assert _own_body(_bias_rows).count("NRT_incref") == 0


@njit(**NO_CACHE)
def _scaled_unaliased(a, s, out):
    _math.unaliased_arguments()
    for j in range(a.shape[0]):
        out[j] = a[j] * s[j]


def test_unaliased_arguments_mark_every_array_noalias():
    """``unaliased_arguments`` declares the function's array arguments ``noalias`` to LLVM and
    changes no number."""
    a, s = np.arange(9.0), np.linspace(0, 1, 9)
    out = np.empty(9)
    _scaled_unaliased(a, s, out)
    assert np.array_equal(out, a * s)
    header = _own_body(_scaled_unaliased).split("\n", 1)[0]
    for name in ("a", "s", "out"):  # field 4 of Numba's array argument is the data pointer
        assert re.search(r"ptr noalias[^%,]*%arg\." + name + r"\.4\b", header), f"{name}'s data is not noalias"
