"""Reader for the UEA/UCR time-series classification archive's ``.ts`` format.

A file is a header of ``@key value`` lines (``#`` lines are comments) and, after ``@data``, one
series per line::

    @problemName JapaneseVowels
    @univariate false
    @dimensions 12
    @equalLength false
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,1.93:-0.20,-0.19,-0.17:...:3

Channels are separated by ``:`` and the values of a channel by ``,``; the class label comes
last. Series may differ in length from line to line (all channels of one series have the same
length). ``?`` is a missing value and becomes ``NaN``.

Each series is returned as ``(T_i, C)`` float64, time first like every rnnlab sequence
(``T`` time steps, ``C`` channels). Time-stamped series (``@timeStamps true``) and regression
targets (``@targetLabel``) are not supported and are refused with a clear message.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

import numpy as np

from rnnlab.data._lines import Source, iter_lines, located, source_name

_BOOL_KEYS = ("timestamps", "missing", "univariate", "equallength")
_INT_KEYS = ("dimensions", "dimension", "serieslength")
_KNOWN_KEYS = ("problemname", *_BOOL_KEYS, *_INT_KEYS, "classlabel", "targetlabel", "data")


@dataclass
class TimeSeriesDataset:
    """Labelled series: ``series[i]`` is ``(T_i, C)`` float64 and has class ``classes[labels[i]]``."""

    series: list[np.ndarray]  # each (T_i, C) float64, NaN where the file had '?'
    labels: np.ndarray  # (N,) int64, indices into `classes`
    classes: list[str]  # class names in the order of the @classLabel header
    problem_name: str | None = None  # from @problemName, if present

    def __len__(self) -> int:
        return len(self.series)

    @property
    def n_channels(self) -> int:
        """``C``, the number of channels of every series."""
        return self.series[0].shape[1]


def _parse_channel(name: str, lineno: int, c: int, text: str) -> np.ndarray:
    """One channel ``'1.5,2,?'`` -> ``[1.5, 2.0, nan]``; errors point at the bad value."""
    parts = text.split(",")
    try:
        return np.array([p.replace("?", "nan") for p in parts], dtype=np.float64)
    except ValueError:
        for k, p in enumerate(parts):
            try:
                float(p.replace("?", "nan"))
            except ValueError:
                raise located(
                    name,
                    lineno,
                    f"channel {c + 1}, value {k + 1}: {p.strip()!r} is not a number; expected a "
                    "decimal number or '?' for a missing value",
                ) from None
        raise  # pragma: no cover (numpy refused something float() accepts)


@dataclass
class _Header:
    """What the ``@`` lines declared; ``update`` parses one of them and checks what rnnlab supports."""

    name: str  # file name for error messages
    problem_name: str | None = None
    univariate: bool | None = None
    dimensions: int | None = None
    equal_length: bool | None = None
    series_length: int | None = None
    classes: list[str] | None = None
    done: bool = False  # @data seen

    def update(self, lineno: int, line: str) -> None:
        parts = line[1:].split(maxsplit=1)
        key = parts[0].lower() if parts else ""
        value = parts[1] if len(parts) > 1 else ""
        if self.done:
            raise located(self.name, lineno, f"header line {line.split()[0]!r} after @data")
        if key not in _KNOWN_KEYS:
            raise located(self.name, lineno, f"unknown header @{key}; expected one of @{', @'.join(_KNOWN_KEYS)}")
        if key in _BOOL_KEYS:
            flag = self._bool(lineno, key, value)
            if key == "timestamps" and flag:
                raise located(
                    self.name,
                    lineno,
                    "time-stamped series (@timeStamps true) are not supported; expected @timeStamps false",
                )
            if key == "univariate":
                self.univariate = flag
            elif key == "equallength":
                self.equal_length = flag
        elif key in _INT_KEYS:
            try:
                n = int(value)
            except ValueError:
                raise located(self.name, lineno, f"@{key} must be an integer, got {value.strip()!r}") from None
            if key == "serieslength":
                self.series_length = n
            else:
                self.dimensions = n
        elif key == "classlabel":
            flag, *names = value.split() or [""]
            if not self._bool(lineno, key, flag):
                raise located(
                    self.name,
                    lineno,
                    "unlabelled files (@classLabel false) are not supported; expected '@classLabel true <class names>'",
                )
            if not names or len(set(names)) != len(names):
                raise located(self.name, lineno, f"@classLabel true must list distinct class names, got {names}")
            self.classes = names
        elif key == "targetlabel":
            raise located(
                self.name,
                lineno,
                "regression files (@targetLabel) are not supported; expected a classification file with @classLabel",
            )
        elif key == "data":
            if self.classes is None:
                raise located(
                    self.name,
                    lineno,
                    "@data before any @classLabel line; expected a classification "
                    "file with '@classLabel true <class names>' in its header",
                )
            self.done = True
        else:  # problemname
            self.problem_name = value.strip()

    def _bool(self, lineno: int, key: str, value: str) -> bool:
        low = value.strip().lower()
        if low not in ("true", "false"):
            raise located(self.name, lineno, f"@{key} must be 'true' or 'false', got {value.strip()!r}")
        return low == "true"


def _parse_series(name: str, lineno: int, channels: list[str]) -> np.ndarray:
    """The channels of one data line -> ``(T, C)``, checking that they have the same length."""
    values = [_parse_channel(name, lineno, c, ch) for c, ch in enumerate(channels)]
    T = len(values[0])
    for c, v in enumerate(values):
        if len(v) != T:
            raise located(
                name,
                lineno,
                f"channel {c + 1} has {len(v)} values but channel 1 has {T}; expected every "
                "channel of a series to have the same length",
            )
    return np.stack(values, axis=1)  # (T, C)


def read_ts(source: Source) -> TimeSeriesDataset:
    """Read a classification ``.ts`` file (path, gzip path or text file object).

    Checks the data against the header: the number of channels (``@dimensions``,
    ``@univariate``), the length when ``@equalLength true`` and ``@seriesLength`` are given, and
    that every label was declared in ``@classLabel``. Labels are returned as indices into
    ``classes``, in the header's order.
    """
    name = source_name(source)
    header = _Header(name)
    n_channels: int | None = None  # C, fixed by the first series
    series: list[np.ndarray] = []
    labels: list[int] = []
    class_index: dict[str, int] = {}

    with closing(iter_lines(source)) as lines:
        for lineno, raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("@"):
                header.update(lineno, line)
                if header.done:
                    class_index = {c: i for i, c in enumerate(header.classes or [])}
                continue
            if not header.done:
                raise located(name, lineno, "data line before @data; expected header lines starting with '@'")

            *channels, label = line.split(":")
            label = label.strip()
            if not channels:
                raise located(name, lineno, "expected channels separated by ':' followed by ':<class label>'")
            if label not in class_index:
                raise located(name, lineno, f"class label {label!r} is not declared in @classLabel {header.classes}")
            if n_channels is None:
                n_channels = len(channels)
                expected = 1 if header.univariate else header.dimensions
                if expected is not None and n_channels != expected:
                    raise located(name, lineno, f"found {n_channels} channels, but the header declares {expected}")
            elif len(channels) != n_channels:
                raise located(
                    name, lineno, f"found {len(channels)} channels, expected {n_channels} like the first series"
                )
            x = _parse_series(name, lineno, channels)  # (T, C)
            if header.equal_length and header.series_length is not None and len(x) != header.series_length:
                raise located(
                    name,
                    lineno,
                    f"series has {len(x)} steps, but the header declares @seriesLength "
                    f"{header.series_length} with @equalLength true",
                )
            series.append(x)
            labels.append(class_index[label])

    if not header.done:
        raise ValueError(f"{name}: no @data line; expected a header ending in @data, then one series per line")
    if not series:
        raise ValueError(f"{name}: no series after @data; expected one series per line")
    return TimeSeriesDataset(
        series=series,
        labels=np.asarray(labels, dtype=np.int64),
        classes=list(header.classes or []),
        problem_name=header.problem_name,
    )
