"""REST pages against the fake Binance: paging, Retry-After, retries, refusals, weight budget."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cryptoviz.exchanges.binance_rest import (
    MAX_RETRY_AFTER,
    RestPager,
    RestRefused,
    WeightBudget,
    retry_after,
)
from tests.fakes.binance import FakeBinance, Recorded, load_trades

USDM = "binance/usdm-btcusdt-20240808.recv.gz"


@pytest.fixture(scope="module")
def usdm_head(testdata: Path) -> list[Recorded]:
    return load_trades(testdata / USDM, limit=2500)


@pytest.fixture
async def fake(usdm_head: list[Recorded]) -> AsyncIterator[FakeBinance]:
    async with FakeBinance(usdm_head, weight_window=1.0) as server:
        server.play()  # speed 0: everything is published at once
        await asyncio.wait_for(server.finished.wait(), 30)
        yield server


@pytest.fixture
async def client(fake: FakeBinance) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.rest_url, timeout=10) as http:
        yield http


def _pager(client: httpx.AsyncClient, budget: WeightBudget | None = None, page_size: int = 1000) -> RestPager:
    budget = budget or WeightBudget(6000)
    return RestPager(client, "trade", budget, page_size=page_size, backoff_base=0.01, backoff_cap=0.05)


async def test_pages_of_1000_reproduce_the_recording(
    client: httpx.AsyncClient, usdm_head: list[Recorded]
) -> None:
    pager = _pager(client)
    next_id, trades = usdm_head[0].id, []
    while True:
        page = await pager.page("BTCUSDT", next_id)
        trades += page.trades
        if page.records < pager.page_size:
            break
        assert page.records == 1000
        assert page.last_id is not None
        next_id = page.last_id + 1
    assert [t.trade_id for t in trades] == [r.id for r in usdm_head]
    assert [str(t.price) for t in trades] == [r.data["p"] for r in usdm_head]
    assert [str(t.quantity) for t in trades] == [r.data["q"] for r in usdm_head]
    assert [(t.time, t.buyer_is_maker, t.event_time) for t in trades] == [
        (r.time, r.data["m"], 0) for r in usdm_head
    ]
    assert pager.requests == 3


@pytest.mark.parametrize("status", [429, 418])
async def test_retry_after_is_honoured(fake: FakeBinance, client: httpx.AsyncClient, status: int) -> None:
    fake.refuse_rest(2, status, retry_after=0.4)
    pager = _pager(client)
    page = await pager.page("BTCUSDT", fake.trades[0].id)
    assert page.records == 1000
    assert (pager.rate_limited, pager.requests) == (2, 3)
    times = [when for when, *_ in fake.rest_log]
    statuses = [code for *_, code in fake.rest_log]
    assert statuses == [status, status, 200]
    assert times[1] - times[0] >= 0.35  # nothing asked before Retry-After ran out
    assert times[2] - times[1] >= 0.35


async def test_server_errors_and_a_missing_retry_after_are_retried(
    fake: FakeBinance, client: httpx.AsyncClient
) -> None:
    fake.refuse_rest(1, 503, retry_after=None)
    fake.refuse_rest(1, 429, retry_after=None)
    pager = _pager(client)
    page = await pager.page("BTCUSDT", fake.trades[0].id)
    assert page.records == 1000
    assert pager.failures == 2
    assert "HTTP 429" in pager.last_error


async def test_network_errors_are_retried_until_the_server_answers(usdm_head: list[Recorded]) -> None:
    server = FakeBinance(usdm_head)
    await server.start()
    port = server.port
    await server.stop()  # nothing listens on the port now
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        pager = _pager(http)
        task = asyncio.create_task(pager.page("BTCUSDT", 1))
        deadline = time.monotonic() + 30
        while pager.failures < 3 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a counter
            await asyncio.sleep(0.01)
        assert not task.done()  # still trying
        assert pager.failures >= 3
        assert "request failed" in pager.last_error
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_refusal_no_retry_can_fix_raises(client: httpx.AsyncClient) -> None:
    with pytest.raises(RestRefused, match=r"HTTP 400 \(-1121 Invalid symbol.\)"):
        await _pager(client).page("NOSUCHSYMBOL", 1)


async def test_the_weight_budget_holds_per_window(fake: FakeBinance, client: httpx.AsyncClient) -> None:
    """A budget of 60 per 1-second window lets 2 requests of weight 25 through per window:
    the server's own count never passes it, and the pager waited for the next window."""
    budget = WeightBudget(60, window=1.0)
    pager = _pager(client, budget, page_size=10)
    for n in range(7):
        await pager.page("BTCUSDT", fake.trades[0].id + 10 * n)
    per_window = Counter(int(when // 1.0) for when, *_ in fake.rest_log)
    assert sum(per_window.values()) == 7
    assert max(per_window.values()) <= 2
    assert budget.waits >= 3


async def test_the_server_count_tightens_the_budget() -> None:
    now = [1000.0]
    budget = WeightBudget(100, window=60.0, clock=lambda: now[0])
    await budget.spend(25)
    budget.observe(90)  # other clients of the same IP used more
    assert budget.used == 90
    task = asyncio.create_task(budget.spend(25))
    await asyncio.sleep(0.01)
    assert not task.done()  # waits for the next window (sleeping on the real clock)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        ("", None),
        (None, None),
        ("soon", None),
        ("-4", 0.0),
        ("1e12", MAX_RETRY_AFTER),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    from email.utils import formatdate

    wait = retry_after(formatdate(time.time() + 120, usegmt=True))
    assert wait is not None
    assert 100 <= wait <= 121
