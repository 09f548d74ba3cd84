"""Every kernel test runs once per BLAS provider installed here (``scipy``, and ``mkl`` when it is)."""

import pytest

from rnnlab.kernels import _blas

PROVIDERS = ["scipy"] + (["mkl"] if _blas.mkl_library() is not None else [])


@pytest.fixture(autouse=True, params=PROVIDERS)
def blas_provider(request: pytest.FixtureRequest):
    """Route the kernels' products to one provider for the test, then restore the previous one."""
    previous = _blas.blas_provider()
    _blas.set_blas(request.param)
    yield request.param
    _blas.set_blas(previous)
