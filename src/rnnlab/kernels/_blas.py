"""Matrix products for the kernels: ``gemm`` with accumulation and strided operands.

``np.dot(a, b, out)`` inside Numba always overwrites ``out`` and copies operands that are not
contiguous. The backward passes need ``dW += X^T dA`` over chunks of steps and products of column
blocks (``dA[:, 2H:] W_R[:, 2H:]^T`` for the GRU), so this module calls the same BLAS routine that
Numba's ``np.dot`` calls (``numba_xxgemm``, Numba's wrapper of SciPy's ``?gemm``) with ``beta`` and
leading dimensions of its own. The symbol is resolved by name when the kernel is linked, so cached
kernels keep working in a new process.

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units, ``G`` gate blocks. Rows of each
2-D operand may be strided (a column block of a wider matrix); the last axis must be contiguous.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from rnnlab.kernels._math import JIT

TRANSPOSE_FLAG_WORK = 1 << 24  # multiply-adds from which BLAS's transpose flag beats a transposed copy
CHUNK_BYTES = 8 << 20  # gradient buffer of one chunk of the backward pass (reused by malloc, in L3)
CHUNK_ROWS = 1024  # but at least this many rows (steps x batch): enough for an efficient product


@intrinsic
def _xxgemm(typingctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major ``C (m, n) = alpha op(A) op(B) + beta C`` through ``numba_xxgemm`` (column-major)."""
    floats = (types.float32, types.float64)
    if not all(isinstance(t, types.Array) for t in (a, b, c)) or not (a.dtype == b.dtype == c.dtype in floats):
        return None
    dtype = a.dtype
    sig = types.intc(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        ta, tb, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args
        char = ir.IntType(8)
        intp = context.get_value_type(types.intp)
        voidp = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(
            ir.IntType(32), [char, char, char, intp, intp, intp, voidp, voidp, intp, voidp, intp, voidp, voidp, intp]
        )
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        alpha_slot = cgutils.alloca_once_value(builder, context.cast(builder, alpha_, signature.args[5], dtype))
        beta_slot = cgutils.alloca_once_value(builder, context.cast(builder, beta_, signature.args[10], dtype))

        def data(index, value):
            array = context.make_array(signature.args[index])(context, builder, value)
            return builder.bitcast(array.data, voidp)

        def flag(value, index):
            value = context.cast(builder, value, signature.args[index], types.boolean)
            return builder.select(value, ir.Constant(char, ord("t")), ir.Constant(char, ord("n")))

        kind = ir.Constant(char, ord("s" if dtype == types.float32 else "d"))
        # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands
        return builder.call(
            fn,
            (
                kind, flag(tb, 1), flag(ta, 0), n_, m_, k_, builder.bitcast(alpha_slot, voidp),
                data(8, b_), ldb_, data(6, a_), lda_, builder.bitcast(beta_slot, voidp), data(11, c_), ldc_,
            ),
        )  # fmt: skip

    return sig, codegen


@njit(inline="always", **JIT)
def _leading(a):
    """The leading dimension of a row-major 2-D operand (its row stride in elements)."""
    if a.shape[1] > 1 and a.strides[1] != a.itemsize:
        raise ValueError("gemm operands need a contiguous last axis")
    return max(a.strides[0] // a.itemsize if a.shape[0] > 1 else 0, a.shape[1], 1)


@njit(inline="always", **JIT)
def gemm(a, b, c, beta, trans_a, trans_b):
    """``c = op(a) @ op(b) + beta * c`` for 2-D arrays, ``op(m)`` being ``m.T`` when ``trans_*``.

    Rows may be strided (a column block of a wider matrix); the stride of an axis of length 1 is
    ignored, as NumPy ignores it when it calls an array contiguous.
    """
    m = a.shape[1] if trans_a else a.shape[0]
    k = a.shape[0] if trans_a else a.shape[1]
    n = b.shape[0] if trans_b else b.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        for i in range(m):
            for j in range(n):
                c[i, j] *= beta
        return
    info = _xxgemm(trans_a, trans_b, m, n, k, 1.0, a, _leading(a), b, _leading(b), beta, c, _leading(c))
    if info != 0:
        raise RuntimeError("BLAS ?gemm failed (is SciPy installed? Numba takes its BLAS from SciPy)")


def chunk_steps(T: int, N: int, row_bytes: int) -> int:
    """Steps per chunk of the backward pass: ``CHUNK_BYTES`` of gradients, but ``CHUNK_ROWS`` rows or more.

    ``row_bytes`` is the size of one row of the gradient buffers (``G*H`` floats, or more).
    """
    steps = max(CHUNK_BYTES // max(N * row_bytes, 1), -(-CHUNK_ROWS // max(N, 1)), 1)
    return int(min(steps, max(T, 1)))


@njit(inline="always", **JIT)
def transposed(W, N):
    """``W.T`` as a contiguous copy for the per-step products ``(N, K) @ W.T``, when it pays.

    Measured here with SciPy's OpenBLAS: below ``TRANSPOSE_FLAG_WORK`` multiply-adds a product with
    the transpose flag takes up to twice as long as one with a transposed copy ((16, 128) x
    (128, 128): 8.2 us against 3.2 us); above it the flag is about 10 % faster. Returns a ``(0, 0)``
    array when the flag is the better choice; ``times_t`` takes either.
    """
    if N * W.shape[0] * W.shape[1] >= TRANSPOSE_FLAG_WORK:
        return np.empty((0, 0), W.dtype)
    return np.ascontiguousarray(W.T)


@njit(inline="always", **JIT)
def times_t(a, W, WT, out):
    """``out = a @ W.T``, through ``WT`` (``transposed(W, N)``) when it holds the copy."""
    if WT.shape[0] > 0:
        gemm(a, WT, out, 0.0, False, False)
    else:
        gemm(a, W, out, 0.0, False, True)
