"""Binance REST trade pages within the exchange's request-weight limits, retried forever.

Binance counts a request weight per IP and per minute (6,000 on spot), says how much is
used in `X-MBX-USED-WEIGHT-1M`, answers 429 with `Retry-After` when the limit is passed and
418 (an IP ban, minutes to days) when a client keeps going. So each request first spends
its weight from a local budget (a share of the limit, corrected by the header, which counts
other clients of the same IP), and a 429 or 418 pauses every request until `Retry-After`.
Network errors, 5xx and 403 (Binance's firewall) are retried with capped, jittered
backoff, forever; any other refusal (400 bad symbol, 401) cannot succeed on retry and
raises `RestRefused`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

from cryptoviz.errors import CryptovizError
from cryptoviz.exchanges.binance import EXCHANGE, MAX_PAGE, REST_PATHS, REST_WEIGHTS, StreamKind
from cryptoviz.exchanges.binance_pages import ERROR_BODY, Page, decode_page
from cryptoviz.tasks import backoff_delays
from cryptoviz.timeutil import now_ms

log = logging.getLogger(__name__)
MAX_RETRY_AFTER: Final = 3 * 86_400.0
"""Longest wait honoured from `Retry-After`: Binance bans an IP for 3 days at most."""
_RETRIED: Final = frozenset((403, 500, 502, 503, 504))


class RestRefused(CryptovizError):
    """Binance refused a request for a reason no retry can fix (bad symbol, missing key)."""


class WeightBudget:
    """Request weight spent per window (Binance's minute), shared by every request.

    `window` is 60 s for Binance; a shorter one only serves tests of the accounting.
    """

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("need limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._index = -1
        self.used = 0
        self.paused_until = 0.0
        """Wall-clock time before which no request goes out (after a 429 or 418)."""
        self.waits = 0

    def _roll(self, now: float) -> None:
        index = int(now // self.window)
        if index != self._index:
            self._index = index
            self.used = 0

    async def spend(self, weight: int) -> None:
        """Wait until `weight` fits in the current window (or a pause ends), then spend it.
        A request heavier than the whole budget goes alone in a fresh window."""
        while True:
            now = self._clock()
            if now < self.paused_until:
                self.waits += 1
                await asyncio.sleep(self.paused_until - now)
                continue
            self._roll(now)
            if self.used == 0 or self.used + weight <= self.limit:
                self.used += weight
                return
            self.waits += 1
            await asyncio.sleep((self._index + 1) * self.window - now)

    def observe(self, used: int) -> None:
        """The server's count for the current window, which includes other clients."""
        self._roll(self._clock())
        self.used = max(self.used, used)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self._clock() + seconds)


def retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (Binance sends seconds; an HTTP date is accepted), None when
    absent or unreadable; bounded by `MAX_RETRY_AFTER`."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class RestPager:
    """Fetches pages of `historicalTrades` (kind `trade`) or `aggTrades` from an id."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        kind: StreamKind,
        budget: WeightBudget,
        *,
        page_size: int = MAX_PAGE,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        exchange: str = EXCHANGE,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE}")
        self._client = client
        self.kind = kind
        self.budget = budget
        self.page_size = page_size
        self._backoff = (backoff_base, backoff_cap)
        self._exchange = exchange
        self._path = REST_PATHS[kind]
        self._weight = REST_WEIGHTS[kind]
        self.requests = 0
        self.rate_limited = 0
        self.failures = 0
        self.last_error = ""

    async def page(self, symbol: str, from_id: int) -> Page:
        """Up to `page_size` records from `from_id` on, in id order. Retries until it gets
        an answer; raises `RestRefused` when Binance refuses the request itself."""
        params = {"symbol": symbol, "fromId": str(from_id), "limit": str(self.page_size)}
        delays = backoff_delays(*self._backoff)
        while True:
            await self.budget.spend(self._weight)
            problem = await self._attempt(symbol, params)
            if isinstance(problem, Page):
                return problem
            self.failures += 1
            self.last_error = problem
            if self.budget.paused_until > time.time():
                log.warning("binance REST %s: %s", symbol, problem)
                continue  # `spend` waits for the pause
            delay = next(delays)
            log.warning("binance REST %s: %s; retrying in %.2fs", symbol, problem, delay)
            await asyncio.sleep(delay)

    async def _attempt(self, symbol: str, params: dict[str, str]) -> Page | str:
        """One request: the page, or what went wrong when retrying may help."""
        try:
            response = await self._client.get(self._path, params=params)
        except httpx.HTTPError as exc:
            return f"request failed: {type(exc).__name__}: {exc}"
        self.requests += 1
        used = response.headers.get("x-mbx-used-weight-1m")
        if used is not None and used.isdigit():
            self.budget.observe(int(used))
        status = response.status_code
        if status in (429, 418):
            self.rate_limited += 1
            wait = retry_after(response.headers.get("retry-after"))
            if wait is not None:
                self.budget.pause(wait)
            return f"HTTP {status} ({_error_text(response.content)}), Retry-After {wait}"
        if status in _RETRIED:
            return f"HTTP {status} ({_error_text(response.content)})"
        if status != 200:
            raise RestRefused(
                f"binance REST {self._path} {symbol} refused: HTTP {status} ({_error_text(response.content)})"
            )
        try:
            return decode_page(response.content, self.kind, symbol, now_ms(), self._exchange)
        except ValueError as exc:
            return f"unreadable answer: {exc}"

    def status(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "failures": self.failures,
            "last_error": self.last_error,
            "weight_used": self.budget.used,
            "weight_limit": self.budget.limit,
            "budget_waits": self.budget.waits,
            "paused_for_s": round(max(0.0, self.budget.paused_until - time.time()), 3),
        }


def _error_text(body: bytes) -> str:
    try:
        error = ERROR_BODY.decode(body)
    except ValueError:
        return body[:120].decode("utf-8", "replace").strip() or "empty body"
    return f"{error.code} {error.msg}".strip()
