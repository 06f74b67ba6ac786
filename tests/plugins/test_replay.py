"""Replay plugin: loop passes shift times and ids; speed paces the recording."""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path

from cryptoviz_plugins.replay import ReplayConfig, ReplayPlugin

from cryptoviz.plugin import LoadedPlugin, discover, select
from cryptoviz.runtime import Runtime
from tests.conftest import make_config

T0 = 1_700_000_000_000  # epoch ms: trade times must fall within 2000..2100
LINES = [
    f'{{"e":"trade","E":{T0 + 1000},"T":{T0 + 1000},"s":"AAAUSDT","t":10,"p":"1.5","q":"2","m":false}}',
    f'{{"e":"trade","E":{T0 + 1400},"T":{T0 + 1400},"s":"AAAUSDT","t":11,"p":"1.6","q":"1","m":true}}',
    f'{{"e":"trade","E":{T0 + 2100},"T":{T0 + 2100},"s":"AAAUSDT","t":12,"p":"1.4","q":"3","m":false}}',
]


def _recording(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    return path


def _runtime(tmp_path: Path, replay: ReplayConfig) -> Runtime:
    config = make_config(tmp_path, PLUGINS__ENABLED='["trades", "candles"]')
    handlers = select(config, discover())
    return Runtime(config, [LoadedPlugin(discover()["replay"], replay), *handlers])


async def test_loop_replays_forever_with_shifted_times_and_ids(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, ReplayConfig(files=[str(_recording(tmp_path))], loop=True))
    await rt.start()
    replay = rt.instances["replay"]
    assert isinstance(replay, ReplayPlugin)
    deadline = time.monotonic() + 10
    while replay.passes < 3 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a counter
        await asyncio.sleep(0.01)
    await rt.stop()
    assert replay.passes >= 3
    trades = await _stored(tmp_path)
    ids = [t.trade_id for t in trades]
    assert ids[:9] == [10, 11, 12, 13, 14, 15, 16, 17, 18]  # each pass moves ids up by the span (3)
    times = [t.time - T0 for t in trades]
    assert times[:6] == [1000, 1400, 2100, 3100, 3500, 4200]  # and times by span + 1 s
    assert times == sorted(times)


async def _stored(tmp_path: Path) -> list:  # type: ignore[type-arg]
    from cryptoviz.storage.sqlite import SQLiteStorage

    storage = SQLiteStorage(tmp_path / "test.db")
    await storage.open()
    try:
        return await storage.trades_after("AAAUSDT", -1, 10_000)
    finally:
        await storage.close()


async def test_speed_paces_the_recording(tmp_path: Path) -> None:
    """1.1 s of trade time at speed 2 takes at least half of it: a lower bound, no upper one."""
    rt = _runtime(tmp_path, ReplayConfig(files=[str(_recording(tmp_path))], speed=2.0))
    started = time.monotonic()
    await rt.start()
    replay = rt.instances["replay"]
    assert isinstance(replay, ReplayPlugin)
    await asyncio.wait_for(replay.done.wait(), 10)
    elapsed = time.monotonic() - started
    await rt.stop()
    assert elapsed >= 0.5
    assert replay.trades == 3


async def test_unreadable_file_is_reported_and_the_others_still_play(tmp_path: Path) -> None:
    good = _recording(tmp_path)
    rt = _runtime(tmp_path, ReplayConfig(files=[str(tmp_path / "missing.jsonl"), str(good)]))
    await rt.start()
    replay = rt.instances["replay"]
    assert isinstance(replay, ReplayPlugin)
    await asyncio.wait_for(replay.done.wait(), 10)
    ok, details = await rt.readiness()
    await rt.stop()
    assert replay.trades == 3
    assert not ok
    assert details["plugins"]["replay"]["failed_files"] == [str(tmp_path / "missing.jsonl")]


async def test_loop_records_an_unreadable_file_once(tmp_path: Path, caplog) -> None:
    missing = str(tmp_path / "missing.jsonl")
    rt = _runtime(tmp_path, ReplayConfig(files=[missing, str(_recording(tmp_path))], loop=True))
    await rt.start()
    replay = rt.instances["replay"]
    assert isinstance(replay, ReplayPlugin)
    deadline = time.monotonic() + 10
    while replay.passes < 5 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a counter
        await asyncio.sleep(0.01)
    await rt.stop()
    assert replay.passes >= 5
    assert replay.failed_files == [missing]
    assert replay.trades >= 3 * 5  # the good file still plays on every pass
    assert sum("cannot read" in r.getMessage() for r in caplog.records) == 1


async def test_loop_stops_when_every_file_fails(tmp_path: Path) -> None:
    """A file that reads on the first pass and is gone on the second: nothing left to play."""
    path = _recording(tmp_path)
    rt = _runtime(tmp_path, ReplayConfig(files=[str(path)], loop=True))
    await rt.start()
    replay = rt.instances["replay"]
    assert isinstance(replay, ReplayPlugin)
    deadline = time.monotonic() + 10
    while replay.passes < 1 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a counter
        await asyncio.sleep(0)
    path.unlink()
    await asyncio.wait_for(replay.done.wait(), 10)
    await rt.stop()
    assert replay.failed_files == [str(path)]
    assert rt.tasks.crashes == 0


async def test_corrupt_gzip_is_reported_not_a_crash(tmp_path: Path) -> None:
    """Damaged deflate data raises `zlib.error`, not an OSError: still a failed file."""
    data = bytearray(gzip.compress(("\n".join(LINES) + "\n").encode() * 50))
    data[15:25] = b"\xff" * 10
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(bytes(data))
    rt = _runtime(tmp_path, ReplayConfig(files=[str(corrupt), str(_recording(tmp_path))]))
    await rt.start()
    replay = rt.instances["replay"]
    assert isinstance(replay, ReplayPlugin)
    await asyncio.wait_for(replay.done.wait(), 10)
    await rt.stop()
    assert replay.failed_files == [str(corrupt)]
    assert replay.trades == 3
    assert rt.tasks.crashes == 0
