"""SQLite schema, as ordered migrations tracked by `PRAGMA user_version`.

Decimals are stored as TEXT so they come back exactly as they went in.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: trades, candles, symbols
    """
    CREATE TABLE trades (
        exchange TEXT NOT NULL,
        symbol TEXT NOT NULL,
        trade_id INTEGER NOT NULL,
        price TEXT NOT NULL,
        quantity TEXT NOT NULL,
        time INTEGER NOT NULL,
        buyer_is_maker INTEGER NOT NULL,
        count INTEGER NOT NULL,
        event_time INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (symbol, trade_id, exchange)  -- also serves "trades of a symbol after id N"
    ) WITHOUT ROWID;
    CREATE INDEX trades_by_symbol_time ON trades (symbol, time);
    CREATE TABLE candles (
        symbol TEXT NOT NULL,
        interval TEXT NOT NULL,
        open_time INTEGER NOT NULL,
        open TEXT NOT NULL,
        high TEXT NOT NULL,
        low TEXT NOT NULL,
        close TEXT NOT NULL,
        volume TEXT NOT NULL,
        trades INTEGER NOT NULL,
        quote_volume TEXT NOT NULL,
        taker_buy_volume TEXT NOT NULL,
        closed INTEGER NOT NULL,
        last_trade_id INTEGER NOT NULL,
        PRIMARY KEY (symbol, interval, open_time)
    ) WITHOUT ROWID;
    CREATE TABLE symbols (
        exchange TEXT NOT NULL,
        symbol TEXT NOT NULL,
        first_trade INTEGER NOT NULL,
        last_trade INTEGER NOT NULL,
        PRIMARY KEY (exchange, symbol)
    ) WITHOUT ROWID;
    """,
    # 2: indicator points (final values only) and each series' resumable state. One row per
    # candle, a column per value (NULL while an indicator warms up): a tenth of the write
    # cost of one row per point.
    """
    CREATE TABLE indicators (
        symbol TEXT NOT NULL,
        interval TEXT NOT NULL,
        ts INTEGER NOT NULL,
        rsi REAL,
        macd REAL,
        macd_signal REAL,
        macd_histogram REAL,
        bollinger_middle REAL,
        bollinger_upper REAL,
        bollinger_lower REAL,
        momentum REAL,
        PRIMARY KEY (symbol, interval, ts)
    ) WITHOUT ROWID;
    CREATE TABLE indicator_state (
        symbol TEXT NOT NULL,
        interval TEXT NOT NULL,
        ts INTEGER NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (symbol, interval)
    ) WITHOUT ROWID;
    """,
    # 3: news items and their symbol tags
    """
    CREATE TABLE news (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        summary TEXT NOT NULL,
        symbols TEXT NOT NULL,
        sentiment REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX news_by_time ON news (published_at, id);
    CREATE TABLE news_symbols (
        symbol TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (symbol, published_at, id)
    ) WITHOUT ROWID;
    """,
)

INSERT_TRADE = (
    "INSERT OR IGNORE INTO trades (exchange, symbol, trade_id, price, quantity, time, buyer_is_maker,"
    " count, event_time, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
TRADES_PER_STATEMENT = 50
"""Rows per multi-row INSERT: half the cost of one row per statement, and 500 bound
variables stay under SQLite's smallest limit (999)."""
INSERT_TRADES = (
    "INSERT OR IGNORE INTO trades (exchange, symbol, trade_id, price, quantity, time, buyer_is_maker,"  # noqa: S608
    " count, event_time, received_at) VALUES "  # only placeholders are joined, once, at import
    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * TRADES_PER_STATEMENT)
)
UPSERT_SYMBOL = (
    "INSERT INTO symbols (exchange, symbol, first_trade, last_trade) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (exchange, symbol) DO UPDATE SET"
    " first_trade = min(first_trade, excluded.first_trade), last_trade = max(last_trade, excluded.last_trade)"
)
UPSERT_CANDLE = (
    "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, trades,"
    " quote_volume, taker_buy_volume, closed, last_trade_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (symbol, interval, open_time) DO UPDATE SET open = excluded.open,"
    " high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume,"
    " trades = excluded.trades, quote_volume = excluded.quote_volume,"
    " taker_buy_volume = excluded.taker_buy_volume, closed = excluded.closed,"
    " last_trade_id = excluded.last_trade_id"
)
_CANDLE = (
    "SELECT symbol, interval, open_time, open, high, low, close, volume, trades, quote_volume,"
    " taker_buy_volume, closed, last_trade_id FROM candles WHERE symbol = ? AND interval = ?"
)
CANDLES_FORWARD = _CANDLE + " AND open_time BETWEEN ? AND ? ORDER BY open_time LIMIT ?"
CANDLES_BACKWARD = _CANDLE + " AND open_time BETWEEN ? AND ? ORDER BY open_time DESC LIMIT ?"
LATEST_CANDLE = _CANDLE + " ORDER BY open_time DESC LIMIT 1"
_TRADE = (
    "SELECT exchange, symbol, trade_id, price, quantity, time, buyer_is_maker, count, event_time,"
    " received_at FROM trades WHERE symbol = ?"
)
TRADES_AFTER = _TRADE + " AND trade_id > ? ORDER BY trade_id LIMIT ?"
LATEST_TRADE = _TRADE + " ORDER BY time DESC, trade_id DESC LIMIT 1"
INDICATOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "rsi": ("rsi",),
    "macd": ("macd", "macd_signal", "macd_histogram"),
    "bollinger": ("bollinger_middle", "bollinger_upper", "bollinger_lower"),
    "momentum": ("momentum",),
}
"""Columns of each indicator type: its `value`, then `signal` and `histogram` or `upper` and `lower`."""
INDICATOR_VALUES = tuple(c for columns in INDICATOR_COLUMNS.values() for c in columns)


def _upsert_indicators(rows: int) -> str:
    """A row sets the values it carries and keeps the others, so one type can be upserted
    alone. Only this module's names and placeholders are joined, once, at import."""
    row = "(" + ", ".join(["?"] * (3 + len(INDICATOR_VALUES))) + ")"
    return (
        f"INSERT INTO indicators (symbol, interval, ts, {', '.join(INDICATOR_VALUES)})"  # noqa: S608
        f" VALUES {', '.join([row] * rows)} ON CONFLICT (symbol, interval, ts) DO UPDATE SET "
        + ", ".join(f"{c} = coalesce(excluded.{c}, {c})" for c in INDICATOR_VALUES)
    )


INDICATOR_ROWS_PER_STATEMENT = 40
"""Rows per multi-row upsert: 440 bound variables, under SQLite's smallest limit (999)."""
UPSERT_INDICATORS = _upsert_indicators(INDICATOR_ROWS_PER_STATEMENT)
UPSERT_INDICATOR = _upsert_indicators(1)
UPSERT_INDICATOR_STATE = (
    "INSERT OR REPLACE INTO indicator_state (symbol, interval, ts, state) VALUES (?, ?, ?, ?)"
)
INDICATOR_STATES = "SELECT symbol, interval, ts, state FROM indicator_state ORDER BY symbol, interval"
INDICATORS_FORWARD = {
    kind: f"SELECT ts, {', '.join(columns)} FROM indicators WHERE symbol = ? AND interval = ?"  # noqa: S608
    f" AND {columns[0]} IS NOT NULL AND ts BETWEEN ? AND ? ORDER BY ts LIMIT ?"
    for kind, columns in INDICATOR_COLUMNS.items()
}
INDICATORS_BACKWARD = {
    kind: sql.replace("ORDER BY ts", "ORDER BY ts DESC") for kind, sql in INDICATORS_FORWARD.items()
}
PRUNE_INDICATORS = (
    "DELETE FROM indicators WHERE symbol = ? AND interval = ? AND ts <"
    " (SELECT max(ts) FROM indicators WHERE symbol = ? AND interval = ?) - ?"
)
