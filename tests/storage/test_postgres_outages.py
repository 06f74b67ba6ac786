"""PostgreSQL going away: a start waits for it, writes fail as retriable while it is down,
the pool recovers when it is back, and a replay through a restart of the server loses
nothing (its tables equal those of an embedded run)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cryptoviz.config import Config
from cryptoviz.errors import StorageUnavailable
from cryptoviz.replay.command import replay_plugins
from cryptoviz.runtime import Runtime
from cryptoviz.storage.postgres import PostgresStorage
from cryptoviz.tasks import retry_forever
from tests.conftest import make_config
from tests.servers import PostgresServer, ServerUnavailable, launch, unavailable
from tests.servers.processes import install
from tests.storage.postgres_db import differences, dump_postgres, dump_sqlite, fresh_database, query
from tests.storage.test_sqlite import trade

pytestmark = pytest.mark.slow
DEADLINE = 120.0
SPOT = ("binance/spot-BTC-ETH-DOT-2021-04-04.jsonl", 1_910)  # 91 s of trades
PLUGINS = '["trades", "candles", "indicators"]'


@pytest.fixture
def private_postgres(servers_dir: Path) -> Iterator[PostgresServer]:
    """A server of this test's own, which it may stop and start again."""
    try:
        server = launch(PostgresServer, "postgres", servers_dir)
    except ServerUnavailable as exc:
        unavailable(exc)
    yield server
    server.stop()


async def test_writes_fail_retriably_while_the_server_is_down_and_the_pool_recovers(
    private_postgres: PostgresServer,
) -> None:
    async with fresh_database(private_postgres.dsn) as dsn:
        store = PostgresStorage(dsn, pool_min=2, pool_max=2, timeout_seconds=5)
        await store.open()
        try:
            assert await store.insert_trades([trade(1, 1)]) == 1
            await asyncio.to_thread(private_postgres.stop)
            for attempt in (store.ping(), store.insert_trades([trade(2, 2)]), store.latest_trade("AAA")):
                with pytest.raises(StorageUnavailable) as down:
                    await attempt
                assert down.value.retriable
            await asyncio.to_thread(private_postgres.start)
            # What the handlers do: retry until it works. Each dead pooled connection fails once.
            assert await retry_forever(lambda: store.insert_trades([trade(2, 2)]), "insert") == 1
            await retry_forever(store.ping, "ping")
            assert [t.trade_id for t in await store.trades_after("AAA", 0, 10)] == [1, 2]
        finally:
            await store.close()


async def test_a_start_waits_for_a_server_that_is_not_up_yet(
    servers_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        await asyncio.to_thread(install, "postgres")
    except ServerUnavailable as exc:
        unavailable(exc)
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="postgres-late-", dir=servers_dir)))
    store = PostgresStorage(server.dsn, timeout_seconds=5)
    with caplog.at_level(logging.WARNING, logger="cryptoviz.storage.postgres_pool"):
        opening = asyncio.ensure_future(store.open())
        try:
            await asyncio.sleep(1.0)
            assert not opening.done()
            await asyncio.to_thread(server.start)
            await asyncio.wait_for(opening, DEADLINE)
            assert await store.insert_trades([trade(1, 1)]) == 1
        finally:
            opening.cancel()
            await store.close()
            await asyncio.to_thread(server.stop)
    assert "retrying in" in caplog.text


def _config(folder: Path, **overrides: str) -> Config:
    folder.mkdir()
    return make_config(folder, PLUGINS__ENABLED=PLUGINS, **overrides)


async def _replay(config: Config, recording: Path, speed: float | None) -> Runtime:
    runtime = Runtime(
        config, replay_plugins(config, [str(recording)], speed), live=False, drain_timeout=DEADLINE
    )
    await asyncio.wait_for(runtime.start(), DEADLINE)
    return runtime


async def _finish(runtime: Runtime) -> dict[str, Any]:
    try:
        await asyncio.wait_for(runtime.instances["replay"].done.wait(), DEADLINE)  # type: ignore[attr-defined]
    finally:
        await runtime.stop()
    assert runtime.tasks.crashes == 0
    status: dict[str, Any] = runtime.instances["trades"].status()
    return status


async def test_a_restart_of_the_server_mid_replay_loses_nothing(
    private_postgres: PostgresServer, testdata: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, trades = SPOT
    recording = testdata / path
    reference = _config(tmp_path / "embedded")
    assert (await _finish(await _replay(reference, recording, None)))["stored"] == trades

    async with fresh_database(private_postgres.dsn) as dsn:
        config = _config(tmp_path / "pg", STORAGE__BACKEND="postgres", STORAGE__POSTGRES_DSN=dsn)
        with caplog.at_level(logging.WARNING):
            runtime = await _replay(config, recording, 20.0)  # about 4.5 s of trades
            try:
                deadline = asyncio.get_running_loop().time() + DEADLINE
                while (await query(dsn, "SELECT count(*) FROM trades"))[0][0] < trades // 4:
                    assert asyncio.get_running_loop().time() < deadline, "the replay stored too little"
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(private_postgres.stop)
                await asyncio.sleep(1.5)  # writes fail meanwhile and are retried
                await asyncio.to_thread(private_postgres.start)
            finally:
                status = await _finish(runtime)
        # A batch whose COMMIT reached the server just before it stopped is retried and then
        # finds its rows stored: the handler's counter skips it, the tables below must not.
        assert status["rejected"] == 0
        assert status["stored"] <= trades
        assert "storing trades failed" in caplog.text  # the outage did hit the writers
        assert (await query(dsn, "SELECT count(*) FROM trades"))[0][0] == trades
        report = differences(await dump_postgres(dsn), dump_sqlite(Path(reference.storage.sqlite_path)))
        assert not report, "\n".join(report)
