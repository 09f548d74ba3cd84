"""Test helpers: central differences and comparisons whose failures name the tensor and the error."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    """Max absolute difference relative to the largest magnitude of the reference."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-12)) if ref.size else 0.0


def assert_close(name: str, ours: np.ndarray, ref: np.ndarray, tol: float) -> None:
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{name}: shape mismatch: ours={ours.shape} ref={ref.shape}"
    err = rel_err(ours, ref)
    assert err < tol, f"{name}: max relative error {err:.3e} >= {tol:.0e} (shape {ours.shape})"


def numerical_grad(f: Callable[[], float], a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of ``a`` (in place)."""
    g = np.zeros_like(a, dtype=np.float64)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        up = f()
        a[idx] = old - eps
        down = f()
        a[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def run_forked(target: Callable[[Any], None], timeout: float) -> tuple[bool, int | None, Any]:
    """Run ``target(queue)`` in a forked child: ``(hung, exitcode, what it put on the queue)``.

    A child still alive after ``timeout`` seconds is killed and reported hung (its result is None).
    """
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=target, args=(queue,))
    child.start()
    child.join(timeout=timeout)
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    result = None if hung or child.exitcode != 0 else queue.get(timeout=5)
    return hung, child.exitcode, result
