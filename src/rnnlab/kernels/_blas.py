"""Matrix products for the kernels: ``gemm`` with accumulation and strided operands, from MKL or SciPy.

``np.dot(a, b, out)`` inside Numba always overwrites ``out``, copies operands that are not
contiguous and calls SciPy's BLAS. The backward passes need ``dW += X^T dA`` over chunks of steps
and products of column blocks (``dA[:, 2H:] W_R[:, 2H:]^T`` for the GRU), and the per-step products
are faster with Intel's MKL where it is installed, so every product of the kernels goes through
``gemm`` here, which calls the Fortran ``?gemm`` of one of two providers:

=========  =========================================================================================
provider   library
=========  =========================================================================================
``mkl``    Intel oneMKL (``pip install mkl``, the ``mkl`` extra): ``libmkl_rt`` with its own threads
``scipy``  SciPy's OpenBLAS (``scipy.linalg.cython_blas``), the one Numba's ``np.dot`` calls
=========  =========================================================================================

``set_blas("auto")`` (what importing this module does) picks ``mkl`` when it can be loaded, else
``scipy``. Measured here (Xeon with AVX-512, one thread, float32), MKL's per-step products are
1.1-1.5x faster than OpenBLAS's ((64, 128) x (128, 512): 61 us against 78 us), its one-row products
(streaming, batch 1) up to 4x ((1, 512) x (512, 2048): 152 us against 607 us).

The per-step products multiply by the same ``W_R`` (or ``W_R^T``) at every step; with MKL,
``operand`` packs it once per call into MKL's internal layout (``?gemm_pack``) and ``times`` runs
each step's product on the packed copy (``?gemm_compute``), which MKL otherwise redoes at every call.

The compiled code does not name the library: each call loads the address of ``sgemm``/``dgemm``
from a small table (the symbol ``rnnlab_gemm_table``, registered with LLVM at import; it also holds
the provider's ``TRANSPOSE_FLAG_WORK`` and its per-thread thread setting) and calls through it.
The kernels cached on disk therefore stay valid whichever provider a process picks, and
``set_blas`` switches provider at any time, for every kernel at once.

Shapes: ``T`` time, ``N`` batch, ``D`` input features, ``H`` units, ``G`` gate blocks. Rows of each
2-D operand may be strided (a column block of a wider matrix); the last axis must be contiguous.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from rnnlab.kernels._math import JIT
from rnnlab.threads import SMALL_STEP_WORK, on_one_thread

# multiply-adds from which BLAS's transpose flag beats a transposed copy, by provider (see ``transposed``)
TRANSPOSE_FLAG_WORK = {"scipy": 1 << 24, "mkl": 1 << 62}
CHUNK_BYTES = 8 << 20  # gradient buffer of one chunk of the backward pass (reused by malloc, in L3)
CHUNK_ROWS = 1024  # but at least this many rows (steps x batch): enough for an efficient product

# multiply-adds of a call's big products ((T N) x max(D, H) x G H) below which, with MKL, the whole
# call runs on one thread (see ``call_threads``)
SMALL_CALL_WORK = 1 << 27

PROVIDERS = ("mkl", "scipy")
_TABLE_SYMBOL = "rnnlab_gemm_table"
# [sgemm, dgemm, TRANSPOSE_FLAG_WORK, set_threads_local or NULL, then the packed products (NULL
# without MKL): s/d gemm_pack_get_size, s/d gemm_pack, s/d gemm_compute, then PACK_MIN_WORK, then
# sgemv, dgemv (NULL with MKL: ``step_dot``'s one-row products)] of the provider in use; read by every
# compiled call
_table = (ctypes.c_void_p * 13)()
_PACK_NAMES = tuple(f"cblas_{t}gemm_{op}" for op in ("pack_get_size", "pack", "compute") for t in "sd")
llvm.add_symbol(_TABLE_SYMBOL, ctypes.addressof(_table))
_provider = ""
_libraries: dict[str, ctypes.CDLL] = {}  # loaded once, kept alive
_library_files: dict[str, str] = {}  # their files (resolved paths), for ``own_libraries``


def mkl_library() -> Path | None:
    """``libmkl_rt`` of the installed ``mkl`` distribution (``pip install mkl``), or None."""
    try:
        files = importlib.metadata.distribution("mkl").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name.startswith("libmkl_rt.so"):
            path = Path(str(f.locate())).resolve()
            if path.is_file():
                return path
    return None


def _mkl_addresses() -> tuple[int, ...]:
    path = mkl_library()
    if path is None:
        raise ImportError("MKL is not installed: `pip install mkl` (or the extra `rnnlab[mkl]`)")
    if "mkl" not in _libraries:
        try:
            lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            raise ImportError(f"MKL is installed but {path} does not load: {e}") from e
        if not any(path.parent.glob("libiomp5.so*")):  # no Intel OpenMP beside it (pip's intel-openmp)
            lib.MKL_Set_Threading_Layer(1)  # MKL_THREADING_SEQUENTIAL, rather than a fatal error at first use
        _libraries["mkl"] = lib
        _library_files["mkl"] = str(path)
    lib = _libraries["mkl"]
    names = ("sgemm_", "dgemm_", "MKL_Set_Num_Threads_Local", *_PACK_NAMES)
    return (*(ctypes.cast(getattr(lib, name), ctypes.c_void_p).value for name in names), 0, 0)


def _scipy_addresses() -> tuple[int, ...]:
    from scipy.linalg import cython_blas

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    capsules = cython_blas.__pyx_capi__
    names = ("sgemm", "dgemm", "sgemv", "dgemv")
    sgemm, dgemm, sgemv, dgemv = (get_pointer(capsules[n], get_name(capsules[n])) for n in names)
    return sgemm, dgemm, 0, *(0,) * len(_PACK_NAMES), sgemv, dgemv


def set_blas(name: str = "auto") -> str:
    """Route every product of the kernels to ``"mkl"``, ``"scipy"`` or ``"auto"`` (MKL when it loads).

    Returns the provider now in use. Raises ``ValueError`` for an unknown name and ``ImportError``
    for ``"mkl"`` when MKL is not installed or does not load.
    """
    global _provider
    if name not in (*PROVIDERS, "auto"):
        raise ValueError(f"unknown BLAS provider {name!r}; expected one of {', '.join((*PROVIDERS, 'auto'))}")
    if name == "auto":
        try:
            addresses, name = _mkl_addresses(), "mkl"
        except ImportError:
            addresses, name = _scipy_addresses(), "scipy"
    else:
        addresses = _mkl_addresses() if name == "mkl" else _scipy_addresses()
    _table[0], _table[1], _table[3] = addresses[:3]
    _table[4:10] = addresses[3:9]
    _table[11:13] = addresses[9:11]
    _table[2] = TRANSPOSE_FLAG_WORK[name]
    _provider = name
    return name


def blas_provider() -> str:
    """The provider the kernels' products go to now: ``"mkl"`` or ``"scipy"``."""
    return _provider


def manages_threads() -> bool:
    """True when the kernels choose their own BLAS threads: always with MKL (its per-thread setting:
    ``call_threads``, ``begin_steps``), and with SciPy's BLAS when ``threadpoolctl`` finds it (its
    global setting, changed only around a call: ``call_threads``, ``one_thread_each``). False
    otherwise, and the caller limits the threads (``rnnlab.threads.for_cell``)."""
    return _provider == "mkl" or (_provider == "scipy" and _scipy_threads() is not None)


_scipy_controller: list = []  # [threadpoolctl's controller of SciPy's BLAS, or None], looked up once


def _scipy_threads():  # -> threadpoolctl LibController | None
    """``threadpoolctl``'s controller of the BLAS library that SciPy's ``cython_blas`` calls: the one
    SciPy's wheel ships (in ``scipy.libs`` or inside ``scipy``), else the only BLAS loaded (a
    system OpenBLAS shared with NumPy); None when it cannot be told apart (macOS's Accelerate,
    which threadpoolctl cannot control, or two BLAS libraries outside SciPy)."""
    if not _scipy_controller:
        found = None
        try:
            import scipy
            import scipy.linalg.cython_blas  # loads the library before the lookup
            from threadpoolctl import ThreadpoolController
        except ImportError:
            pass
        else:
            root = Path(scipy.__file__).resolve().parent
            blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
            shipped = [lib for lib in blas
                       if Path(lib.filepath).resolve().is_relative_to(root)
                       or Path(lib.filepath).resolve().parent == root.parent / "scipy.libs"]
            candidates = shipped or blas
            found = candidates[0] if len(candidates) == 1 else None
        _scipy_controller.append(found)
    return _scipy_controller[0]


def own_libraries() -> set[str]:
    """The files (resolved paths) of the BLAS libraries whose threads the kernels set themselves:
    MKL once loaded, SciPy's BLAS when ``threadpoolctl`` finds it."""
    files = set(_library_files.values())
    controller = _scipy_threads()
    if controller is not None:
        files.add(os.path.realpath(controller.filepath))
    return files


def set_local_threads(n: int) -> int:
    """MKL's ``mkl_set_num_threads_local(n)`` for this thread (0: back to the global setting); returns
    the previous local setting. Does nothing and returns -1 with SciPy's OpenBLAS."""
    if _provider != "mkl" or n < 0:
        return -1
    return int(_libraries["mkl"].MKL_Set_Num_Threads_Local(n))


# the CPUs this process may run on (its affinity, not the machine's): at most this many batch parts
# (``_split``) or streaming halves (``_team``); read once, as ``os`` calls in a step cost tens of
# microseconds with cold caches
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def max_threads() -> int:
    """The threads the kernels' BLAS would use for a product on this thread now: MKL's
    (``MKL_Get_Max_Threads``: ``threadpoolctl`` limits and ``MKL_NUM_THREADS`` count), SciPy's BLAS's
    global setting, or 1 when the kernels cannot set SciPy's (``manages_threads``)."""
    if _provider == "mkl":
        return int(_libraries["mkl"].MKL_Get_Max_Threads())
    controller = _scipy_threads()
    return 1 if controller is None else int(controller.num_threads)


@contextlib.contextmanager
def one_thread_each() -> Iterator[None]:
    """One BLAS thread for this thread inside the block (``_split.run``'s parts, ``call_threads``):
    MKL's setting for this thread (the parts' worker threads set theirs once), SciPy's BLAS's for
    the process (``threads.on_one_thread``; nothing when the kernels cannot set it). Two program
    threads in such blocks at once on SciPy's BLAS: the first to leave restores the setting while
    the other still runs, whose products may then use more threads (slower, the same numbers)."""
    if _provider != "mkl":
        controller = _scipy_threads()
        with on_one_thread([] if controller is None else [controller]):
            yield
        return
    previous = set_local_threads(1)
    try:
        yield
    finally:
        set_local_threads(previous)


@contextlib.contextmanager
def call_threads(rows: int, inner: int, GH: int, step_work: int) -> Iterator[None]:
    """One BLAS thread inside the block when the call is small, by the provider's rule.

    MKL: ``rows x inner x GH`` is the work of the call's big products (``T N`` rows, ``max(D, H)``,
    ``G H``). Below ``SMALL_CALL_WORK`` a second thread loses more than it gains (the LSTM at
    (T, N, D, H) = (100, 32, 32, 64): 6.0 ms on one thread, 12 ms with two); above it the big products
    use every thread and ``begin_steps`` still keeps small per-step products on one (MKL's setting
    is per thread). SciPy's BLAS, whose setting is global: one thread for the whole call when a
    step's product (``step_work = N H G H``) is below ``threads.SMALL_STEP_WORK``, the rule the
    layers apply to the NumPy cells (``rnnlab.threads``).
    """
    small = rows * inner * GH < SMALL_CALL_WORK if _provider == "mkl" else step_work < SMALL_STEP_WORK
    with one_thread_each() if small else contextlib.nullcontext():
        yield


def _table_entry(builder, index):
    """A pointer to entry ``index`` of ``_table`` (an external global, resolved when the code is linked)."""
    voidp = ir.IntType(8).as_pointer()
    table = builder.module.globals.get(_TABLE_SYMBOL)
    if table is None:
        table = ir.GlobalVariable(builder.module, ir.ArrayType(voidp, len(_table)), _TABLE_SYMBOL)
    return builder.gep(table, [ir.IntType(32)(0), ir.IntType(32)(index)])


@intrinsic
def _flag_work(typingctx):
    """``TRANSPOSE_FLAG_WORK`` of the provider in use, read from ``_table`` at call time."""

    def codegen(context, builder, signature, args):
        return builder.ptrtoint(builder.load(_table_entry(builder, 2)), context.get_value_type(types.intp))

    return types.intp(), codegen


@intrinsic
def _set_threads_local(typingctx, n):
    """MKL's ``mkl_set_num_threads_local(n)``: this thread's BLAS threads from now on (0: the global
    setting). Returns the previous local setting, or -1 without doing anything when the provider has
    no such call (SciPy's OpenBLAS)."""
    if not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        int32 = ir.IntType(32)
        fnty = ir.FunctionType(int32, [int32])
        address = builder.load(_table_entry(builder, 3))
        result = cgutils.alloca_once_value(builder, int32(-1))
        with builder.if_then(cgutils.is_not_null(builder, address)):
            value = context.cast(builder, args[0], signature.args[0], types.int32)
            builder.store(builder.call(builder.bitcast(address, fnty.as_pointer()), [value]), result)
        return context.cast(builder, builder.load(result), types.int32, types.intp)

    return types.intp(n), codegen


@njit(inline="always", **JIT)
def begin_steps(N, H, GH):
    """Before a loop of per-step products ``(N, H) x (H, GH)``: one BLAS thread for this thread when
    such a product is small (``threads.SMALL_STEP_WORK``), where a second thread costs more in
    hand-offs than it saves (MKL: 2.3x slower with two threads for the LSTM at (T, N, D, H) =
    (100, 32, 32, 64)). Returns what ``end_steps`` restores. The big products before and after the
    loop keep every thread. Only MKL has a per-thread setting; with SciPy's BLAS this does nothing
    (``call_threads`` sets its threads for the whole call by the same rule)."""
    if N * H * GH < SMALL_STEP_WORK:
        return _set_threads_local(1)
    return -1


# multiply-adds of one streaming step's products, N x (D + H) x G*H, below which they run on one BLAS
# thread: MKL otherwise forks its OpenMP team for a product of a few microseconds. Measured here
# (batch 1, float32, the whole step with MKL's threads -> one thread): LSTM (D, H) = (32, 64) 7.7 ->
# 5.4 us, (128, 128) 11.8 -> 9.9 us; GRU (128, 128) 9.8 -> 7.2 us; RNN (128, 128) 7.2 -> 5.1 us,
# (256, 256) 9.6 -> 9.0 us. The RNN at (512, 512) (5.2e5) keeps both threads, which read its 2 MB of
# weights from two caches.
STREAM_ONE_THREAD_WORK = 1 << 18


@njit(inline="always", **JIT)
def begin_stream_step(N, K, GH):
    """Before a streaming step's products ``(N, K) x (K, GH)``: one BLAS thread for this thread when
    they are small (``STREAM_ONE_THREAD_WORK``). Returns what ``end_steps`` restores."""
    if N * K * GH < STREAM_ONE_THREAD_WORK:
        return _set_threads_local(1)
    return -1


@njit(inline="always", **JIT)
def one_thread():
    """One BLAS thread for this thread from now on (MKL); returns what ``end_steps`` restores."""
    return _set_threads_local(1)


@njit(inline="always", **JIT)
def end_steps(previous):
    """After the loop: restore the thread setting ``begin_steps`` replaced."""
    if previous >= 0:
        _set_threads_local(previous)


class _Fortran:
    """Arguments for a Fortran BLAS call from an intrinsic's codegen: every argument by address (a
    stack slot holding it), dimensions as 32-bit ints (LP64 BLAS), scalars in the operands' dtype."""

    def __init__(self, context, builder, signature, dtype):
        self.context, self.builder, self.signature, self.dtype = context, builder, signature, dtype
        self.voidp = ir.IntType(8).as_pointer()

    def function(self, index, n_args):
        """Entry ``index`` of ``_table`` as a function of ``n_args`` pointers."""
        fnty = ir.FunctionType(ir.VoidType(), [self.voidp] * n_args)
        return self.builder.bitcast(self.builder.load(_table_entry(self.builder, index)), fnty.as_pointer())

    def slot(self, value):
        return self.builder.bitcast(cgutils.alloca_once_value(self.builder, value), self.voidp)

    def scalar(self, value, index):  # alpha, beta
        return self.slot(self.context.cast(self.builder, value, self.signature.args[index], self.dtype))

    def constant(self, value):  # a scalar of the operands' dtype
        return self.slot(self.context.get_constant(self.dtype, value))

    def count(self, value, index):
        return self.slot(self.context.cast(self.builder, value, self.signature.args[index], types.int32))

    def data(self, index, value):
        array = self.context.make_array(self.signature.args[index])(self.context, self.builder, value)
        return self.builder.bitcast(array.data, self.voidp)

    def flag(self, value, index):  # "T" when ``value`` is true, else "N"
        value = self.context.cast(self.builder, value, self.signature.args[index], types.boolean)
        char = ir.IntType(8)
        return self.slot(self.builder.select(value, ir.Constant(char, ord("T")), ir.Constant(char, ord("N"))))


@intrinsic
def _xxgemm(typingctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major ``C (m, n) = alpha op(A) op(B) + beta C`` through the Fortran ``?gemm`` in the table."""
    floats = (types.float32, types.float64)
    if not all(isinstance(t, types.Array) for t in (a, b, c)) or not (a.dtype == b.dtype == c.dtype in floats):
        return None
    dtype = a.dtype
    sig = types.void(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        ta, tb, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args
        f = _Fortran(context, builder, signature, dtype)
        # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands
        builder.call(
            f.function(0 if dtype == types.float32 else 1, 13),
            (
                f.flag(tb, 1), f.flag(ta, 0), f.count(n_, 3), f.count(m_, 2), f.count(k_, 4), f.scalar(alpha_, 5),
                f.data(8, b_), f.count(ldb_, 9), f.data(6, a_), f.count(lda_, 7), f.scalar(beta_, 10),
                f.data(11, c_), f.count(ldc_, 12),
            ),
        )  # fmt: skip
        return context.get_dummy_value()

    return sig, codegen


# multiply-adds (k n) of a streaming step's one-row product from which ``step_dot`` calls the
# provider's ``?gemv`` instead of ``?gemm`` (SciPy's OpenBLAS only; MKL's ``?gemm`` handles one row
# itself). Measured here, OpenBLAS, float32, (1, k) x (k, n): (1024, 2048) 595 -> 164 us,
# (512, 1024) 53 -> 24 us, (256, 1024) 16.9 -> 9.8 us, (160, 256) 2.2 and 2.4 us.
GEMV_MIN_WORK = 1 << 16


@intrinsic
def _has_gemv(typingctx, a):
    """Whether the provider's ``?gemv`` for ``a``'s dtype is in the table (SciPy's OpenBLAS)."""
    if not isinstance(a, types.Array) or a.dtype not in (types.float32, types.float64):
        return None
    index = 11 if a.dtype == types.float32 else 12

    def codegen(context, builder, signature, args):
        address = builder.load(_table_entry(builder, index))
        return builder.icmp_unsigned("!=", address, ir.Constant(address.type, None))

    return types.boolean(a), codegen


@intrinsic
def _xxgemv(typingctx, m, n, a, lda, x, y):
    """Column-major ``y = A x`` through the Fortran ``?gemv`` in the table (``gemv('N')``, alpha 1,
    beta 0): ``A`` the ``(m, n)`` column-major matrix at ``a``'s data with leading dimension
    ``lda``, ``x`` and ``y`` at their arrays' data, contiguous."""
    floats = (types.float32, types.float64)
    if not all(isinstance(t, types.Array) for t in (a, x, y)) or not (a.dtype == x.dtype == y.dtype in floats):
        return None
    dtype = a.dtype
    sig = types.void(m, n, a, lda, x, y)

    def codegen(context, builder, signature, args):
        m_, n_, a_, lda_, x_, y_ = args
        f = _Fortran(context, builder, signature, dtype)
        one = f.slot(ir.Constant(ir.IntType(32), 1))
        builder.call(
            f.function(11 if dtype == types.float32 else 12, 11),
            (
                f.slot(ir.Constant(ir.IntType(8), ord("N"))), f.count(m_, 0), f.count(n_, 1),
                f.constant(1.0), f.data(2, a_), f.count(lda_, 3), f.data(4, x_), one, f.constant(0.0),
                f.data(5, y_), one,
            ),
        )  # fmt: skip
        return context.get_dummy_value()

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
    _xxgemm(trans_a, trans_b, m, n, k, 1.0, a, _leading(a), b, _leading(b), beta, c, _leading(c))


@njit(inline="always", **JIT)
def dot(a, b, out):
    """``out = a @ b`` for 2-D arrays (``np.dot(a, b, out)``, through ``gemm``'s provider)."""
    gemm(a, b, out, 0.0, False, False)


@njit(inline="always", **JIT)
def step_dot(a, b, out):
    """``dot`` for a streaming step's products: one row (batch 1) of ``k n >= GEMV_MIN_WORK`` goes to
    SciPy's ``?gemv`` (``_xxgemv``), whose ``?gemm`` is 2-3.6x slower for one row; everything else,
    and MKL, to ``gemm``. (Only the streaming steps use it: in every ``gemm`` call site of the
    training kernels the branch made the LSTM's compile 19 -> 21-27 s.)

    Row-major ``b (k, n)`` is the column-major ``(n, k)`` matrix ``b^T``, so ``out^T = b^T a^T`` is
    ``gemv('N')`` with ``a``'s row as the vector; BLAS sets ``y`` without reading it when ``beta``
    is 0, as ``?gemm`` does with ``C`` (the tests fill it with NaN).
    """
    k, n = b.shape
    if a.shape[0] == 1 and k * n >= GEMV_MIN_WORK and _has_gemv(out):
        _leading(a)  # checks that the rows of a and out are contiguous, as gemv reads and writes them
        _leading(out)
        _xxgemv(n, k, b, _leading(b), a, out)
    else:
        gemm(a, b, out, 0.0, False, False)


def chunk_steps(T: int, N: int, row_bytes: int) -> int:
    """Steps per chunk of the backward pass: ``CHUNK_BYTES`` of gradients, but ``CHUNK_ROWS`` rows or more.

    ``row_bytes`` is the size of one row of the gradient buffers (``G*H`` floats, or more).
    """
    steps = max(CHUNK_BYTES // max(N * row_bytes, 1), -(-CHUNK_ROWS // max(N, 1)), 1)
    return int(min(steps, max(T, 1)))


@njit(inline="always", **JIT)
def transposed(W, N):
    """``W.T`` as a contiguous copy for the per-step products ``(N, K) @ W.T``, when it pays.

    Measured here with SciPy's OpenBLAS: below ``TRANSPOSE_FLAG_WORK["scipy"]`` multiply-adds a
    product with the transpose flag takes up to twice as long as one with a transposed copy
    ((16, 128) x (128, 128): 8.2 us against 3.2 us); above it the flag is about 10 % faster. With
    MKL the copy wins at every per-step shape of the grid, by 8 % ((128, 2048) x (2048, 512)) to 2x
    ((16, 512) x (512, 128): 19 us against 38 us). Returns a ``(0, 0)`` array when the flag is the
    better choice; ``times_t`` takes either.
    """
    if N * W.shape[0] * W.shape[1] >= _flag_work():
        return np.empty((0, 0), W.dtype)
    return np.ascontiguousarray(W.T)


@njit(inline="always", **JIT)
def times_t(a, W, WT, out):
    """``out = a @ W.T``, through ``WT`` (``transposed(W, N)``) when it holds the copy."""
    if WT.shape[0] > 0:
        gemm(a, WT, out, 0.0, False, False)
    else:
        gemm(a, W, out, 0.0, False, True)


# CBLAS constants of the packed products
_ROW_MAJOR, _NO_TRANS, _TRANS, _B_MATRIX, _PACKED = 101, 111, 112, 162, 151
PACK_ALIGN = 64  # bytes: the packed buffer starts on a cache line
# multiply-adds of one product (m k n) from which ``pack`` packs; below it MKL's plain call is as fast
# or faster (measured in a compiled loop, one thread, float32: (8, 128) x (128, 128) 1.55 us plain,
# 2.14 us packed; (16, 64) x (64, 256) 3.50 and 3.66 us; (16, 128) x (128, 512) 12.6 and 12.5 us).
# Read at call time (``set_pack_min_work``: the tests pack every product).
PACK_MIN_WORK = 1 << 20


def set_pack_min_work(work: int) -> int:
    """Pack the per-step weights of products of at least ``work`` multiply-adds (``pack``); returns the
    previous threshold."""
    previous = int(_table[10] or 0)
    _table[10] = max(int(work), 0)
    return previous


set_pack_min_work(PACK_MIN_WORK)


@intrinsic
def _pack_work(typingctx):
    """The packing threshold, read from ``_table`` at call time."""

    def codegen(context, builder, signature, args):
        return builder.ptrtoint(builder.load(_table_entry(builder, 10)), context.get_value_type(types.intp))

    return types.intp(), codegen


def _pack_function(builder, dtype, op, ret, args):
    """Entry ``op`` (0 get_size, 1 pack, 2 compute) of the packed products for ``dtype``, as a function
    pointer of type ``ret(args)``, and whether it is NULL (no packed products: SciPy's OpenBLAS)."""
    index = 4 + 2 * op + (0 if dtype == types.float32 else 1)
    address = builder.load(_table_entry(builder, index))
    fn = builder.bitcast(address, ir.FunctionType(ret, args).as_pointer())
    return fn, cgutils.is_null(builder, address)


@intrinsic
def _pack_bytes(typingctx, W, m, n, k):
    """``cblas_?gemm_pack_get_size(CblasBMatrix, m, n, k)``: bytes of ``op(W) (k, n)`` packed for
    products with ``m`` rows; 0 when the provider has no packed products."""
    if not isinstance(W, types.Array) or W.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        int32, int64 = ir.IntType(32), ir.IntType(64)
        fn, null = _pack_function(builder, W.dtype, 0, int64, [int32] * 4)
        result = cgutils.alloca_once_value(builder, int64(0))
        with builder.if_then(builder.not_(null)):
            sizes = zip(args[1:], signature.args[1:], strict=True)
            counts = [context.cast(builder, v, t, types.int32) for v, t in sizes]
            builder.store(builder.call(fn, [int32(_B_MATRIX), *counts]), result)
        return builder.load(result)

    return types.int64(W, m, n, k), codegen


@intrinsic
def _pack_into(typingctx, trans, m, n, k, W, ld, dest):
    """``cblas_?gemm_pack(CblasRowMajor, CblasBMatrix, op, m, n, k, 1, W, ld, dest)``."""
    if not (isinstance(W, types.Array) and isinstance(dest, types.Array) and W.dtype == dest.dtype):
        return None

    def codegen(context, builder, signature, args):
        int32, voidp = ir.IntType(32), ir.IntType(8).as_pointer()
        real = context.get_value_type(W.dtype)
        fn, _ = _pack_function(builder, W.dtype, 1, ir.VoidType(), [int32] * 6 + [real, voidp, int32, voidp])
        trans_ = builder.select(context.cast(builder, args[0], signature.args[0], types.boolean),
                                int32(_TRANS), int32(_NO_TRANS))  # fmt: skip
        counts = [context.cast(builder, args[i], signature.args[i], types.int32) for i in (1, 2, 3)]
        data = [builder.bitcast(context.make_array(signature.args[i])(context, builder, args[i]).data, voidp)
                for i in (4, 6)]  # fmt: skip
        ld_ = context.cast(builder, args[5], signature.args[5], types.int32)
        one = context.get_constant(W.dtype, 1.0)
        builder.call(fn, [int32(_ROW_MAJOR), int32(_B_MATRIX), trans_, *counts, one, data[0], ld_, data[1]])
        return context.get_dummy_value()

    return types.void(trans, m, n, k, W, ld, dest), codegen


@intrinsic
def _compute(typingctx, m, n, k, a, lda, packed, beta, c, ldc):
    """``cblas_?gemm_compute(CblasRowMajor, NoTrans, CblasPacked, m, n, k, a, lda, packed, 0, beta, c, ldc)``."""
    arrays = (a, packed, c)
    if not all(isinstance(t, types.Array) for t in arrays) or not (a.dtype == packed.dtype == c.dtype):
        return None

    def codegen(context, builder, signature, args):
        int32, voidp = ir.IntType(32), ir.IntType(8).as_pointer()
        real = context.get_value_type(a.dtype)
        argtypes = [int32] * 6 + [voidp, int32, voidp, int32, real, voidp, int32]
        fn, _ = _pack_function(builder, a.dtype, 2, ir.VoidType(), argtypes)

        def count(i):
            return context.cast(builder, args[i], signature.args[i], types.int32)

        def data(i):
            return builder.bitcast(context.make_array(signature.args[i])(context, builder, args[i]).data, voidp)

        beta_ = context.cast(builder, args[6], signature.args[6], a.dtype)
        builder.call(fn, [int32(_ROW_MAJOR), int32(_NO_TRANS), int32(_PACKED), count(0), count(1), count(2),
                          data(3), count(4), data(5), int32(0), beta_, data(7), count(8)])  # fmt: skip
        return context.get_dummy_value()

    return types.void(m, n, k, a, lda, packed, beta, c, ldc), codegen


@njit(inline="always", **JIT)
def pack(W, trans, m):
    """``op(W)`` (``W.T`` when ``trans``) in MKL's packed form, for per-step products ``(m, k) @ op(W)``.

    A loop that multiplies by the same weights at every step otherwise pays, at every call, for
    MKL copying them into its internal layout. Measured here in a compiled loop (MKL, one thread,
    float32, per product; plain ``^T`` is the product with the transposed copy of ``transposed``):
    (64, 512) x (512, 2048) 848 -> 760 us, (64, 2048) x (512, 2048)^T 950 -> 786 us,
    (16, 256) x (256, 768) 36.4 -> 32.7 us, (32, 128) x (128, 512) 24.8 -> 22.6 us. Small products
    gain nothing or lose (``PACK_MIN_WORK``). Returns an empty array when packing does not pay or the
    provider has no packed products (SciPy's OpenBLAS); ``times`` then multiplies by ``W`` itself.
    The packed matrix must not move: keep the returned array as it is. Pack with the thread setting
    of the products (after ``begin_steps``), as MKL advises.
    """
    k = W.shape[1] if trans else W.shape[0]
    n = W.shape[0] if trans else W.shape[1]
    size = _pack_bytes(W, m, n, k) if m > 0 and n > 0 and k > 0 and m * n * k >= _pack_work() else 0
    if size == 0:
        return np.empty(0, W.dtype)
    buf = np.empty((size + PACK_ALIGN) // W.itemsize + 1, W.dtype)
    start = (-buf.ctypes.data % PACK_ALIGN) // W.itemsize
    dest = buf[start:]
    _pack_into(trans, m, n, k, W, _leading(W), dest)
    return dest


@njit(inline="always", **JIT)
def operand(W, trans, m):
    """``op(W)`` ready for ``m``-row per-step products: ``(packed, copy, m)``, ``packed`` from ``pack``;
    when packing does not pay or the provider cannot, ``copy`` = ``transposed(W, m)`` for ``trans``
    (or an empty array where the transpose flag is better), and nothing for ``W`` itself."""
    P = pack(W, trans, m)
    if P.size > 0 or not trans:
        return P, np.empty((0, 0), W.dtype), m
    return P, transposed(W, m), m


@njit(inline="always", **JIT)
def times(a, op, W, trans, out):
    """``out = a @ op(W)`` with ``op = operand(W, trans, m)``; a packed ``op`` takes ``m`` rows only."""
    P, WT, m = op
    if P.size > 0:
        if a.shape[0] != m:
            raise ValueError("times: the packed operand was made for another number of rows")
        n = W.shape[0] if trans else W.shape[1]
        if m > 0 and n > 0:
            _compute(m, n, a.shape[1], a, _leading(a), P, 0.0, out, _leading(out))
    elif trans:
        times_t(a, W, WT, out)
    else:
        dot(a, W, out)

set_blas("auto")
