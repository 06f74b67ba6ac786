"""Whole recordings: counts on the real files, gzip, format sniffing, line accounting."""

from __future__ import annotations

import gc
import gzip
from collections import Counter
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from cryptoviz.models import Trade
from cryptoviz.replay.formats import Skipped
from cryptoviz.replay.reader import count_lines, read_batches, read_file


def _split(items: list[Trade | Skipped]) -> tuple[list[Trade], Counter[tuple[str, str]]]:
    trades = [item for item in items if isinstance(item, Trade)]
    skipped: Counter[tuple[str, str]] = Counter(
        (item.reason, item.detail) for item in items if isinstance(item, Skipped)
    )
    return trades, skipped


def _contiguous(ids: list[int]) -> bool:
    return ids == list(range(ids[0], ids[0] + len(ids)))


def test_spot_jsonl(testdata: Path) -> None:
    path = testdata / "binance" / "spot-BTC-ETH-DOT-2021-04-04.jsonl"
    items = list(read_file(path))
    trades, skipped = _split(items)
    assert len(items) == count_lines(path) == 4716
    assert len(trades) == 1910
    assert {reason for reason, _ in skipped} == {"ignored_stream"}
    assert sum(n for (_, detail), n in skipped.items() if "@kline_1m" in detail) == 118
    assert sum(n for (_, detail), n in skipped.items() if "@depth@100ms" in detail) == 2688
    assert trades[0] == Trade(
        "binance",
        "BTCUSDT",
        665076760,
        Decimal("58001.03000000"),
        Decimal("0.08620500"),
        1617566591314,
        True,
        1,
        1617566591315,
    )
    assert Counter(t.symbol for t in trades) == {"BTCUSDT": 1227, "ETHUSDT": 506, "DOTUSDT": 177}
    for symbol in ("BTCUSDT", "ETHUSDT", "DOTUSDT"):
        assert _contiguous([t.trade_id for t in trades if t.symbol == symbol])
    multi = next(t for t in trades if t.trade_id == 54605678)
    assert (multi.symbol, multi.count) == ("DOTUSDT", 3)
    assert all(t.received_at == 0 for t in trades)


def test_usdm_recording_with_receive_times(testdata: Path) -> None:
    path = testdata / "binance" / "usdm-btcusdt-20240808.recv.gz"
    items = list(read_file(path, exchange="binance-usdm"))
    trades, skipped = _split(items)
    assert len(items) == count_lines(path)
    assert len(trades) == 21313
    assert _contiguous([t.trade_id for t in trades])
    assert {reason for reason, _ in skipped} == {"ignored_stream"}
    assert skipped[("ignored_stream", "btcusdt@bookTicker")] > 60000
    first = trades[0]
    assert (first.exchange, first.symbol, first.trade_id, first.price, first.quantity) == (
        "binance-usdm",
        "BTCUSDT",
        5266583935,
        Decimal("61800.30"),
        Decimal("0.006"),
    )
    assert first.received_at == 1723161255088  # 1723161255088176367 ns
    # The recorder's clock ran ~1.25 s behind the exchange's: received_at < time throughout.
    assert all(0 < t.time - t.received_at < 2000 for t in trades)
    assert all(a.time <= b.time for a, b in pairwise(trades))


def test_xrpeth_csv(testdata: Path) -> None:
    path = testdata / "binance" / "XRPETH-aggTrades-2019-10-11_13.csv"
    items = list(read_file(path))
    trades, skipped = _split(items)
    assert len(items) == count_lines(path) == 12478
    assert skipped == {("ignored_stream", "csv header"): 1}
    assert len(trades) == 12477
    assert _contiguous([t.trade_id for t in trades])
    assert {t.symbol for t in trades} == {"XRPETH"}
    assert trades[0] == Trade(
        "binance", "XRPETH", 13519807, Decimal("0.00141342"), Decimal("23.00000000"), 1570752011620, True
    )
    assert sum(t.count for t in trades) == 14672


LINES = [
    b'{"e":"trade","E":1617566591005,"T":1617566591004,"s":"BTCUSDT","t":1,"p":"10.5","q":"2","m":false}',
    b"",
    b'{"stream":"btcusdt@bookTicker","data":{}}',
    b"garbage",
    b'{"e":"trade","E":1617566591007,"T":1617566591006,"s":"BTCUSDT","t":2,"p":"10.25","q":"0.1","m":true}',
]


def _write(path: Path, lines: list[bytes], *, final_newline: bool = True) -> Path:
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["ticks.jsonl", "ticks.jsonl.gz", "ticks.log", "ticks.recv.gz"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_json_lines_one_item_per_line(tmp_path: Path, name: str, final_newline: bool) -> None:
    path = _write(tmp_path / name, LINES, final_newline=final_newline)
    items = list(read_file(path))
    assert len(items) == count_lines(path) == len(LINES)
    assert [type(i).__name__ for i in items] == ["Trade", "Skipped", "Skipped", "Skipped", "Trade"]
    assert [i.reason for i in items if isinstance(i, Skipped)] == ["empty", "ignored_stream", "malformed"]
    assert [i.price for i in items if isinstance(i, Trade)] == [Decimal("10.5"), Decimal("10.25")]


@pytest.mark.parametrize("name", ["BTCUSDT-trades-2025-01-01.csv.gz", "BTCUSDT-trades-2025-01-01.txt"])
def test_csv_by_extension_or_sniffing(tmp_path: Path, name: str) -> None:
    rows = [
        b"",
        b"id,price,qty,quote_qty,time,is_buyer_maker,is_best_match",
        b"100,94000.01,0.5,47000.005,1735689600000123,True,True",
        b"101,94000.02,0.25,23500.005,1735689600001999,False,True",
    ]
    path = _write(tmp_path / name, rows)
    items = list(read_file(path))
    assert items[:2] == [Skipped("empty"), Skipped("ignored_stream", "csv header")]
    assert items[2:] == [
        Trade("binance", "BTCUSDT", 100, Decimal("94000.01"), Decimal("0.5"), 1735689600000, True),
        Trade("binance", "BTCUSDT", 101, Decimal("94000.02"), Decimal("0.25"), 1735689600001, False),
    ]


def test_csv_with_crlf_and_no_header(tmp_path: Path) -> None:
    path = tmp_path / "ETHBTC-aggTrades-2017-07.csv"
    path.write_bytes(b"1,0.05,1.0,1,2,1500000000000,false,true\r\n2,0.06,1.0,3,3,1500000000001,true,true\r\n")
    trades = list(read_file(path))
    assert [(t.trade_id, t.count) for t in trades if isinstance(t, Trade)] == [(1, 2), (2, 1)]


def test_truncated_gzip_is_not_fatal(tmp_path: Path) -> None:
    whole = gzip.compress(b"\n".join(LINES * 200) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    items = list(read_file(path))
    assert 0 < len(items) < len(LINES) * 200
    assert count_lines(path) >= len(items) - 1


def test_missing_file_raises_at_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError):
        count_lines(tmp_path / "nope.jsonl")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(read_file(path)) == []
    assert count_lines(path) == 0


def test_unconsumed_reader_closes_its_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "ticks.jsonl", LINES)
    read_file(path).close()
    unused = read_file(path)
    del unused
    gc.collect()  # a leaked file would raise ResourceWarning (an error under the pytest config)


def _batched(path: Path) -> tuple[list[Trade], Counter[str], int]:
    trades: list[Trade] = []
    skipped: Counter[str] = Counter()
    lines = 0
    for batch in read_batches(path):
        trades += batch.trades
        skipped.update(batch.skipped)
        lines += batch.lines
    return trades, skipped, lines


@pytest.mark.parametrize(
    "name",
    [
        "binance/spot-BTC-ETH-DOT-2021-04-04.jsonl",
        "binance/usdm-btcusdt-20240808.recv.gz",
        "binance/XRPETH-aggTrades-2019-10-11_13.csv",
    ],
)
def test_read_batches_gives_what_read_file_gives(testdata: Path, name: str) -> None:
    items = list(read_file(testdata / name))
    trades, skipped, lines = _batched(testdata / name)
    assert trades == [i for i in items if isinstance(i, Trade)]
    assert skipped == Counter(i.reason for i in items if not isinstance(i, Trade))
    assert lines == len(items) == count_lines(testdata / name)


def test_read_batches_on_bad_lines_matches_read_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}\n'
        b'{"stream":"btcusdt@depth","data":{"e":"depthUp\n'  # truncated: malformed, not ignored
        b'{"stream":"btcusdt@trade","data":{"e":"trade","t":1}}\n'  # trade missing fields
        b"\xff\xfe garbage\n\n"
        b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1617566591001,"T":1617566591001,"s":"BTCUSDT","t":5,"p":"1","q":"1","m":true}}\n'
    )
    items = list(read_file(path))
    trades, skipped, lines = _batched(path)
    assert [t.trade_id for t in trades] == [5]
    assert skipped == Counter(i.reason for i in items if not isinstance(i, Trade))
    assert skipped == Counter({"malformed": 3, "ignored_stream": 1, "empty": 1})
    assert lines == len(items) == 6
