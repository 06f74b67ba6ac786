"""Indicators through SIGKILL: `cryptoviz replay` of the XRPETH recording killed part-way, then
replayed again, leaves exactly the indicator points and states of one clean replay, and they
equal TA-Lib on the stored closes.

Run with the candles plugin started before the indicators plugin (the usual order: its
catch-up after the kill is published before the indicators join the bus) and after it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sysconfig
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from tests.plugins.test_indicators import talib_check

pytestmark = pytest.mark.slow

CLI = Path(sysconfig.get_path("scripts")) / "cryptoviz"
XRPETH = "binance/XRPETH-aggTrades-2019-10-11_13.csv"
TRADES = 12_477
SPEED = "40000"  # the 59 h of trades in about 5 s
DEADLINE_S = 60.0
TABLES = {
    "indicators": ("symbol, interval, ts", "*"),
    "indicator_state": ("symbol, interval", "symbol, interval, ts, state"),
    "candles": ("symbol, interval, open_time", "symbol, interval, open_time, close, closed, last_trade_id"),
}
ORDERS = {
    "candles-first": '["trades", "candles", "indicators"]',
    "indicators-first": '["trades", "indicators", "candles"]',
}


def env(db: Path, order: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOVIZ_")}
    return clean | {
        "CRYPTOVIZ_STORAGE__SQLITE_PATH": str(db),
        "CRYPTOVIZ_PLUGINS__ENABLED": ORDERS[order],
        "CRYPTOVIZ_PLUGINS__CANDLES__INTERVALS": '["1m", "1h"]',
        "CRYPTOVIZ_PLUGINS__INDICATORS__INTERVALS": '["1m", "1h"]',
    }


def replay(db: Path, source: Path, order: str) -> str:
    proc = subprocess.run(
        [str(CLI), "replay", "--quiet", str(source)],
        env=env(db, order), cwd=db.parent, capture_output=True, text=True, timeout=DEADLINE_S * 2,
    )  # fmt: skip
    assert proc.returncode == 0, f"replay failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def count(db: Path, sql: str) -> int:
    """A count, 0 while the database or its schema does not exist yet."""
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def dump(db: Path, table: str) -> list[tuple[object, ...]]:
    order, columns = TABLES[table]
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()


def replay_killed(db: Path, source: Path, order: str, ready: Callable[[], bool]) -> int:
    """A paced replay SIGKILLed once `ready()`; the trades it had stored."""
    log = db.parent / "killed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CLI), "replay", "--quiet", "--speed", SPEED, str(source)],
            env=env(db, order), cwd=db.parent, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + DEADLINE_S
            while not ready():
                assert proc.poll() is None, "the replay ended before the kill point:\n" + log.read_text()
                assert time.monotonic() < deadline, f"kill point not reached after {DEADLINE_S}s"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=DEADLINE_S)
    assert proc.returncode == -signal.SIGKILL, log.read_text()
    return count(db, "SELECT count(*) FROM trades")


@pytest.fixture(scope="module")
def clean_db(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    replay(db, testdata / XRPETH, "candles-first")
    return db


def test_a_clean_replay_equals_talib(clean_db: Path) -> None:
    assert count(clean_db, "SELECT count(*) FROM trades") == TRADES
    assert talib_check(clean_db, "XRPETH", "1m") == 14_160
    assert talib_check(clean_db, "XRPETH", "1h") == 160


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("at_least", [1, TRADES // 2], ids=["after-first-state", "halfway"])
def test_sigkill_mid_replay_then_replay_again_continues_every_series_exactly(
    order: str, at_least: int, testdata: Path, tmp_path: Path, clean_db: Path
) -> None:
    db = tmp_path / "killed.db"

    def ready() -> bool:
        return (
            count(db, "SELECT count(*) FROM indicator_state") > 0
            and count(db, "SELECT count(*) FROM trades") >= at_least
        )

    stored = replay_killed(db, testdata / XRPETH, order, ready)
    assert 0 < stored < TRADES, f"the kill was not mid-replay: {stored} trades stored"
    assert count(db, "SELECT count(*) FROM indicators") < count(clean_db, "SELECT count(*) FROM indicators")

    replay(db, testdata / XRPETH, order)

    for table in TABLES:
        assert dump(db, table) == dump(clean_db, table), table
    assert talib_check(db, "XRPETH", "1m") == 14_160
    assert talib_check(db, "XRPETH", "1h") == 160
