"""A dependency-free progress bar: batches done, loss, metrics, sequences per second, time left.

On a terminal the line is redrawn in place (at most ten times a second); elsewhere (logs, CI) only
the line that closes each epoch is printed.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _fmt_time(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


class ProgressBar:
    """One epoch's progress: ``update`` after every batch, ``close`` with the epoch's results."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.label = total, label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.live = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.start = self.last = time.perf_counter()
        self.sequences = 0

    def _line(self, done: int, values: dict[str, float]) -> str:
        elapsed = time.perf_counter() - self.start
        width = 24
        filled = int(width * done / max(self.total, 1))
        bar = "=" * filled + (">" if filled < width else "") + " " * (width - filled - 1)
        rate = self.sequences / elapsed if elapsed > 0 else 0.0
        eta = elapsed / done * (self.total - done) if done else 0.0
        shown = " ".join(f"{k} {v:.4f}" for k, v in values.items())
        timing = f"{rate:,.0f} seq/s" + (f" eta {_fmt_time(eta)}" if done < self.total else f" {_fmt_time(elapsed)}")
        return f"{self.label} [{bar}] {done}/{self.total} {shown} {timing}"

    def update(self, done: int, sequences: int, values: dict[str, float]) -> None:
        self.sequences += sequences
        now = time.perf_counter()
        if self.live and (now - self.last > 0.1 or done == self.total):
            self.last = now
            self.stream.write("\r" + self._line(done, values) + "\x1b[K")
            self.stream.flush()

    def close(self, done: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        start, erase = ("\r", "\x1b[K") if self.live else ("", "")
        self.stream.write(start + self._line(done, values) + erase + "\n")
        self.stream.flush()
