"""``rnnlab.backend``: choosing between the NumPy reference cells and the compiled kernels."""

import importlib.util
import inspect

import numpy as np
import pytest

from rnnlab import backend, cells


@pytest.fixture(autouse=True)
def _restore_backend():
    yield
    backend.set_backend("auto")


def _without_numba(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(backend, "_found", {})  # forget what was found before the patch; restored after
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real(name, *a))


def test_default_is_auto_and_prefers_numba():
    assert backend.numba_available()  # the test environment installs the `fast` extra
    assert backend.get_backend() == "numba"
    assert backend.get_cell("lstm").__name__ == "rnnlab.kernels.lstm"


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_get_cell_follows_the_backend(kind):
    backend.set_backend("numpy")
    assert backend.get_backend() == "numpy"
    assert backend.get_cell(kind) is cells.CELLS[kind]
    backend.set_backend("numba")
    cell = backend.get_cell(kind)
    assert cell.__name__ == f"rnnlab.kernels.{kind}"
    assert (cell.GATES, cell.STATES) == (cells.CELLS[kind].GATES, cells.CELLS[kind].STATES)
    assert callable(cell.forward) and callable(cell.backward) and callable(cell.step)


def test_use_backend_restores_the_previous_choice_even_on_error():
    backend.set_backend("numba")
    with backend.use_backend("numpy") as name:
        assert name == "numpy"
        assert backend.get_cell("gru") is cells.gru
    assert backend.get_backend() == "numba"
    with pytest.raises(RuntimeError), backend.use_backend("numpy"):
        raise RuntimeError("boom")
    assert backend.get_backend() == "numba"


def test_unknown_names_are_rejected_with_the_choices():
    with pytest.raises(ValueError, match="unknown backend 'cuda'; expected one of numpy, numba, auto"):
        backend.set_backend("cuda")
    with pytest.raises(ValueError, match="unknown cell kind 'transformer'; expected one of rnn, lstm, gru"):
        backend.get_cell("transformer")


def test_numba_missing(monkeypatch):
    _without_numba(monkeypatch)
    assert not backend.numba_available()
    assert backend.get_backend() == "numpy"  # auto falls back
    assert backend.get_cell("rnn") is cells.rnn
    with pytest.raises(ImportError, match=r"backend 'numba' needs numba.*pip install 'rnnlab\[fast\]'"):
        backend.set_backend("numba")
    assert backend.warmup(np.float32) == 0.0


def test_warmup_compiles_and_reports_seconds():
    seconds = backend.warmup(np.float64)
    assert isinstance(seconds, float) and seconds > 0.0
    with backend.use_backend("numpy"):
        assert backend.warmup("float32") == 0.0
    with pytest.raises(ValueError, match="float32 or float64"):
        backend.warmup(np.int32)


@pytest.mark.skipif(not backend.numba_available(), reason="needs numba")
def test_warmup_compiles_the_kinds_asked_for():
    from rnnlab.kernels import lstm, optim

    assert backend.warmup(np.float64, ("lstm",), streaming=False) >= 0.0
    signatures = [str(sig) for sig in lstm._forward.signatures + lstm._backward.signatures]
    assert any("float64" in sig for sig in signatures), signatures
    assert any("float64" in str(sig) for sig in optim._adam.signatures)
    for bad in ((), ("lstm", "cnn"), "lstm"):
        with pytest.raises(ValueError, match=r"warmup kinds must be a non-empty sequence of rnn, lstm, gru, got"):
            backend.warmup(np.float32, bad)


def test_no_environment_variable_switches_behaviour():
    source = inspect.getsource(backend)
    assert "os.environ" not in source and "getenv" not in source


def test_announce_compilation_speaks_once_on_a_compile_and_not_on_a_compiled_function():
    import io

    numba = pytest.importorskip("numba")

    @numba.njit(cache=False)
    def add_one(a):
        return a + 1

    stream = io.StringIO()
    with backend.announce_compilation(stream):
        assert add_one(1) == 2  # compiles: announced once, however many functions compile inside
        assert add_one(1.5) == 2.5  # a second signature: compiles again, not announced again
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("rnnlab: compiling the recurrent kernels for this machine (first use only")
    assert lines[1].startswith("rnnlab: kernels compiled in ") and lines[1].endswith(" s")
    quiet = io.StringIO()
    with backend.announce_compilation(quiet):
        assert add_one(2) == 3  # already compiled: nothing to say
    assert quiet.getvalue() == ""

    @numba.njit(cache=False)
    def fails(a):
        return a - 1

    failed = io.StringIO()
    with pytest.raises(RuntimeError), backend.announce_compilation(failed):
        fails(1)
        raise RuntimeError("the command fails after compiling")
    assert failed.getvalue().splitlines()[-1].startswith("rnnlab: kernels compiled in ")  # said even so


def test_the_command_line_announces_compilation_except_where_a_command_prepares_its_kernels(monkeypatch, tmp_path):
    from contextlib import contextmanager

    from rnnlab.cli import main as cli

    entered = []

    @contextmanager
    def recording(stream=None):
        entered.append(True)
        yield

    monkeypatch.setattr(backend, "announce_compilation", recording)
    assert cli.main(["evaluate", str(tmp_path / "missing.rnnlab")]) == 1
    assert entered == [True]
    assert cli.PREPARES_ITS_KERNELS == {"train", "bench", "export"}
    entered.clear()
    assert cli.main(["train", "--task", "adding", "--bptt", "3", "--out", str(tmp_path / "no")]) == 1  # refused early
    assert cli.main(["export", str(tmp_path / "missing.rnnlab"), str(tmp_path / "out.onnx")]) == 1
    assert entered == []
