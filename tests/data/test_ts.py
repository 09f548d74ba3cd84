"""Tests for rnnlab.data.ts: the UEA/UCR .ts format, its header checks, errors, and Japanese Vowels."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rnnlab.data.ts import read_ts

HEADER = [
    "# a comment",
    "@problemName Toy",
    "@timeStamps false",
    "@missing true",
    "@univariate false",
    "@dimensions 2",
    "@equalLength false",
    "@classLabel true a b c",
    "@data",
]


def write(tmp_path, lines, name="toy.ts"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_variable_length_multichannel_with_missing_values(tmp_path):
    data = read_ts(write(tmp_path, [*HEADER, "1,2,3:4,5,6:b", "0.5,?:-1e-3,7:a", "", "9:8:b"]))
    assert data.problem_name == "Toy"
    assert data.classes == ["a", "b", "c"]
    assert data.labels.dtype == np.int64
    assert data.labels.tolist() == [1, 0, 1]
    assert len(data) == 3 and data.n_channels == 2
    assert all(s.dtype == np.float64 for s in data.series)
    np.testing.assert_array_equal(data.series[0], [[1, 4], [2, 5], [3, 6]])  # (T, C): time first
    np.testing.assert_array_equal(data.series[1], [[0.5, -1e-3], [np.nan, 7]])
    assert data.series[2].shape == (1, 2)


def test_univariate_stream_and_equal_length():
    text = "@problemName U\n@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true x y\n@data\n"
    data = read_ts(io.StringIO(text + "1,2,3:y\n4,5,6:x\n"))
    assert [s.shape for s in data.series] == [(3, 1), (3, 1)]
    assert data.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("extra", "bad_line", "problem"),
    [
        (["1,2:3,4:d"], 10, r"class label 'd' is not declared in @classLabel \['a', 'b', 'c'\]"),
        (["1,2:3,4:5,6:a"], 10, "found 3 channels, but the header declares 2"),
        (["1,2:3,4:a", "1:a"], 11, "found 1 channels, expected 2 like the first series"),
        (["1,2:3:a"], 10, "channel 2 has 1 values but channel 1 has 2; expected every channel"),
        (["1,x:3,4:a"], 10, "channel 1, value 2: 'x' is not a number; expected a decimal number or '\\?'"),
        (["1,2:3,4:a", "@dimensions 2"], 11, "header line '@dimensions' after @data"),
        (["justalabel"], 10, "expected channels separated by ':'"),
    ],
)
def test_malformed_data_reports_file_line_and_problem(tmp_path, extra, bad_line, problem):
    path = write(tmp_path, [*HEADER, *extra], name="bad.ts")
    with pytest.raises(ValueError, match=rf"bad\.ts:{bad_line}: {problem}"):
        read_ts(path)


@pytest.mark.parametrize(
    ("lines", "bad_line", "problem"),
    [
        (["@classLabel true a", "1:a"], 2, "data line before @data"),
        (["@data"], 1, "@data before any @classLabel line"),
        (["@classLabels true a"], 1, "unknown header @classlabels; expected one of"),
        (["@univariate maybe"], 1, "@univariate must be 'true' or 'false', got 'maybe'"),
        (["@dimensions two"], 1, "@dimensions must be an integer, got 'two'"),
        (["@timeStamps true"], 1, r"time-stamped series \(@timeStamps true\) are not supported"),
        (["@classLabel false"], 1, r"unlabelled files \(@classLabel false\) are not supported"),
        (["@classLabel true a a"], 1, "@classLabel true must list distinct class names"),
        (["@targetLabel true"], 1, r"regression files \(@targetLabel\) are not supported"),
        (
            ["@equalLength true", "@seriesLength 3", "@classLabel true a", "@data", "1,2:a"],
            5,
            "series has 2 steps, but the header declares @seriesLength 3",
        ),
    ],
)
def test_malformed_header_reports_file_line_and_problem(tmp_path, lines, bad_line, problem):
    with pytest.raises(ValueError, match=rf"bad\.ts:{bad_line}: {problem}"):
        read_ts(write(tmp_path, lines, name="bad.ts"))


def test_missing_data_section_or_series(tmp_path):
    with pytest.raises(ValueError, match=r"nodata\.ts: no @data line"):
        read_ts(write(tmp_path, ["@classLabel true a"], name="nodata.ts"))
    with pytest.raises(ValueError, match=r"empty\.ts: no series after @data"):
        read_ts(write(tmp_path, ["@classLabel true a", "@data"], name="empty.ts"))


@pytest.mark.parametrize(("split", "n"), [("TRAIN", 270), ("TEST", 370)])
def test_real_japanese_vowels(shared_file, split, n):
    data = read_ts(shared_file("japanese_vowels", f"JapaneseVowels_{split}.ts"))
    assert len(data) == n
    assert data.classes == [str(k) for k in range(1, 10)]
    assert set(data.labels.tolist()) == set(range(9))
    assert all(s.ndim == 2 and s.shape[1] == 12 for s in data.series)
    lengths = [len(s) for s in data.series]
    assert 7 <= min(lengths) and max(lengths) <= 29
    assert not any(np.isnan(s).any() for s in data.series)
    if split == "TRAIN":
        assert np.bincount(data.labels).tolist() == [30] * 9  # 30 utterances per speaker


def test_real_japanese_vowels_length_range(shared_file):
    lengths = [
        len(s)
        for split in ("TRAIN", "TEST")
        for s in read_ts(shared_file("japanese_vowels", f"JapaneseVowels_{split}.ts")).series
    ]
    assert (min(lengths), max(lengths)) == (7, 29)


def test_tab_separated_header_and_empty_class_label(tmp_path):
    data = read_ts(write(tmp_path, ["@problemName\tTabs", "@classLabel\ttrue x", "@data", "1,2:x"]))
    assert data.problem_name == "Tabs" and data.classes == ["x"]
    with pytest.raises(ValueError, match=r"bad\.ts:1: @classlabel must be 'true' or 'false', got ''"):
        read_ts(write(tmp_path, ["@classLabel"], name="bad.ts"))
