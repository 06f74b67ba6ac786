"""PostgreSQL schema: ordered migrations, the optional TimescaleDB layout, and the SQL of
trades, candles and symbols (news and indicators keep theirs in their own modules).

Prices and quantities are NUMERIC without a declared scale, so each value keeps its own
digits and trailing zeros. Text keys use the "C" collation, so symbols and ids sort by
their bytes, as in SQLite, whatever the database's locale. Batches go in as arrays
(`unnest`), one statement per table whatever the batch size.
"""

from __future__ import annotations

from typing import Final

MIGRATION_LOCK: Final = 0x63727970746F7669  # "cryptovi": serialises instances migrating one database
CREATE_VERSION_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS cryptoviz_migrations ("
    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
LOCK_MIGRATIONS: Final = "SELECT pg_advisory_xact_lock($1)"
SCHEMA_VERSION: Final = "SELECT coalesce(max(version), 0) FROM cryptoviz_migrations"
RECORD_VERSION: Final = "INSERT INTO cryptoviz_migrations (version) VALUES ($1)"

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: trades, candles, symbols, indicators (one row per candle, a column per value, as
    # in SQLite) with each series' resumable state, news and its symbol tags.
    """
    CREATE TABLE trades (
        exchange text COLLATE "C" NOT NULL,
        symbol text COLLATE "C" NOT NULL,
        trade_id bigint NOT NULL,
        price numeric NOT NULL,
        quantity numeric NOT NULL,
        time bigint NOT NULL,
        buyer_is_maker boolean NOT NULL,
        count bigint NOT NULL,
        event_time bigint NOT NULL,
        received_at bigint NOT NULL,
        PRIMARY KEY (symbol, trade_id, exchange)
    );
    CREATE INDEX trades_by_symbol_time ON trades (symbol, time);
    CREATE TABLE candles (
        symbol text COLLATE "C" NOT NULL,
        interval text COLLATE "C" NOT NULL,
        open_time bigint NOT NULL,
        open numeric NOT NULL,
        high numeric NOT NULL,
        low numeric NOT NULL,
        close numeric NOT NULL,
        volume numeric NOT NULL,
        trades bigint NOT NULL,
        quote_volume numeric NOT NULL,
        taker_buy_volume numeric NOT NULL,
        closed boolean NOT NULL,
        last_trade_id bigint NOT NULL,
        PRIMARY KEY (symbol, interval, open_time)
    );
    CREATE TABLE symbols (
        exchange text COLLATE "C" NOT NULL,
        symbol text COLLATE "C" NOT NULL,
        first_trade bigint NOT NULL,
        last_trade bigint NOT NULL,
        PRIMARY KEY (exchange, symbol)
    );
    CREATE TABLE indicators (
        symbol text COLLATE "C" NOT NULL,
        interval text COLLATE "C" NOT NULL,
        ts bigint NOT NULL,
        rsi double precision,
        macd double precision,
        macd_signal double precision,
        macd_histogram double precision,
        bollinger_middle double precision,
        bollinger_upper double precision,
        bollinger_lower double precision,
        momentum double precision,
        PRIMARY KEY (symbol, interval, ts)
    );
    CREATE TABLE indicator_state (
        symbol text COLLATE "C" NOT NULL,
        interval text COLLATE "C" NOT NULL,
        ts bigint NOT NULL,
        state bytea NOT NULL,
        PRIMARY KEY (symbol, interval)
    );
    CREATE TABLE news (
        id text COLLATE "C" PRIMARY KEY,
        title text NOT NULL,
        url text NOT NULL,
        source text NOT NULL,
        published_at bigint NOT NULL,
        summary text NOT NULL,
        symbols text[] NOT NULL,
        sentiment double precision NOT NULL
    );
    CREATE INDEX news_by_time ON news (published_at, id);
    CREATE TABLE news_symbols (
        symbol text COLLATE "C" NOT NULL,
        published_at bigint NOT NULL,
        id text COLLATE "C" NOT NULL,
        PRIMARY KEY (symbol, published_at, id)
    );
    """,
)

TIMESCALE_AVAILABLE: Final = "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'timescaledb'"
TIMESCALE_DONE: Final = "SELECT count(*) > 0 FROM pg_proc WHERE proname = 'cryptoviz_newest_trade'"
TIMESCALE_LAYOUT: Final = """
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    ALTER TABLE trades DROP CONSTRAINT trades_pkey, ADD PRIMARY KEY (symbol, trade_id, exchange, time);
    SELECT create_hypertable('trades', 'time', chunk_time_interval => 86400000, migrate_data => true);
    SELECT create_hypertable('candles', 'open_time', chunk_time_interval => 604800000, migrate_data => true);
    SELECT create_hypertable('indicators', 'ts', chunk_time_interval => 604800000, migrate_data => true);
    CREATE FUNCTION cryptoviz_newest_trade() RETURNS bigint LANGUAGE sql STABLE
        AS 'SELECT coalesce(max(time), 0) FROM trades';
    CREATE FUNCTION cryptoviz_newest_candle() RETURNS bigint LANGUAGE sql STABLE
        AS 'SELECT coalesce(max(open_time), 0) FROM candles';
    CREATE FUNCTION cryptoviz_newest_indicator() RETURNS bigint LANGUAGE sql STABLE
        AS 'SELECT coalesce(max(ts), 0) FROM indicators';
    SELECT set_integer_now_func('trades', 'cryptoviz_newest_trade');
    SELECT set_integer_now_func('candles', 'cryptoviz_newest_candle');
    SELECT set_integer_now_func('indicators', 'cryptoviz_newest_indicator');
    ALTER TABLE trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, exchange',
        timescaledb.compress_orderby = 'trade_id');
    ALTER TABLE candles SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, interval',
        timescaledb.compress_orderby = 'open_time');
    SELECT add_compression_policy('trades', compress_after => 172800000);
    SELECT add_compression_policy('candles', compress_after => 1209600000);
"""
"""Hypertables on the time columns (the trades key gains `time`, which a trade never
changes), "now" taken as the newest row, as the retention counts, and compression of
trades after 2 days and candles after 14 (days of data, not of the wall clock). Its
functions mark the layout as done."""
TIMESCALE_RETENTION: Final = (
    "SELECT add_retention_policy('trades', drop_after => $1::bigint, if_not_exists => true)"
)
"""Drops whole chunks of trades older than the retention; the per-symbol prune stays exact."""

INSERT_TRADES: Final = (
    "INSERT INTO trades (exchange, symbol, trade_id, price, quantity, time, buyer_is_maker, count,"
    " event_time, received_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[],"
    " $5::numeric[], $6::bigint[], $7::boolean[], $8::bigint[], $9::bigint[], $10::bigint[])"
    " ON CONFLICT DO NOTHING"
)
UPSERT_SYMBOLS: Final = (
    "INSERT INTO symbols (exchange, symbol, first_trade, last_trade)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])"
    " ON CONFLICT (exchange, symbol) DO UPDATE SET first_trade = least(symbols.first_trade,"
    " excluded.first_trade), last_trade = greatest(symbols.last_trade, excluded.last_trade)"
)
UPSERT_CANDLES: Final = (
    "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, trades, quote_volume,"
    " taker_buy_volume, closed, last_trade_id) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[],"
    " $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::bigint[],"
    " $10::numeric[], $11::numeric[], $12::boolean[], $13::bigint[])"
    " ON CONFLICT (symbol, interval, open_time) DO UPDATE SET open = excluded.open, high = excluded.high,"
    " low = excluded.low, close = excluded.close, volume = excluded.volume, trades = excluded.trades,"
    " quote_volume = excluded.quote_volume, taker_buy_volume = excluded.taker_buy_volume,"
    " closed = excluded.closed, last_trade_id = excluded.last_trade_id"
    " WHERE (candles.last_trade_id, candles.closed) <= (excluded.last_trade_id, excluded.closed)"
)
"""A version of a candle never replaces one that counted more trades (or the same, closed):
with several instances, a late write of an older version cannot undo a newer one."""
_CANDLE: Final = (
    "SELECT symbol, interval, open_time, open, high, low, close, volume, trades, quote_volume,"
    " taker_buy_volume, closed, last_trade_id FROM candles WHERE symbol = $1 AND interval = $2"
)
CANDLES_FORWARD: Final = _CANDLE + " AND open_time BETWEEN $3 AND $4 ORDER BY open_time LIMIT $5"
CANDLES_BACKWARD: Final = _CANDLE + " AND open_time BETWEEN $3 AND $4 ORDER BY open_time DESC LIMIT $5"
LATEST_CANDLES: Final = (
    "SELECT c.symbol, c.interval, c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades,"
    " c.quote_volume, c.taker_buy_volume, c.closed, c.last_trade_id"
    " FROM unnest($2::text[]) WITH ORDINALITY AS i(interval, n) CROSS JOIN LATERAL"
    " (SELECT * FROM candles WHERE symbol = $1 AND interval = i.interval"
    " ORDER BY open_time DESC LIMIT 1) c ORDER BY i.n"
)
"""The newest candle of each interval, in the order given: one index probe per interval."""
_TRADE: Final = (
    "SELECT exchange, symbol, trade_id, price, quantity, time, buyer_is_maker, count, event_time,"
    " received_at FROM trades WHERE symbol = $1"
)
TRADES_AFTER: Final = _TRADE + " AND trade_id > $2 ORDER BY trade_id, exchange LIMIT $3"
LATEST_TRADE: Final = _TRADE + " ORDER BY time DESC, trade_id DESC LIMIT 1"
LAST_TRADE_IDS: Final = (
    "SELECT s.exchange, s.symbol, (SELECT max(t.trade_id) FROM trades t"
    " WHERE t.symbol = s.symbol AND t.exchange = s.exchange) FROM symbols s"
)
SYMBOLS: Final = "SELECT symbol, exchange, first_trade, last_trade FROM symbols ORDER BY symbol, exchange"
FIRST_PRICE_SINCE: Final = (
    "SELECT price FROM trades WHERE symbol = $1 AND time >= $2 ORDER BY time, trade_id LIMIT 1"
)
TRADES_BETWEEN: Final = "SELECT price, quantity FROM trades WHERE symbol = $1 AND time >= $2 AND time < $3"
TRADES_PAST_ID: Final = "SELECT price, quantity FROM trades WHERE symbol = $1 AND trade_id > $2"
TRADES_SINCE: Final = "SELECT price, quantity FROM trades WHERE symbol = $1 AND time >= $2"
PRUNE_TRADES: Final = (
    "DELETE FROM trades WHERE symbol = $1 AND time < (SELECT max(time) FROM trades WHERE symbol = $1) - $2"
)
PRUNE_CANDLES: Final = (
    "DELETE FROM candles WHERE symbol = $1 AND interval = $2 AND open_time <"
    " (SELECT max(open_time) FROM candles WHERE symbol = $1 AND interval = $2) - $3"
)
