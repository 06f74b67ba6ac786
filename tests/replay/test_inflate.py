"""Gzip inflation of recordings: members, padding, truncation, damage."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from cryptoviz.replay.inflate import READ_SIZE, Chunks


def _read(path: Path) -> bytes:
    with Chunks(path) as chunks:
        return b"".join(chunks)


def _payload(size: int) -> bytes:
    """Incompressible enough to span many reads and output chunks."""
    return b"\n".join(os.urandom(30).hex().encode() for _ in range(size // 61 + 1))[:size]


def test_plain_file_is_read_as_is(tmp_path: Path) -> None:
    data = _payload(5 * READ_SIZE)
    (tmp_path / "a.jsonl").write_bytes(data)
    assert _read(tmp_path / "a.jsonl") == data


def test_gzip_equals_the_stdlib(tmp_path: Path) -> None:
    data = _payload(20 * READ_SIZE)
    (tmp_path / "a.gz").write_bytes(gzip.compress(data))
    assert _read(tmp_path / "a.gz") == data


def test_concatenated_members_and_zero_padding_are_one_stream(tmp_path: Path) -> None:
    parts = [_payload(3 * READ_SIZE), b"second member\n", _payload(1000)]
    blob = b"".join(gzip.compress(p) for p in parts) + b"\x00" * 3000
    (tmp_path / "a.gz").write_bytes(blob)
    assert _read(tmp_path / "a.gz") == b"".join(parts)


def test_truncated_gzip_yields_every_byte_it_holds(tmp_path: Path) -> None:
    data = _payload(30 * READ_SIZE)
    blob = gzip.compress(data)
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) * 2 // 3])
    got = _read(tmp_path / "cut.gz")
    # Deflate blocks are small: all but the last few KB before the cut come out.
    assert data.startswith(got)
    assert len(got) > len(data) * 2 // 3 - 64 * 1024


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"plain text named .gz\n", "not gzip data"),
        (gzip.compress(b"ok\n") + b"trailing junk", "not gzip data"),
        (gzip.compress(b"x" * 10_000)[:-8] + b"\x00" * 8, "damaged gzip data"),  # wrong CRC-32
    ],
    ids=["not-gzip", "trailing-junk", "damaged"],
)
def test_bad_gzip_raises_an_oserror(tmp_path: Path, blob: bytes, message: str) -> None:
    (tmp_path / "bad.gz").write_bytes(blob)
    with pytest.raises(gzip.BadGzipFile, match=message):
        _read(tmp_path / "bad.gz")


def test_missing_file_raises_at_open(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Chunks(tmp_path / "nope.gz")
