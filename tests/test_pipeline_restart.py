"""`cryptoviz replay` end to end, as processes on a real SQLite database.

- Replaying a recording a second time changes nothing: every trade is a duplicate and the
  candles, trades and symbols tables stay byte for byte the same.
- A replay killed with SIGKILL part-way, then replayed again, leaves exactly the tables
  one clean replay leaves (candles with every column, `closed` included): the candles
  plugin resumes from what was stored and never counts a trade twice.

Both run with the default configuration, and again with retention off to check the
pipeline alone where the retention task gets in the way (the XRPETH file spans 59 h, more
than the default 2 days kept of 1s candles).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

pytestmark = pytest.mark.slow

CLI = Path(sysconfig.get_path("scripts")) / "cryptoviz"
DEADLINE_S = 60.0
POLL_S = 0.01
# Every table of the schema, with its primary key as the dump order.
TABLES = {
    "candles": "symbol, interval, open_time",
    "trades": "exchange, symbol, trade_id",
    "symbols": "exchange, symbol",
}


class Recording(NamedTuple):
    path: str
    trades: int
    speed: float
    """A `--speed` at which the replay lasts several seconds, so it can be killed part-way."""


XRPETH = Recording("binance/XRPETH-aggTrades-2019-10-11_13.csv", 12_477, 40_000.0)  # 59 h of trades: ~5 s
SPOT = Recording("binance/spot-BTC-ETH-DOT-2021-04-04.jsonl", 1_910, 20.0)  # 91 s of trades: ~4.5 s
RECORDINGS = {"xrpeth-csv": XRPETH, "spot-jsonl": SPOT}


class Summary(NamedTuple):
    lines: int
    ingested: int
    duplicates: int


NO_RETENTION = (
    "{" + ", ".join(f'"{k}" = 0' for k in ("trades", "1s", "5s", "1m", "15m", "1h", "4h", "1d")) + "}"
)


class TablesDiffer(AssertionError):
    """The database's tables differ from the expected ones."""


def _env(db: Path, *, retention: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOVIZ_")}
    env["CRYPTOVIZ_STORAGE__SQLITE_PATH"] = str(db)
    if not retention:
        env["CRYPTOVIZ_STORAGE__RETENTION_DAYS"] = NO_RETENTION
    return env


def _number(label: str, text: str) -> int:
    match = re.search(rf"^{label}:\s+([\d,]+)", text, re.MULTILINE)
    assert match, f"no `{label}` in the replay summary:\n{text}"
    return int(match.group(1).replace(",", ""))


def replay(db: Path, recording: Path, *, retention: bool = True) -> Summary:
    """A complete `cryptoviz replay` (speed 0) into `db`; its parsed summary."""
    proc = subprocess.run(
        [str(CLI), "replay", "--quiet", str(recording)],
        env=_env(db, retention=retention),
        cwd=db.parent,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S * 2,
    )
    assert proc.returncode == 0, f"replay failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert "interrupted" not in proc.stdout, proc.stdout
    return Summary(
        _number("lines read", proc.stdout),
        _number("trades ingested", proc.stdout),
        _number("duplicates", proc.stdout),
    )


@contextmanager
def read_only(db: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        yield conn


def rows(db: Path, table: str) -> int:
    with read_only(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def stored_trades(db: Path) -> int:
    """Trades committed so far; 0 while the database or its schema does not exist yet."""
    if not db.exists():
        return 0
    try:
        return rows(db, "trades")
    except sqlite3.OperationalError:
        return 0


def span_of_1s_candles(db: Path) -> float:
    """Hours between the first and the newest stored 1s candle, the longest over the symbols."""
    with read_only(db) as conn:
        one_second = "FROM candles c WHERE c.symbol = s.symbol AND c.interval = '1s'"
        hours = conn.execute(
            f"SELECT max((SELECT max(open_time) {one_second}) - (SELECT min(open_time) {one_second}))"
            " / 3600e3 FROM symbols s"
        ).fetchone()[0]
    return float(hours or 0.0)


def copy_db(db: Path, to: Path) -> Path:
    """A consistent copy of `db` (SQLite's online backup)."""
    with read_only(db) as src, closing(sqlite3.connect(to)) as dst:
        src.backup(dst)
    return to


def differences(actual: Path, expected: Path) -> list[str]:
    """How each table of `actual` differs from the one of `expected`, row by row, every column.

    Rows are matched on all their columns (the primary key among them): the tables are
    identical, and so are their ordered dumps, when both have as many rows as match.
    """
    report: list[str] = []
    with read_only(actual) as conn:
        conn.execute("ATTACH DATABASE ? AS expected", (f"file:{expected}?mode=ro",))
        for table, order in TABLES.items():
            columns = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
            assert columns == [r[1] for r in conn.execute(f"PRAGMA expected.table_info({table})")]
            same = " AND ".join(f"a.{c} IS e.{c}" for c in columns)
            n_actual, n_expected, n_same = conn.execute(
                f"SELECT (SELECT count(*) FROM main.{table}), (SELECT count(*) FROM expected.{table}),"
                f" (SELECT count(*) FROM main.{table} a JOIN expected.{table} e ON {same})"
            ).fetchone()
            if n_actual == n_expected == n_same:
                continue
            extra, missing = (
                conn.execute(
                    f"SELECT * FROM {x}.{table} EXCEPT SELECT * FROM {y}.{table} ORDER BY {order} LIMIT 5"
                ).fetchall()
                for x, y in (("main", "expected"), ("expected", "main"))
            )
            report.append(
                f"{table}: {n_actual} rows, {n_expected} expected, {n_same} identical\n"
                f"  unexpected rows: {extra}\n  missing rows:    {missing}"
            )
    return report


def assert_same_tables(actual: Path, expected: Path) -> None:
    report = differences(actual, expected)
    if report:
        raise TablesDiffer(f"{actual} differs from {expected}:\n" + "\n".join(report))


@pytest.fixture(scope="module")
def clean_db(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Recording], Path]:
    """The database one uninterrupted replay of a recording leaves (made once per module)."""
    made: dict[Recording, Path] = {}

    def get(recording: Recording) -> Path:
        if recording not in made:
            db = tmp_path_factory.mktemp("clean") / "clean.db"
            summary = replay(db, testdata / recording.path)
            assert (summary.ingested, summary.duplicates) == (recording.trades, 0)
            made[recording] = db
        return made[recording]

    return get


@pytest.mark.parametrize(
    ("recording", "retention"),
    [
        pytest.param(XRPETH, True, id="xrpeth-csv"),
        pytest.param(XRPETH, False, id="xrpeth-csv-no-retention"),
        pytest.param(SPOT, True, id="spot-jsonl"),
    ],
)  # fmt: skip
def test_replaying_the_same_file_twice_changes_nothing(
    recording: Recording,
    retention: bool,
    testdata: Path,
    tmp_path: Path,
    clean_db: Callable[[Recording], Path],
) -> None:
    db = tmp_path / "twice.db"
    first = replay(db, testdata / recording.path, retention=retention)
    assert (first.ingested, first.duplicates) == (recording.trades, 0)
    assert rows(db, "trades") == recording.trades
    assert_same_tables(db, clean_db(recording))  # two clean runs agree
    before = copy_db(db, tmp_path / "before.db")

    second = replay(db, testdata / recording.path, retention=retention)

    assert second.lines == first.lines
    assert (second.ingested, second.duplicates) == (0, recording.trades)
    assert_same_tables(db, before)


def replay_killed(
    db: Path, recording: Path, speed: float, ready: Callable[[], bool], *, retention: bool
) -> int:
    """Start a paced replay into `db`, SIGKILL it once `ready()`; the number of trades it had committed."""
    log = db.parent / "killed-replay.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CLI), "replay", "--quiet", "--speed", str(speed), str(recording)],
            env=_env(db, retention=retention), cwd=db.parent, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + DEADLINE_S
            while not ready():
                assert proc.poll() is None, (
                    f"the replay ended (exit {proc.returncode}) before the kill point, {stored_trades(db)}"
                    " trades stored:\n" + log.read_text(errors="replace")
                )
                assert time.monotonic() < deadline, f"kill point not reached after {DEADLINE_S}s"
                time.sleep(POLL_S)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=DEADLINE_S)
    assert proc.returncode == -signal.SIGKILL, log.read_text(errors="replace")
    return stored_trades(db)


class KillPoint(NamedTuple):
    recording: Recording
    stored_at_least: int
    """Trades committed when the replay is killed."""
    retention: bool = True
    past_hours: float = 0.0
    """The 1s candles stored at the kill span more than this many hours."""
    speed: float | None = None
    """Replay speed, when the recording's own leaves too short a window before it ends."""

    def reached(self, db: Path) -> bool:
        if stored_trades(db) < self.stored_at_least:
            return False
        return not self.past_hours or span_of_1s_candles(db) > self.past_hours


KILL_POINTS = [
    pytest.param(KillPoint(XRPETH, 1), id="xrpeth-csv-after-first-write"),
    pytest.param(KillPoint(XRPETH, XRPETH.trades // 2), id="xrpeth-csv-halfway"),
    pytest.param(KillPoint(SPOT, 1), id="spot-jsonl-after-first-write"),
    pytest.param(KillPoint(SPOT, SPOT.trades // 2), id="spot-jsonl-halfway"),
    # Stored 1s candles past the 2 days kept by default (trade 10,066 is 48 h into the file).
    # At 15,000x the last 10.5 h of trades take 2.5 s: room for the poller on a loaded machine.
    pytest.param(KillPoint(XRPETH, 10_066, past_hours=48.5, speed=15_000.0), id="xrpeth-csv-past-48h"),
    pytest.param(KillPoint(XRPETH, 10_066, retention=False, past_hours=48.5, speed=15_000.0),
                 id="xrpeth-csv-past-48h-no-retention"),
]  # fmt: skip


@pytest.mark.parametrize("kill", KILL_POINTS)
def test_sigkill_mid_replay_then_replay_again_equals_one_clean_replay(
    kill: KillPoint, testdata: Path, tmp_path: Path, clean_db: Callable[[Recording], Path]
) -> None:
    recording = kill.recording
    reference = clean_db(recording)
    db = tmp_path / "killed.db"
    source = testdata / recording.path

    speed = kill.speed or recording.speed
    stored = replay_killed(db, source, speed, lambda: kill.reached(db), retention=kill.retention)

    assert 0 < stored < recording.trades, f"the kill was not mid-replay: {stored} trades stored"
    assert rows(db, "candles") < rows(reference, "candles")  # candles are written apart from trades
    if kill.past_hours:  # early kill points may stop before a second 1s candle exists
        hours = span_of_1s_candles(db)
        assert hours > kill.past_hours, f"1s candles stored over {hours:.1f} h, not past {kill.past_hours} h"
    resumed = replay(db, source, retention=kill.retention)
    assert (resumed.ingested, resumed.duplicates) == (recording.trades - stored, stored)
    assert_same_tables(db, reference)
