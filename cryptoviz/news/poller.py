"""Poll feeds, each on its own schedule, and publish the articles not seen before.

Each feed has its own loop, state and backoff, so a feed that is down, slow, malformed or
huge only delays itself. A poll fetches (conditionally), parses and drafts in a worker
thread, drops what this process already published or the storage already holds, then
tags, scores and publishes the rest in publication order. Errors are kept per feed for
/ready and logged when a feed starts failing, changes error or recovers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from cryptoviz.errors import CryptovizError
from cryptoviz.models import NewsItem
from cryptoviz.news.fetch import Fetched, Fetcher, Validators, is_http
from cryptoviz.news.normalise import Draft, Enricher, draft
from cryptoviz.news.parse import ParsedFeed, parse_cryptopanic, parse_feed
from cryptoviz.tasks import backoff_delays
from cryptoviz.timeutil import to_rfc3339

log = logging.getLogger(__name__)
FeedKind = Literal["feed", "cryptopanic"]


class FeedSpec(msgspec.Struct, frozen=True):
    name: str
    """Shown in /ready and logs: the target without credentials or query values."""
    target: str
    """URL or local path, as fetched (may hold a token)."""
    kind: FeedKind = "feed"
    secret: str = ""
    """Scrubbed from every error message."""


def display_name(target: str) -> str:
    """`target` fit for logs: user info dropped and query values hidden."""
    if not is_http(target):
        return target
    parts = urlsplit(target)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(f"{k}=…" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def cryptopanic_spec(base_url: str, token: str) -> FeedSpec:
    """The CryptoPanic posts endpoint with the token and `public=true` added to its query."""
    parts = urlsplit(base_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "auth_token"]
    query += [("auth_token", token), ("public", "true")]
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return FeedSpec("cryptopanic", url, "cryptopanic", token)


class RecentIds:
    """Ids published lately, bounded: the oldest are forgotten first (storage has the final word)."""

    def __init__(self, max_entries: int) -> None:
        self._ids: dict[str, None] = {}
        self._max = max_entries

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._ids[key] = None
        while len(self._ids) > self._max:
            del self._ids[next(iter(self._ids))]

    def discard(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._ids.pop(key, None)


def _stamp(ms: int | None) -> str | None:
    return None if ms is None else to_rfc3339(ms)


class FeedHealth:
    """One feed's counters and last outcome, as /ready shows them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.polls = self.not_modified = self.failures = self.consecutive_failures = 0
        self.items_seen = self.items_new = self.items_skipped = 0
        self.last_success: int | None = None
        self.last_error: str | None = None
        self.last_error_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        state = "pending" if not self.polls else "failing" if self.consecutive_failures else "ok"
        return {
            "feed": self.name, "state": state, "polls": self.polls, "not_modified": self.not_modified,
            "failures": self.failures, "consecutive_failures": self.consecutive_failures,
            "last_success": _stamp(self.last_success), "last_error": self.last_error,
            "last_error_at": _stamp(self.last_error_at), "items_seen": self.items_seen,
            "items_new": self.items_new, "items_skipped": self.items_skipped,
        }  # fmt: skip


class NewsPipeline:
    """What every feed shares: the fetcher, the enricher, the recent ids and the outlets."""

    def __init__(
        self,
        fetcher: Fetcher,
        enricher: Enricher,
        *,
        known: Callable[[list[str]], Awaitable[set[str]]],
        publish: Callable[[list[NewsItem]], Awaitable[None]],
        clock: Callable[[], int],
        max_items: int,
        recent: RecentIds,
    ) -> None:
        self.fetcher = fetcher
        self.enricher = enricher
        self.known = known
        self.publish = publish
        self.clock = clock
        self.max_items = max_items
        self.recent = recent

    def read(self, kind: FeedKind, fetched: Fetched, fetched_at: int) -> tuple[ParsedFeed, list[Draft]]:
        """Parse and draft (CPU work, run in a worker thread)."""
        if kind == "cryptopanic":
            parsed = parse_cryptopanic(fetched.body, self.max_items)
        else:
            parsed = parse_feed(fetched.body, fetched.content_type, self.max_items)
        drafts = [d for d in (draft(e, fetched_at) for e in parsed.entries) if d is not None]
        return parsed, drafts

    async def ingest(self, drafts: list[Draft]) -> int:
        """Publish the drafts not published before nor stored; return how many were."""
        unique: dict[str, Draft] = {}
        for d in drafts:
            if d.id not in self.recent:
                unique.setdefault(d.id, d)
        fresh = list(unique.values())
        if not fresh:
            return 0
        ids = [d.id for d in fresh]
        self.recent.add(ids)  # claimed before any await, so two feeds never publish one article twice
        try:
            stored = await self.known(ids)
            fresh = sorted((d for d in fresh if d.id not in stored), key=lambda d: (d.published_at, d.id))
            if not fresh:
                return 0
            items = await asyncio.to_thread(lambda: [self.enricher.item(d) for d in fresh])
            await self.publish(items)
        except BaseException:
            self.recent.discard(ids)  # not published: the next poll tries again
            raise
        return len(items)


class FeedPoller:
    """One feed: its loop, its conditional GET state (in memory) and its health."""

    def __init__(self, spec: FeedSpec, pipeline: NewsPipeline) -> None:
        self.spec = spec
        self.pipeline = pipeline
        self.health = FeedHealth(spec.name)
        self.validators = Validators()

    async def run(self, poll_seconds: float, retry_base: float, retry_cap: float) -> None:
        """Poll forever: every `poll_seconds` while it works, on a capped jittered backoff while not."""
        delays: Iterator[float] | None = None
        while True:
            if await self.poll_once():
                delays, wait = None, poll_seconds
            else:
                delays = delays or backoff_delays(retry_base, retry_cap)
                wait = next(delays)
            await asyncio.sleep(wait)

    async def poll_once(self) -> bool:
        """One poll; True when the feed worked. Never raises but for cancellation."""
        health = self.health
        now = self.pipeline.clock()
        try:
            problem = await self._poll(now)
        except CryptovizError as exc:
            problem = str(exc)
        except Exception as exc:  # a parser bug on odd input: keep this feed, and the others, running
            log.exception("news feed %s: unexpected error", self.spec.name)
            problem = f"unexpected error: {type(exc).__name__}: {exc}"
        health.polls += 1
        if problem is None:
            if health.consecutive_failures:
                log.info(
                    "news feed %s works again after %d failures", self.spec.name, health.consecutive_failures
                )
            health.consecutive_failures = 0
            health.last_success = now
            return True
        problem = self._scrub(problem)[:500]
        if problem != health.last_error or not health.consecutive_failures:
            log.warning("news feed %s failing: %s", self.spec.name, problem)
        health.failures += 1
        health.consecutive_failures += 1
        health.last_error, health.last_error_at = problem, now
        return False

    async def _poll(self, now: int) -> str | None:
        """Fetch, read and ingest; the problem of a feed broken part way (its good items kept)."""
        fetched = await self.pipeline.fetcher.fetch(self.spec.target, self.validators)
        if fetched is None:
            self.health.not_modified += 1
            return None
        parsed, drafts = await asyncio.to_thread(self.pipeline.read, self.spec.kind, fetched, now)
        self.health.items_seen += len(drafts)
        self.health.items_skipped += parsed.skipped + len(parsed.entries) - len(drafts)
        self.health.items_new += await self.pipeline.ingest(drafts)
        # A broken document is fetched in full next time, whatever its validators say.
        self.validators = fetched.validators if parsed.problem is None else Validators()
        return parsed.problem

    def _scrub(self, text: str) -> str:
        return text.replace(self.spec.secret, "***") if self.spec.secret else text
