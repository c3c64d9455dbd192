"""Deadlines, client-disconnect races and Server-Sent Events encoding for chat completions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from model_service.backends.base import Delta
from model_service.errors import GatewayTimeout, ServiceError

log = logging.getLogger(__name__)

T = TypeVar("T")
DONE = b"data: [DONE]\n\n"
CLOSE_GRACE_SECONDS = 2.0  # how long cleanup may take once a client or a deadline ended a stream


class ClientDisconnected(Exception):
    """The HTTP client went away before the answer was complete."""


def encode_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


async def close_quietly(source: AsyncIterator[Any]) -> None:
    """Close an async generator even from inside a cancelled scope, so its cleanup really runs."""
    aclose = getattr(source, "aclose", None)
    if aclose is None:
        return
    with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_GRACE_SECONDS):
        try:
            await aclose()
        except Exception:
            log.debug("error while closing a backend stream", exc_info=True)


async def with_deadlines(
    source: AsyncIterator[Delta],
    first_token_timeout: float,
    request_timeout: float,
    on_first_token: Callable[[], None] | None = None,
) -> AsyncIterator[Delta]:
    """Relay `source`, raising GatewayTimeout when the first text or the whole reply is late.

    The source is closed on every way out, which is what cancels the upstream request or stops
    local generation.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    overall = started + request_timeout
    first_deadline = min(overall, started + first_token_timeout)
    seen_text = False
    try:
        while True:
            deadline = overall if seen_text else first_deadline
            try:
                async with asyncio.timeout_at(deadline):
                    delta = await anext(source)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise _late(seen_text, first_token_timeout, request_timeout) from None
            if delta.has_output and not seen_text:  # thinking counts: the model is alive
                seen_text = True
                if on_first_token is not None:
                    on_first_token()
            yield delta
    finally:
        await close_quietly(source)


def _late(seen_text: bool, first_token_timeout: float, request_timeout: float) -> GatewayTimeout:
    if seen_text:
        return GatewayTimeout(f"The reply took longer than request_timeout ({request_timeout:g} s).")
    message = f"No first token within first_token_timeout ({first_token_timeout:g} s)."
    return GatewayTimeout(message, code="first_token_timeout")


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, or cancel it and raise ClientDisconnected if the client hangs up first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_disconnect(request.receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        watcher.cancel()
        with contextlib.suppress(BaseException):
            await watcher
    if task.cancelled():
        raise ClientDisconnected
    return task.result()


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class EventStreamResponse(StreamingResponse):
    """text/event-stream that always races the body against client disconnect.

    Starlette only does so for ASGI servers older than spec 2.4; we need it everywhere, since an
    idle stream (waiting on a slow upstream) never writes and so never notices a closed socket.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterator[bytes],
        headers: dict[str, str] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        base = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, headers={**base, **(headers or {})})
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def body() -> None:
                    with contextlib.suppress(OSError):  # the socket closed under us: same as a disconnect
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(body)
                await _wait_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            # Runs even when the body was cancelled before its first step, which skips the
            # content generator's own `finally`.
            if self.on_close is not None:
                with anyio.CancelScope(shield=True):
                    await self.on_close()


def error_event(error: ServiceError) -> bytes:
    return encode_event(error.body())
