"""``rnnlab.kernels._malloc``: glibc keeps the kernels' freed work arrays, unless the user opts out."""

import platform

import pytest

import rnnlab.kernels
from rnnlab.kernels import _malloc

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_importing_the_kernels_applied_the_settings():
    assert rnnlab.kernels.MALLOC_TUNED is True
    assert _malloc.keep_freed_memory() is True


@pytest.mark.parametrize("value", ["1", "yes"])
def test_the_environment_variable_opts_out(monkeypatch, value):
    monkeypatch.setenv("RNNLAB_SYSTEM_MALLOC", value)
    assert _malloc.keep_freed_memory() is False
