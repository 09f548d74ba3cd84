"""Every kernel test runs once per way the kernels can run here: SciPy's OpenBLAS with whole batches
and with every batch of two or more rows split into parts on threads (``rnnlab.kernels._split``,
which otherwise splits only batches with enough work), and, when MKL is installed, MKL with whole
batches and MKL with the split forced likewise, every
prepared streaming step split in two halves of units, the second on the team's worker thread
(``rnnlab.kernels._team``, which otherwise takes only weights of a megabyte or more), and the
weights of every per-step product packed (``_blas.pack``, otherwise only for products of
``PACK_MIN_WORK`` or more; plain ``mkl`` keeps that threshold, so both ways are tested)."""

import pytest

from rnnlab.kernels import _blas, _split, _team

MODES = ["scipy", "scipy-split"] + (["mkl", "mkl-split"] if _blas.mkl_library() is not None else [])


@pytest.fixture(autouse=True, params=MODES)
def blas_provider(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Route the kernels' products to one provider for the test (and force the split in ``mkl-split``),
    then restore the previous provider. Yields the provider's name."""
    provider = request.param.removesuffix("-split")
    if request.param.endswith("-split"):
        monkeypatch.setattr(_split, "MIN_PART_WORK", 0)
        monkeypatch.setattr(_blas, "max_threads", lambda: 2)
        monkeypatch.setattr(_blas, "CPUS", 2)
        monkeypatch.setattr(_team, "TEAM_MIN_BYTES", 0)
        packing = _blas.set_pack_min_work(0)
    previous = _blas.blas_provider()
    _blas.set_blas(provider)
    yield provider
    _blas.set_blas(previous)
    if request.param.endswith("-split"):
        _blas.set_pack_min_work(packing)
