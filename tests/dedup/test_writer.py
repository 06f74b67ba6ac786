"""DedupWriter: ask the dedup, store, and only then mark.

The crash test is the reason for the order: with a shared dedup (Redis), a process killed
after it took trades from the bus but before it stored them must not leave them marked,
or their redelivery would be dropped as repeats and never stored.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sysconfig
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from cryptoviz.plugin import discover, select
from cryptoviz.runtime import Runtime
from tests.conftest import make_config

CLI = Path(sysconfig.get_path("scripts")) / "cryptoviz"
SPOT = "binance/spot-BTC-ETH-DOT-2021-04-04.jsonl"
SPOT_TRADES = 1_910


def _trade(trade_id: int) -> Trade:
    return Trade("x", "AAA", trade_id, Decimal("1.5"), Decimal(2), 1_000 + trade_id, False)


async def _until(condition: Callable[[], bool], deadline: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - polls a counter no event announces
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), deadline)


async def test_marks_only_what_was_stored_and_counts_repeats_once(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, PLUGINS__ENABLED='["trades"]', STORAGE__FLUSH_MS="60000", STORAGE__BATCH_SIZE="3"
    )
    runtime = Runtime(config, select(config, discover()))
    await runtime.start()
    try:
        keys = [("x", "AAA", i) for i in (1, 2, 3)]
        handler = runtime.instances["trades"]
        await runtime.bus.publish(TOPIC_RAW_TRADES, [_trade(1), _trade(2)])
        await _until(lambda: handler.status()["received"] == 2)
        assert (handler.status()["pending"], handler.status()["stored"]) == (2, 0)
        assert await runtime.dedup.seen(keys) == [False, False, False]  # nothing stored, nothing marked

        # Trade 2 again while its first delivery still waits; the third trade fills the batch.
        await runtime.bus.publish(TOPIC_RAW_TRADES, [_trade(2), _trade(3)])
        await _until(lambda: handler.status()["stored"] == 3)
        status = handler.status()
        assert (status["received"], status["duplicates"], status["pending"]) == (4, 1, 0)
        assert await runtime.dedup.seen(keys) == [True, True, True]
    finally:
        await runtime.stop()


async def test_a_row_the_storage_refuses_is_not_marked(tmp_path: Path) -> None:
    config = make_config(tmp_path, PLUGINS__ENABLED='["trades"]')
    runtime = Runtime(config, select(config, discover()))
    await runtime.start()
    try:
        bad = _trade(2**63 + 5)  # beyond SQLite's INTEGER: refused for good
        await runtime.bus.publish(TOPIC_RAW_TRADES, [_trade(1), bad, _trade(3)])
        await asyncio.wait_for(runtime.bus.drain(), 10)
        status = runtime.instances["trades"].status()
        assert (status["stored"], status["rejected"]) == (2, 1)
        assert await runtime.dedup.seen([("x", "AAA", 1), ("x", "AAA", 2**63 + 5)]) == [True, False]
    finally:
        await runtime.stop()


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM trades").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0


async def _redis_keys(url: str, prefix: str) -> int:
    client = Redis.from_url(url)
    try:
        return len([key async for key in client.scan_iter(f"{prefix}:*", count=1000)])
    finally:
        await client.aclose()


@pytest.mark.slow
async def test_a_crash_before_the_write_loses_nothing_with_a_shared_dedup(
    testdata: Path, redis_url: str, tmp_path: Path
) -> None:
    prefix = f"test:{uuid.uuid4().hex[:10]}"
    db = tmp_path / "crash.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOVIZ_")}
    env |= {
        "CRYPTOVIZ_STORAGE__SQLITE_PATH": str(db),
        "CRYPTOVIZ_PLUGINS__ENABLED": '["trades"]',
        "CRYPTOVIZ_DEDUP__BACKEND": "redis",
        "CRYPTOVIZ_DEDUP__REDIS_URL": redis_url,
        "CRYPTOVIZ_DEDUP__REDIS_KEY_PREFIX": prefix,
    }
    recording = str(testdata / SPOT)
    # Held in memory: every trade waits for a write that only the end of the replay triggers.
    held = env | {"CRYPTOVIZ_STORAGE__FLUSH_MS": "60000", "CRYPTOVIZ_STORAGE__BATCH_SIZE": "100000"}
    killed = await asyncio.create_subprocess_exec(
        str(CLI), "replay", "--quiet", "--speed", "10", recording,
        env=held, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(3.0)  # about a third of the recording's 91 s at 10x: taken, not stored
        assert killed.returncode is None, "the replay ended before it could be killed"
    finally:
        killed.send_signal(signal.SIGKILL)
        await asyncio.wait_for(killed.wait(), 10)
    assert _stored(db) == 0
    assert await _redis_keys(redis_url, prefix) == 0  # nothing stored, so nothing marked

    again = await asyncio.create_subprocess_exec(
        str(CLI), "replay", "--quiet", recording,
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(again.communicate(), 120)
    assert again.returncode == 0, err.decode()
    assert b"trades ingested:" in out
    assert _stored(db) == SPOT_TRADES
    assert await _redis_keys(redis_url, prefix) == SPOT_TRADES
