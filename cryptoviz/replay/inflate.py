"""Decompressed chunks of a recording, plain or gzip.

Gzip is inflated here rather than through `gzip.open`: one decompressor fed large
reads costs a third of `gzip.open` (zlib-ng, when installed, halves it again), and a
truncated file (a recorder killed mid-write) still yields every byte it holds, where
`gzip.open` would end with an `EOFError` and buffered readers drop their last block.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from gzip import BadGzipFile
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, BinaryIO, Final


def _fastest_zlib() -> ModuleType:
    try:
        from zlib_ng import zlib_ng
    except ImportError:  # pragma: no cover - zlib-ng is a dependency; stdlib zlib is the fallback
        return zlib
    return zlib_ng


_zlib: Final = _fastest_zlib()
_ZLIB_ERRORS: Final[tuple[type[Exception], ...]] = (zlib.error, _zlib.error)

READ_SIZE: Final = 1 << 16
"""Compressed bytes per read: output chunks then run to about half a megabyte."""
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # a gzip header and trailer (CRC-32, size) are checked
_GZIP_MAGIC: Final = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


class Chunks:
    """Iterate the decompressed bytes of `path` in chunks; close releases the file.

    The file opens now, so a missing or unreadable file raises `OSError` at once.
    Damaged gzip data raises `BadGzipFile` (an `OSError`) while iterating.
    """

    def __init__(self, path: Path) -> None:
        self._file: BinaryIO = path.open("rb")
        self._gzip = is_gzip(path)

    def __iter__(self) -> Iterator[bytes]:
        return _gunzip(self._file) if self._gzip else _plain(self._file)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Chunks:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _plain(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(READ_SIZE * 4):
        yield chunk


def _gunzip(file: BinaryIO) -> Iterator[bytes]:
    """Inflate every gzip member in turn (concatenated files are one stream, as for
    `gzip`); zero padding between or after members is skipped, anything else that is
    not gzip is an error."""
    inflater: Any = None  # None between members
    while data := file.read(READ_SIZE):
        while data:
            if inflater is None:
                data = data.lstrip(b"\x00")
                if not data:
                    break
                if not _GZIP_MAGIC.startswith(data[:2]):
                    raise BadGzipFile(f"not gzip data: starts with {data[:2]!r}")
                inflater = _zlib.decompressobj(_GZIP_WBITS)
            try:
                out = inflater.decompress(data)
            except _ZLIB_ERRORS as exc:
                raise BadGzipFile(f"damaged gzip data: {exc}") from exc
            if out:
                yield out
            if not inflater.eof:
                break
            data = inflater.unused_data
            inflater = None
