"""A scriptable OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks.

It runs on its own thread and event loop, so it is real HTTP from the caller's point of view
and unaffected by SimCord's virtual clock. Tests queue `Reply` scripts (text, delays, faults);
every request body is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """What the fake upstream does with one request."""

    chunks: list[str] = field(default_factory=lambda: ["Yes", "."])
    first_delay: float = 0.0  # before the first content chunk (time to first token)
    chunk_delay: float = 0.0  # between content chunks
    status: int = 200  # non-200: answer an OpenAI error body instead
    error_body: dict[str, Any] | None = None  # that body as a given server words it (default: a generic one)
    retry_after: str | None = None
    hang: bool = False  # accept the request and never answer
    cut_after: int | None = None  # abort the connection after this many content chunks
    gate: threading.Event | None = None  # after the first chunk, wait for this before the rest
    stamp: bool = False  # append "@<time.perf_counter()>" to each content chunk as it is sent (benchmarks)
    # After the chunks, keep the stream open with keep-alives, never finishing: "comment" sends SSE
    # comments (": ping"), "empty" sends chunks whose delta has empty content; one every keepalive_every s,
    # the first keepalive_after s after the last chunk.
    keepalive: str | None = None
    keepalive_every: float = 0.1
    keepalive_after: float = 0.0

    @classmethod
    def text(cls, text: str, size: int = 4, **kwargs: Any) -> Reply:
        return cls(chunks=[text[i : i + size] for i in range(0, len(text), size)] or [""], **kwargs)


Responder = Callable[[dict[str, Any]], Reply]


class FakeUpstream:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.scripts: deque[Reply] = deque()
        self.responder: Responder | None = None
        self.default = Reply()
        self.disconnects = 0
        self.completed = 0
        self.keepalives_sent = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._halt: asyncio.Event | None = None  # set on stop, so hung handlers let cleanup finish

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *replies: Reply) -> None:
        self.scripts.extend(replies)

    def reset(self) -> None:
        self.requests.clear()
        self.headers.clear()
        self.scripts.clear()
        self.responder = None
        self.default = Reply()
        self.disconnects = 0
        self.completed = 0
        self.keepalives_sent = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeUpstream:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(port, ready), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._stopping.set()
        self._thread.join(10)

    def _serve(self, port: int, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        ready.set()
        loop.run_until_complete(self._wait_stop())
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    async def _wait_stop(self) -> None:
        self._halt = asyncio.Event()
        await asyncio.to_thread(self._stopping.wait)
        self._halt.set()

    # -- handlers ------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "bad key", "invalid_api_key")
        return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if self.scripts:
            return self.scripts.popleft()
        if self.responder is not None:
            return self.responder(body)
        return self.default

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        reply = self._next_reply(body)
        if reply.hang:
            await self._hang()
        if reply.status != 200:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else None
            if reply.error_body is not None:
                return web.json_response(reply.error_body, status=reply.status, headers=headers)
            return _error(reply.status, f"upstream says {reply.status}", "upstream_fault", headers)
        if not body.get("stream"):
            await asyncio.sleep(reply.first_delay + reply.chunk_delay * max(len(reply.chunks) - 1, 0))
            self.completed += 1
            return web.json_response(_completion(body, "".join(reply.chunks)))
        return await self._stream(request, body, reply)

    async def _hang(self) -> None:
        """Never answer (for an hour), but give up when the server stops."""
        if self._halt is None:
            await asyncio.sleep(3600)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._halt.wait(), 3600)

    async def _keep_alive(self, response: web.StreamResponse, ident: str, body: dict[str, Any], reply: Reply) -> None:
        """Keep-alives until the client goes away (a write fails) or the server stops; at most a minute."""
        await asyncio.sleep(reply.keepalive_after)
        for _ in range(int(60 / reply.keepalive_every)):
            if self._halt is not None and self._halt.is_set():
                return
            if reply.keepalive == "comment":
                if response.task is not None and response.task.done():
                    raise ConnectionResetError
                await response.write(b": ping\n\n")
            else:
                await _send(response, _chunk(ident, body, {"content": ""}))
            self.keepalives_sent += 1
            await asyncio.sleep(reply.keepalive_every)

    async def _stream(self, request: web.Request, body: dict[str, Any], reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        ident = f"chatcmpl-fake{len(self.requests)}"
        try:
            await _send(response, _chunk(ident, body, {"role": "assistant", "content": ""}))
            await asyncio.sleep(reply.first_delay)
            for index, piece in enumerate(reply.chunks):
                if reply.cut_after is not None and index >= reply.cut_after:
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                if index:
                    await asyncio.sleep(reply.chunk_delay)
                text = f"{piece}@{time.perf_counter():.6f}" if reply.stamp else piece
                await _send(response, _chunk(ident, body, {"content": text}))
                if index == 0 and reply.gate is not None:
                    await asyncio.to_thread(reply.gate.wait, 30)
            if reply.keepalive is not None:
                await self._keep_alive(response, ident, body, reply)
                return response
            await _send(response, _chunk(ident, body, {}, finish="stop"))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            self.completed += 1
        except ConnectionResetError:
            self.disconnects += 1  # the client went away: nothing to answer, nothing to log
        except asyncio.CancelledError:
            self.disconnects += 1
            raise
        return response


async def _send(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    if response.task is not None and response.task.done():
        raise ConnectionResetError
    await response.write(f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode())


def _chunk(ident: str, body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10},
    }


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "server_error", "code": code}}
    return web.json_response(body, status=status, headers=headers)


def main() -> None:
    """`python -m tests.fakes.upstream --port N`: serve the fake upstream from its own process
    (benchmarks use this so its CPU does not count against the process being measured)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--text", default="Yes. It is.")
    parser.add_argument("--chunk-size", type=int, default=4)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeUpstream()
    server.default = Reply.text(args.text, size=args.chunk_size, chunk_delay=args.chunk_delay)
    server.start(args.port)
    print(server.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        server.requests.clear()  # a long benchmark must not grow the record without bound
        server.headers.clear()
    server.stop()


if __name__ == "__main__":
    main()
