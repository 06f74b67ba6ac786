"""Read a recording file (plain or `.gz`) into trades.

Lines are read in large binary chunks and split in C: per-line iteration of a gzip
file costs more than parsing the line does. `read_batches` is the replay's fast path
(a chunk of lines at a time); `read_file` gives one item per line.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from functools import partial
from itertools import chain
from pathlib import Path
from typing import NamedTuple

from cryptoviz.models import Trade
from cryptoviz.replay.formats import (
    CsvParser,
    Skipped,
    parse_json_block,
    parse_json_line,
    symbol_from_filename,
)
from cryptoviz.replay.inflate import Chunks

Parse = Callable[[bytes], Trade | Skipped]
BlockParse = Callable[[list[bytes], dict[str, int]], list[Trade]]


class Batch(NamedTuple):
    """What one chunk of a file gave: its trades, its line count, its skipped lines by reason."""

    trades: list[Trade]
    lines: int
    skipped: dict[str, int]


def _blocks(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Lists of lines without their newline, one per chunk; a last line without a newline
    counts. A truncated gzip (a recorder killed mid-write) just ends the data: its cut-off
    last line then parses as malformed."""
    pending = b""
    for chunk in chunks:
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        if lines:
            yield lines
    if pending:
        yield [pending]


def _is_csv_name(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


def _plan(path: Path, exchange: str, chunks: Chunks) -> tuple[Parse, BlockParse, Iterator[list[bytes]]]:
    """Pick the parser: CSV by extension (`.csv`, `.csv.gz`) or when the first non-empty line
    holds no `{`; JSON lines otherwise. Returns it per line and per block of lines."""
    blocks = _blocks(chunks)
    first = next(blocks, [])
    is_csv = _is_csv_name(path)
    if not is_csv:
        head = next((line for line in first if line.strip()), None)
        is_csv = head is not None and b"{" not in head
    rest = chain([first] if first else [], blocks)
    if is_csv:
        parse = CsvParser(symbol_from_filename(path) or "", exchange).parse
        return parse, _line_by_line(parse), rest

    def parse_block(lines: list[bytes], skipped: dict[str, int]) -> list[Trade]:
        return parse_json_block(lines, exchange, skipped)

    return partial(parse_json_line, exchange=exchange), parse_block, rest


def _line_by_line(parse: Parse) -> BlockParse:
    def parse_block(lines: list[bytes], skipped: dict[str, int]) -> list[Trade]:
        trades: list[Trade] = []
        for line in lines:
            item = parse(line)
            if isinstance(item, Trade):
                trades.append(item)
            else:
                skipped[item.reason] = skipped.get(item.reason, 0) + 1
        return trades

    return parse_block


def read_batches(path: str | Path, exchange: str = "binance") -> Generator[Batch, None, None]:
    """Trades and skip counts of one recording, a chunk at a time, in file order.

    The file opens on the first iteration; the replay checks files are readable first.
    """
    path = Path(path)
    with Chunks(path) as chunks:
        _, parse_block, blocks = _plan(path, exchange, chunks)
        for block in blocks:
            skipped: dict[str, int] = {}
            yield Batch(parse_block(block, skipped), len(block), skipped)


def read_file(path: str | Path, exchange: str = "binance") -> Generator[Trade | Skipped, None, None]:
    """Trades and skipped lines of one recording, in file order, one item per line.

    The file is opened now, so a missing or unreadable file raises `OSError` here rather
    than on first iteration; it is closed when the iterator is exhausted, closed or dropped.
    """
    path = Path(path)
    chunks = Chunks(path)
    try:
        parse, _, blocks = _plan(path, exchange, chunks)
    except BaseException:
        chunks.close()
        raise
    items = _parse_all(chunks, blocks, parse)
    next(items)  # run it into its `with`, so closing or dropping it closes the file
    return items


def _parse_all(
    chunks: Chunks, blocks: Iterator[list[bytes]], parse: Parse
) -> Generator[Trade | Skipped, None, None]:
    with chunks:
        yield Skipped("empty")  # priming item, discarded by read_file
        for block in blocks:
            for line in block:
                yield parse(line)


def count_lines(path: str | Path) -> int:
    """Number of lines `read_file` will yield, for a progress bar (decompresses `.gz`)."""
    count = 0
    last = b"\n"
    with Chunks(Path(path)) as chunks:
        for chunk in chunks:
            count += chunk.count(b"\n")
            last = chunk
    return count + (not last.endswith(b"\n"))
