"""Tests for rnnlab.data._lines: paths, gzip sniffing, text file objects and their errors."""

from __future__ import annotations

import gzip
import io
from contextlib import closing

import pytest

from rnnlab.data._lines import iter_lines, located, source_name


def _read(source):
    with closing(iter_lines(source)) as lines:
        return list(lines)


def test_plain_gzip_and_stream_give_the_same_numbered_lines(tmp_path):
    text = "a\r\nb\n\nc"
    plain = tmp_path / "f.txt"
    plain.write_bytes(text.encode())
    gz = tmp_path / "f.anyname"  # gzip is detected from the bytes, not the suffix
    gz.write_bytes(gzip.compress(text.encode()))
    expected = [(1, "a"), (2, "b"), (3, ""), (4, "c")]
    assert _read(plain) == expected
    assert _read(str(gz)) == expected
    assert _read(io.StringIO(text)) == expected


def test_source_name():
    assert source_name("x/y.conllu") == "x/y.conllu"
    assert source_name(io.StringIO("")) == "<stream>"
    assert str(located("f", 3, "bad")) == "f:3: bad"


def test_binary_file_object_is_a_type_error(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("x\n")
    with open(p, "rb") as f, pytest.raises(TypeError, match="text mode"):
        _read(f)
    with pytest.raises(TypeError, match="got int"):
        _read(3)


def test_invalid_utf8_names_file_and_line(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes(b"ok\nalso ok\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"latin\.txt:3: .*not valid UTF-8"):
        _read(p)


def test_truncated_gzip_is_a_value_error(tmp_path):
    p = tmp_path / "cut.gz"
    p.write_bytes(gzip.compress(b"line\n" * 1000)[:-30])
    with pytest.raises(ValueError, match=r"cut\.gz:\d+: cannot read"):
        _read(p)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        _read(tmp_path / "nope.conllu")


def test_text_file_object_with_bad_bytes_points_near_the_line(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes(b"ok\ncaf\xe9\n")
    with open(p, encoding="utf-8") as f, pytest.raises(ValueError, match=r"latin\.txt:1: .*at or after"):
        _read(f)


def test_utf8_bom_is_dropped(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes(b"\xef\xbb\xbf# c\nx\n")
    assert _read(p) == [(1, "# c"), (2, "x")]
