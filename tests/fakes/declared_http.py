"""Real HTTP from the bot to the model endpoint, with every wait declared to SimCord as external input.

Under SimCord a bot awaiting the network is "unsettled", and timers it sets inside such a wait
(e.g. a read timeout) do not run on their own. Declared waits leave the bot parked, as a live
process would be, and its timers fire when the test moves the clock with `env.advance_time`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx2 as httpx
import openai
import simcord

from bot.app import TurtleSoupBot
from bot.game.host import ModelHost


class _DeclaredStream(httpx.AsyncByteStream):
    def __init__(self, env: simcord.Env, inner: httpx.AsyncByteStream) -> None:
        self.env = env
        self.inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self.inner.__aiter__()
        while True:
            try:
                chunk = await self.env.external_wait(chunks.__anext__(), reason="model stream")
            except StopAsyncIteration:
                return
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class DeclaredTransport(httpx.AsyncBaseTransport):
    def __init__(self, env: simcord.Env) -> None:
        self.env = env
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.env.external_wait(self.inner.handle_async_request(request), reason="model")
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_DeclaredStream(self.env, response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def declare_model_waits(env: simcord.Env, timeout: float | httpx.Timeout | None = None) -> None:  # noqa: ASYNC109
    """Give the running bot a model client whose network waits are declared (see above).

    Timeouts still run on the wall clock (httpx's timers are not plain wake-ups SimCord can hold)."""
    bot = env.bot
    assert isinstance(bot, TurtleSoupBot)
    config = bot.config.model
    timeout = bot.host.client.timeout if timeout is None else timeout
    client = openai.AsyncOpenAI(
        base_url=config.base_url,
        api_key=config.api_key or "none",
        max_retries=0,
        timeout=timeout,
        http_client=httpx.AsyncClient(transport=DeclaredTransport(env)),
    )
    await bot.host.close()
    bot.host = bot.games.host = ModelHost(config, client=client)


async def settle_until(env: simcord.Env, done: Callable[[], bool], within: float = 10.0) -> None:
    """Settle the bot until ``done()`` holds. A bot parked in a declared model wait counts as settled,
    so after releasing that wait (a gate, a keep-alive ending) the test settles again until the reply is in."""
    deadline = time.perf_counter() + within  # SimCord may move time.monotonic; this is the wall clock
    while True:
        await env.settle()
        if done():
            return
        if time.perf_counter() > deadline:
            raise AssertionError(f"not done within {within} s")
        await asyncio.sleep(0.05)
