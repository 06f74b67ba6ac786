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
    # 2: indicator points (final values only) and each series' resumable state
    """
    CREATE TABLE indicators (
        symbol TEXT NOT NULL,
        interval TEXT NOT NULL,
        type TEXT NOT NULL,
        ts INTEGER NOT NULL,
        value REAL NOT NULL,
        signal REAL,
        histogram REAL,
        upper REAL,
        lower REAL,
        PRIMARY KEY (symbol, interval, type, ts)
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
