"""The stop-signal chain: the hub's clients are closed before the server's own handler runs.

The real server's behaviour (clients get 1001, exit code 0) is in test_endpoint.py; here the
chain is checked on this process's own event loop with a real SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

from cryptoviz.hub.shutdown import SignalChain


async def test_nothing_is_wrapped_without_a_server_handler() -> None:
    calls: list[str] = []

    async def before() -> None:
        calls.append("before")

    chain = SignalChain(before)
    assert chain.install() is False
    chain.uninstall()
    assert calls == []


async def test_a_stop_signal_runs_the_hub_first_then_the_server_handler_once() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []
    server_stopped = asyncio.Event()

    def server_handler(tag: str) -> None:
        order.append(tag)
        server_stopped.set()

    async def before() -> None:
        order.append("hub closing")
        await asyncio.sleep(0.01)
        order.append("hub closed")

    loop.add_signal_handler(signal.SIGTERM, server_handler, "server")
    chain = SignalChain(before)
    try:
        assert chain.install() is True
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(server_stopped.wait(), 10)
        assert order == ["hub closing", "hub closed", "server"]
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal goes straight through
        await asyncio.wait_for(_until(lambda: len(order) == 4), 10)
        assert order[-1] == "server"
        chain.uninstall()
        server_stopped.clear()
        os.kill(os.getpid(), signal.SIGTERM)  # the original handler is back in place
        await asyncio.wait_for(server_stopped.wait(), 10)
        assert order == ["hub closing", "hub closed", "server", "server", "server"]
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _until(condition: Callable[[], bool]) -> None:
    """Poll a plain condition (nothing to wait on); callers bound it with a timeout."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.001)
