"""News: RSS, Atom and CryptoPanic -> `crypto.news` -> dedup -> storage.

Two roles, both on by default and separable for scale-out, as in the candles plugin:
`collect` polls every feed on its own schedule and publishes the articles it has not
seen before (see `cryptoviz.news.poller`); `store` consumes `crypto.news`, filters
recent repeats through the dedup cache and stores the rest (unique by id, so a repeat
the cache missed changes nothing). The hub consumes `crypto.news` itself.

Readiness: each feed's state is in `status()["feeds"]`, but a failing feed does not make
the appliance unready. Feeds are third-party sites that fail on their own schedule, and
the market data and every stored article are still served; `ok` turns False only when
this plugin's own tasks have died.

Stop: the runtime stops collectors first, so `stop()` ends the polling and closes the
HTTP client; the store role then drains with the bus like every handler, and its task
ends with the runtime's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import msgspec

from cryptoviz.batching import BatchingConsumer
from cryptoviz.dedup.writer import DedupWriter
from cryptoviz.models import TOPIC_NEWS, NewsItem
from cryptoviz.news.fetch import Fetcher
from cryptoviz.news.normalise import Enricher
from cryptoviz.news.poller import (
    FeedPoller,
    FeedSpec,
    NewsPipeline,
    RecentIds,
    cryptopanic_spec,
    display_name,
)
from cryptoviz.news.sentiment import SentimentScorer
from cryptoviz.news.tagging import KeywordTagger
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.tasks import cancel_and_wait

log = logging.getLogger(__name__)


def news_key(item: NewsItem) -> tuple[str, str]:
    return ("news", item.id)


def describe_item(item: NewsItem) -> str:
    return f"{item.id} ({item.url})"


RECENT_IDS = 100_000
"""Ids of published articles remembered in memory; older ones are checked against storage."""

_FEED = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=2048, pattern=r"^(?:(?:https?|file)://|(?![A-Za-z][\w+.-]*://))."),
]
_SYMBOL = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]{2,20}$")]
_KEYWORD = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
DEFAULT_FEEDS = [
    "https://www.coindesk.com/arc/outboundfeeds/rss",
    "https://cointelegraph.com/rss",
    "https://decrypt.co/feed",
]
DEFAULT_KEYWORDS = {
    "BTCUSDT": ["bitcoin", "btc"],
    "ETHUSDT": ["ethereum", "eth", "ether"],
    "SOLUSDT": ["solana", "sol"],
    "BNBUSDT": ["bnb", "binance coin"],
    "XRPUSDT": ["xrp", "ripple"],
    "DOGEUSDT": ["dogecoin", "doge"],
    "ADAUSDT": ["cardano", "ada"],
    "DOTUSDT": ["polkadot"],
    "LINKUSDT": ["chainlink"],
    "LTCUSDT": ["litecoin", "ltc"],
}


class NewsConfig(msgspec.Struct, forbid_unknown_fields=True):
    feeds: Annotated[list[_FEED], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_FEEDS)
    )
    """RSS or Atom feeds: http(s) URLs, or local paths (file:// or plain) read from disk."""
    poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 60.0
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 20.0
    """Deadline for one fetch: connect, headers and the whole body."""
    max_bytes: Annotated[int, msgspec.Meta(ge=1024, le=100_000_000)] = 5_000_000
    """A larger body is cut, reported and not parsed."""
    max_items: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 200
    """Entries read per fetch at most, in document order."""
    retry_base_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 1.0
    retry_cap_seconds: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 600.0
    """A failing feed is retried after a jittered delay that doubles up to this cap."""
    cryptopanic_token: Annotated[str, msgspec.Meta(max_length=200)] = ""
    """Empty: CryptoPanic is not polled."""
    cryptopanic_url: Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$")] = (
        "https://cryptopanic.com/api/developer/v2/posts/"
    )
    keywords: Annotated[
        dict[_SYMBOL, Annotated[list[_KEYWORD], msgspec.Meta(max_length=50)]], msgspec.Meta(max_length=500)
    ] = msgspec.field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_KEYWORDS.items()})
    """Symbol -> words that tag an article with it (whole words, any case)."""
    collect: bool = True
    store: bool = True


class NewsPlugin:
    def __init__(self, config: NewsConfig) -> None:
        self.config = config
        self.tagger = KeywordTagger({s.upper(): words for s, words in config.keywords.items()})
        self.pollers: list[FeedPoller] = []
        self.published = 0
        self.writer = DedupWriter("storing news", news_key, self._insert, describe=describe_item)
        self._ctx: PluginContext | None = None
        self._fetcher: Fetcher | None = None
        self._store: BatchingConsumer | None = None
        self._collect_tasks: list[asyncio.Task[None]] = []
        self._store_task: asyncio.Task[None] | None = None

    def feed_specs(self) -> list[FeedSpec]:
        specs = [FeedSpec(display_name(target), target) for target in self.config.feeds]
        if self.config.cryptopanic_token:
            specs.append(cryptopanic_spec(self.config.cryptopanic_url, self.config.cryptopanic_token))
        return specs

    async def start(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        if self.config.store:
            sub = ctx.bus.subscribe([TOPIC_NEWS], "news-store", NewsItem)
            self._store = self.writer.consumer(ctx, sub)
            self._store_task = ctx.tasks.spawn(self._store.run(), "news-store")
        if self.config.collect:
            await self._start_collecting(ctx)

    async def _start_collecting(self, ctx: PluginContext) -> None:
        cfg = self.config
        specs = self.feed_specs()
        self._fetcher = Fetcher(
            timeout=cfg.timeout_seconds, max_bytes=cfg.max_bytes, secrets=[s.secret for s in specs]
        )
        await self._fetcher.start()
        enricher = Enricher(self.tagger, await asyncio.to_thread(SentimentScorer))
        pipeline = NewsPipeline(
            self._fetcher, enricher, known=ctx.storage.news.known, publish=self._publish, clock=ctx.clock,
            max_items=cfg.max_items, recent=RecentIds(RECENT_IDS),
        )  # fmt: skip
        self.pollers = [FeedPoller(spec, pipeline) for spec in specs]
        for number, poller in enumerate(self.pollers):
            run = poller.run(cfg.poll_seconds, cfg.retry_base_seconds, cfg.retry_cap_seconds)
            self._collect_tasks.append(ctx.tasks.spawn(run, f"news-feed-{number}"))
        log.info("news: polling %d feeds every %gs", len(self.pollers), cfg.poll_seconds)

    async def _publish(self, items: list[NewsItem]) -> None:
        assert self._ctx is not None
        await self._ctx.bus.publish(TOPIC_NEWS, items)
        self.published += len(items)

    async def _insert(self, items: list[NewsItem]) -> int:
        assert self._ctx is not None
        return await self._ctx.storage.news.insert(items)

    @property
    def stored(self) -> int:
        return self.writer.stored

    async def stop(self) -> None:
        await cancel_and_wait(*self._collect_tasks)
        self._collect_tasks = []
        if self._fetcher is not None:
            await self._fetcher.close()

    def status(self) -> dict[str, Any]:
        feeds = [p.health.as_dict() for p in self.pollers]
        tasks = [*self._collect_tasks, *([self._store_task] if self._store_task else [])]
        return {
            "ok": self._ctx is not None and all(not t.done() for t in tasks),
            "feeds": feeds,
            "failing_feeds": [f["feed"] for f in feeds if f["state"] == "failing"],
            "published": self.published,
            **self.writer.counts(),
        }


plugin = PluginSpec(
    name="news",
    kind="feed",
    description="Polls RSS, Atom and CryptoPanic news, tags symbols, scores sentiment, stores",
    config_type=NewsConfig,
    factory=NewsPlugin,
)
