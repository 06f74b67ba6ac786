"""Trades counted per (exchange, symbol) on the real in-memory bus, and everything else
passed through untouched."""

from __future__ import annotations

from decimal import Decimal

from cryptoviz.bus.memory import MemoryBus
from cryptoviz.models import TOPIC_NEWS, TOPIC_RAW_TRADES, Trade
from cryptoviz.observability.ingest import CountingBus, CountingSubscription


def trade(exchange: str, symbol: str, trade_id: int) -> Trade:
    return Trade(exchange, symbol, trade_id, Decimal("1"), Decimal("1"), trade_id, False)


async def test_published_and_handler_reads_are_counted_per_pair() -> None:
    bus = CountingBus(MemoryBus(queue_batches=8, max_batch=3))
    await bus.start()
    handler = bus.subscribe([TOPIC_RAW_TRADES], "trades", Trade)
    candles = bus.subscribe([TOPIC_RAW_TRADES], "candles", Trade)
    news = bus.subscribe([TOPIC_NEWS], "trades", dict)
    assert isinstance(handler, CountingSubscription)
    assert not isinstance(candles, CountingSubscription)  # only the trades handler's reads count
    assert not isinstance(news, CountingSubscription)
    batch = [trade("binance", "BTCUSDT", i) for i in range(5)] + [trade("kraken", "BTCUSDT", 1)]
    await bus.publish(TOPIC_RAW_TRADES, batch)
    await bus.publish(TOPIC_RAW_TRADES, [trade("binance", "ETHUSDT", 9)])
    assert bus.published.pairs == {
        ("binance", "BTCUSDT"): 5,
        ("kraken", "BTCUSDT"): 1,
        ("binance", "ETHUSDT"): 1,
    }
    assert bus.received.pairs == {}  # nothing read yet
    assert bus.depths()["crypto.raw.trades/trades"] == 3  # 6 trades in batches of 3, then 1
    read = [await handler.get() for _ in range(2)]
    assert [len(messages) for _, messages in read] == [3, 3]
    assert bus.received.pairs == {("binance", "BTCUSDT"): 5, ("kraken", "BTCUSDT"): 1}
    await handler.commit()
    assert handler.generation == 0
    await handler.wait_for_group("candles")
    await bus.stop()
