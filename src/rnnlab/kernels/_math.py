"""Scalar and row-wise math for the compiled kernels: the activations by integer code.

Numba has no vectorised ``tanh`` without Intel's SVML (its scalar libm call costs about 14 ns per
element here, 50x NumPy's), so ``tanh`` is written out in plain arithmetic that LLVM vectorises:
Cephes' rational/polynomial forms evaluated with explicit FMAs, one division per element, about
0.85 ns per float32 element. The float64 version is within 2 ulp of NumPy's ``np.tanh``, the
float32 version within 1.5 ulp of the exact value. ``sigmoid`` is the reference's
``0.5 (1 + tanh(a / 2))`` with its last two roundings fused into one FMA. Everything else follows
the reference (``rnnlab.activations``) operation by operation, with constants of the array's own
dtype, so float32 results round like NumPy's float32 ufuncs.

The kernels are compiled with ``fastmath=False``: LLVM may not reorder or contract anything. The
FMAs above are explicit operations (an intrinsic), used only inside the activation functions.
``error_model="numpy"`` drops Python's zero-division check, whose branch stops vectorisation.

Shapes: rows are ``(H,)`` or ``(G*H,)``, ``H`` units and ``G`` gate blocks, one row per sequence.

Each row helper puts its ``if code == ...`` outside the loop over the row, so every loop body is
branch-free and vectorises, and is inlined into its caller (a call per row costs up to a third of
the elementwise time at ``H = 64``). Rows are 1-D views of length ``H`` (or ``G*H``); in-place helpers take
one array, never two views of the same memory (LLVM would fall back to scalar code on overlap).

Three intrinsics shape the compiled loops rather than the numbers: ``wide_vectors`` (512-bit
registers), ``unaliased_arguments`` (C's ``restrict`` for a function's arrays: LLVM ran the scalar
copies of the LSTM's and GRU's gate-gradient loops without it) and ``borrow``/``unowned`` (row views
without reference counting: Numba's locked count updates on every row view were up to an eighth of
the RNN's time at ``T = 1000``).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

from rnnlab import activations

TANH, SIGMOID, HARD_SIGMOID, RELU, LINEAR = 0, 1, 2, 3, 4
CODES = {"tanh": TANH, "sigmoid": SIGMOID, "hard_sigmoid": HARD_SIGMOID, "relu": RELU, "linear": LINEAR}

JIT = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)  # error_model: no zero-division branch


def activation_code(name: str | activations.Activation, argument: str = "activation") -> int:
    """The kernel's integer code for an activation name (validated like the reference does)."""
    return CODES[activations.get(name, argument=argument).name]


# ---------------------------------------------------------------------------------------------
# typed constants and tanh, chosen by the scalar type at compile time
# ---------------------------------------------------------------------------------------------


# The LLVM function attribute that lets the loop vectoriser use 512-bit registers where the CPU has
# them (AVX-512). LLVM's tuning for Intel server cores prefers 256-bit vectors by default ("prefer-256-bit")
# and Numba can only change that for the whole process (NUMBA_CPU_FEATURES); ``wide_vectors`` sets it
# for one compiled function. The arithmetic is the same element by element, so results are identical.
_WIDE = '"prefer-vector-width"="512"'


@intrinsic
def wide_vectors(typingctx):
    """Call first in a compiled function: its loops may use 512-bit vectors (``_WIDE``).

    Measured here (float32 sigmoid over 4096 elements in L1): 0.73 ns per element with LLVM's default
    256-bit vectors, 0.51 ns with 512-bit ones. A CPU without AVX-512 keeps its widest vectors.
    """

    def codegen(context, builder, signature, args):
        try:  # llvmlite's function attributes are a set of names; this one is a key-value string
            set.add(builder.function.attributes, _WIDE)
        except TypeError:  # pragma: no cover - another llvmlite: keep LLVM's default width
            pass
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def unaliased_arguments(typingctx):
    """Call first in a compiled function none of whose arrays shares memory with another argument that
    the function writes: LLVM may then assume it (C's ``restrict``: ``noalias`` on every pointer
    argument) and vectorise loops without run-time overlap checks.

    Without it LLVM compiled the LSTM's gate-gradient loop twice and ran the scalar copy (seen in a
    profile of the running kernel). Measured here, float32: that loop alone at (N, H) = (8, 128) per
    step, 2.2 ns per unit without ``noalias``, 0.94 ns with it; one part's LSTM backward at
    (T, N, D, H) = (1000, 8, 1, 128), 22.8-24.0 ms before, 18.5-19.1 ms after.

    The caller's contract: the arrays the function writes are its own (allocated by the kernel, or
    fresh copies); arrays it only reads may share memory with each other.
    """

    def codegen(context, builder, signature, args):
        for argument in builder.function.args:
            if isinstance(argument.type, ir.PointerType) and argument.name.startswith("arg."):
                argument.add_attribute("noalias")
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def borrow(typingctx, a, i):
    """``a[i]`` for a C-contiguous array of 2 or more dimensions and ``0 <= i < len(a)``, as a view
    that holds no reference: no atomic reference-count update when it is made and dropped.

    Numba counts references to every view (``NRT_incref``/``NRT_decref``, locked instructions) and
    could not prune the pairs inside the cells' time loops, where they cost once per row and step.
    Counted with a debugger for one training step at (T, N, D, H) = (10, 4, 3, 8): 1111 updates
    before row views were borrowed, 351 after (RNN); LSTM 810 and 491; GRU 1642 and 362; what is
    left is per step, not per row. Use it only where ``a`` outlives the view (a loop over rows of an
    array the function holds), never for a view that is returned or kept.
    """
    if not (isinstance(a, types.Array) and a.layout == "C" and a.ndim >= 2 and isinstance(i, types.Integer)):
        return None
    view = a.copy(ndim=a.ndim - 1, layout="C")

    def codegen(context, builder, signature, args):
        array = make_array(signature.args[0])(context, builder, args[0])
        shape = cgutils.unpack_tuple(builder, array.shape)
        strides = cgutils.unpack_tuple(builder, array.strides)
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        start = builder.gep(builder.bitcast(array.data, ir.IntType(8).as_pointer()), [builder.mul(index, strides[0])])
        out = make_array(view)(context, builder)
        populate_array(out, data=builder.bitcast(start, array.data.type), shape=shape[1:], strides=strides[1:],
                       itemsize=array.itemsize, meminfo=None, parent=None)
        return out._getvalue()

    return view(a, i), codegen


@intrinsic
def unowned(typingctx, a):
    """``a`` itself, as an array that holds no reference (see ``borrow``): its slices update no
    reference count either. For an argument sliced inside a loop, such as a bias vector."""
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, signature, args):
        array = make_array(a)(context, builder, args[0])
        array.meminfo = context.get_constant_null(types.MemInfoPointer(a.dtype))
        array.parent = context.get_constant_null(types.pyobject)
        return array._getvalue()

    return a(a), codegen


def like(x, value):  # pragma: no cover - replaced by the overload inside compiled code
    """``value`` as a constant of the float type of ``x`` (a scalar or an array), so float32 math
    stays float32."""
    return np.asarray(x).dtype.type(value)


@overload(like, jit_options=dict(fastmath=False, error_model="numpy"), inline="always")
def _like(x, value):
    if isinstance(x, types.Array):
        x = x.dtype
    if x == types.float32:
        return lambda x, value: np.float32(value)
    return lambda x, value: np.float64(value)


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (the hardware FMA): an explicit operation, not a fast-math licence."""
    if not (a == b == c and isinstance(a, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


def tanh(x):  # pragma: no cover - replaced by the overload inside compiled code
    """``tanh(x)`` in branch-free arithmetic (float32 and float64 versions)."""
    return np.tanh(x)


def _tanh64(x):
    # |x| < 0.625: x + x z P(z) / Q(z), z = x^2 (Cephes tanh.c).
    # otherwise:   sign(x) (1 - 2 / (e^{2|x|} + 1)), e^y = 2^k (Q + P) / (Q - P) (Cephes exp.c),
    # both written as base + num / den so that only one division is needed.
    ax = abs(x)
    z = x * x
    p = fma(fma(-9.64399179425052238628e-1, z, -9.92877231001918586564e1), z, -1.61468768441708447952e3) * z * x
    q = fma(fma(z + 1.12811678491632931402e2, z, 2.23548839060100448583e3), z, 4.84406305325125486048e3)
    y = 2.0 * min(ax, 20.0)  # tanh(20) == 1.0 in float64
    k = int(fma(y, 1.4426950408889634073599, 0.5))
    fk = float(k)
    r = fma(fk, -1.42860682030941723212e-6, fma(fk, -6.93145751953125e-1, y))  # y - k ln 2, |r| <= ln2 / 2
    rr = r * r
    px = r * fma(fma(1.26177193074810590878e-4, rr, 3.02994407707441961300e-2), rr, 9.99999999999999999910e-1)
    qx = fma(fma(fma(3.00198505138664455042e-6, rr, 2.52448340349684104192e-3), rr, 2.27265548208155028766e-1), rr, 2.0)
    dq = qx - px
    den = fma(qx + px, float(1 << k), dq)  # (e^y + 1) (Q - P)
    s = 1.0 if x >= 0.0 else -1.0
    small = ax < 0.625
    base = x if small else s
    num = p if small else -2.0 * s * dq
    return base + num / (q if small else den)


_F = np.float32
_T_SMALL, _T_MAX, _ONE, _TWO, _HALF = _F(0.625), _F(9.0), _F(1.0), _F(2.0), _F(0.5)
_LOG2E, _LN2_HI, _LN2_LO = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_E0, _E1, _E2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_E3, _E4, _E5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_P0, _P1, _P2 = _F(-5.70498872745e-3), _F(2.06390887954e-2), _F(-5.37397155531e-2)
_P3, _P4 = _F(1.33314422036e-1), _F(-3.33332819422e-1)


def _tanh32(x):
    # Cephes tanhf.c / expf.c in float32 arithmetic: a polynomial below 0.625, else 1 - 2/(e^2x + 1).
    ax = abs(x)
    z = x * x
    small = fma(fma(fma(fma(fma(_P0, z, _P1), z, _P2), z, _P3), z, _P4), z * x, x)
    y = _TWO * min(ax, _T_MAX)  # tanh(9) == 1.0 in float32
    k = np.int32(fma(y, _LOG2E, _HALF))
    fk = _F(k)
    r = fma(fk, -_LN2_LO, fma(fk, -_LN2_HI, y))  # y - k ln 2
    e = fma(fma(fma(fma(fma(fma(_E0, r, _E1), r, _E2), r, _E3), r, _E4), r, _E5), r * r, r + _ONE)
    e = e * _F(np.int32(1) << k)
    big = _ONE - _TWO / (e + _ONE)
    big = big if x >= _F(0.0) else -big
    return small if ax < _T_SMALL else big


@overload(tanh, jit_options=dict(fastmath=False, error_model="numpy"))
def _tanh(x):
    if x == types.float32:
        return _tanh32
    if x == types.float64:
        return _tanh64
    return None


# ---------------------------------------------------------------------------------------------
# scalar activations and their derivatives written with the output y = f(a)
# ---------------------------------------------------------------------------------------------


@njit(inline="always", **JIT)
def sigmoid(a):
    # the reference's overflow-free 0.5 * (1 + tanh(a / 2))
    half = like(a, 0.5)
    return fma(tanh(a * half), half, half)


@njit(inline="always", **JIT)
def hard_sigmoid(a):
    y = a * like(a, 0.2) + like(a, 0.5)
    return min(max(y, like(a, 0.0)), like(a, 1.0))


@njit(inline="always", **JIT)
def relu(a):
    return max(a, like(a, 0.0))


@njit(inline="always", **JIT)
def dact(code, y):
    """``f'(a)`` from ``y = f(a)`` for one element (``dact_to`` for a whole row)."""
    one, zero = like(y, 1.0), like(y, 0.0)
    if code == TANH:
        return one - y * y
    if code == SIGMOID:
        return y * (one - y)
    if code == HARD_SIGMOID:
        return like(y, 0.2) if (y > zero) & (y < one) else zero
    if code == RELU:
        return one if y > zero else zero
    return one


# ---------------------------------------------------------------------------------------------
# row helpers: the branch on the code sits outside each loop
# ---------------------------------------------------------------------------------------------


@njit(inline="always", **JIT)
def act_bias_add_(code, a, b, r):
    """In place: ``a[j] = f((a[j] + b[j]) + r[j])``, the reference's ``(X W + B) + H W_R``."""
    n = a.shape[0]
    if code == TANH:
        for j in range(n):
            a[j] = tanh((a[j] + b[j]) + r[j])
    elif code == SIGMOID:
        for j in range(n):
            a[j] = sigmoid((a[j] + b[j]) + r[j])
    elif code == HARD_SIGMOID:
        for j in range(n):
            a[j] = hard_sigmoid((a[j] + b[j]) + r[j])
    elif code == RELU:
        for j in range(n):
            a[j] = relu((a[j] + b[j]) + r[j])
    else:
        for j in range(n):
            a[j] = (a[j] + b[j]) + r[j]


@njit(inline="always", **JIT)
def act_bias_(code, a, b):
    """In place: ``a[j] = f(a[j] + b[j])``."""
    n = a.shape[0]
    if code == TANH:
        for j in range(n):
            a[j] = tanh(a[j] + b[j])
    elif code == SIGMOID:
        for j in range(n):
            a[j] = sigmoid(a[j] + b[j])
    elif code == HARD_SIGMOID:
        for j in range(n):
            a[j] = hard_sigmoid(a[j] + b[j])
    elif code == RELU:
        for j in range(n):
            a[j] = relu(a[j] + b[j])
    else:
        for j in range(n):
            a[j] = a[j] + b[j]


@njit(inline="always", **JIT)
def act_bias_add_to(code, a, b, r, out):
    """``out[j] = f((a[j] + b[j]) + r[j])`` (``out`` overlaps no input)."""
    n = a.shape[0]
    if code == TANH:
        for j in range(n):
            out[j] = tanh((a[j] + b[j]) + r[j])
    elif code == SIGMOID:
        for j in range(n):
            out[j] = sigmoid((a[j] + b[j]) + r[j])
    elif code == HARD_SIGMOID:
        for j in range(n):
            out[j] = hard_sigmoid((a[j] + b[j]) + r[j])
    elif code == RELU:
        for j in range(n):
            out[j] = relu((a[j] + b[j]) + r[j])
    else:
        for j in range(n):
            out[j] = (a[j] + b[j]) + r[j]


@njit(inline="always", **JIT)
def add_to_(acc, a):
    """In place: ``acc[j] += a[j]``."""
    for j in range(acc.shape[0]):
        acc[j] += a[j]


@njit(inline="always", **JIT)
def act_(code, a):
    """In place: ``a[j] = f(a[j])``."""
    n = a.shape[0]
    if code == TANH:
        for j in range(n):
            a[j] = tanh(a[j])
    elif code == SIGMOID:
        for j in range(n):
            a[j] = sigmoid(a[j])
    elif code == HARD_SIGMOID:
        for j in range(n):
            a[j] = hard_sigmoid(a[j])
    elif code == RELU:
        for j in range(n):
            a[j] = relu(a[j])


@njit(inline="always", **JIT)
def act_to(code, a, out):
    """``out[j] = f(a[j])`` (``out`` and ``a`` do not overlap)."""
    n = a.shape[0]
    if code == TANH:
        for j in range(n):
            out[j] = tanh(a[j])
    elif code == SIGMOID:
        for j in range(n):
            out[j] = sigmoid(a[j])
    elif code == HARD_SIGMOID:
        for j in range(n):
            out[j] = hard_sigmoid(a[j])
    elif code == RELU:
        for j in range(n):
            out[j] = relu(a[j])
    else:
        for j in range(n):
            out[j] = a[j]
