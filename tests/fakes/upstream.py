"""A scriptable OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks.

It runs on its own thread and event loop, so it is real HTTP from the caller's point of view
and unaffected by SimCord's virtual clock. Tests queue `Reply` scripts (text, delays, faults);
every request body is recorded. Like OpenAI, it reports usage in a stream only when asked
(`stream_options.include_usage`), and it can refuse parameters the way OpenAI's reasoning models do
(`FakeUpstream.refusals`, `OPENAI_REASONING_REFUSALS`).
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
    # comments (": ping"), "empty" sends chunks whose delta has empty content, "thinking" sends
    # `reasoning_content` deltas (a model that thinks on and on); one every keepalive_every s, the first
    # keepalive_after s after the last chunk.
    keepalive: str | None = None
    keepalive_every: float = 0.1
    keepalive_after: float = 0.0
    # Whole deltas to send instead of `chunks` (one per chunk, same delays and faults): how servers that
    # stream a model's thinking in fields of their own shape a reply (see SHAPES).
    deltas: list[dict[str, Any]] | None = None
    # Deltas streamed verbatim before the content (thinking: {"reasoning_content": "..."}, tool calls), not
    # counted by cut_after; a whole answer merges them into its message.
    extra_deltas: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None  # what to report; None: counted from the request and the chunks
    finish_on_last: bool = False  # the finish_reason rides on the last content chunk (as vLLM sends it)
    linger: float = 0.0  # seconds the stream stays open after its last event, before [DONE]
    created: int | None = None  # the whole answer's `created`; None: now (two answers may straddle a second)
    error: dict[str, Any] | None = None  # with a non-200 status: the error object (message, type, param, code)

    @classmethod
    def text(cls, text: str, size: int = 4, **kwargs: Any) -> Reply:
        return cls(chunks=_pieces(text, size), **kwargs)

    @classmethod
    def thinking(cls, shape: str, thought: str, answer: str, size: int = 4, **kwargs: Any) -> Reply:
        """A reasoning model's reply, `thought` then `answer`, as the server `shape` (a key of SHAPES) streams it."""
        return SHAPES[shape](thought, answer, size, **kwargs)

    def sent_deltas(self) -> list[dict[str, Any]]:
        return self.deltas if self.deltas is not None else [{"content": chunk} for chunk in self.chunks]

    def all_deltas(self) -> list[dict[str, Any]]:
        return [*self.extra_deltas, *self.sent_deltas()]


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# -- how each kind of server streams a reasoning model's thinking, from its documentation -------------------------


def _deepseek_reasoner(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
    """DeepSeek's API, model deepseek-reasoner: `reasoning_content` deltas (content null), then content deltas
    (reasoning_content null)."""
    thinking = [{"content": None, "reasoning_content": piece} for piece in _pieces(thought, size)]
    answering = [{"content": piece, "reasoning_content": None} for piece in _pieces(answer, size)]
    return Reply(deltas=thinking + answering, **kwargs)


def _vllm_reasoning_parser(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
    """vLLM (or SGLang) started with `--reasoning-parser`: deltas with only `reasoning_content`, then only `content`."""
    thinking = [{"reasoning_content": piece} for piece in _pieces(thought, size)]
    return Reply(deltas=thinking + [{"content": piece} for piece in _pieces(answer, size)], **kwargs)


def _inline(opening: str, closing: str) -> Callable[..., Reply]:
    def shape(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
        return Reply.text(f"{opening}\n{thought}\n{closing}\n\n{answer}", size, **kwargs)

    return shape


def _ollama_field(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
    """Ollama's OpenAI-compatible API with thinking on: `reasoning` deltas beside an empty content."""
    thinking = [{"role": "assistant", "content": "", "reasoning": piece} for piece in _pieces(thought, size)]
    answering = [{"role": "assistant", "content": piece} for piece in _pieces(answer, size)]
    return Reply(deltas=thinking + answering, **kwargs)


def _ollama_native_field(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
    """Ollama's own field name (`thinking`, as its /api/chat messages carry it) on a compatible stream."""
    thinking = [{"role": "assistant", "content": "", "thinking": piece} for piece in _pieces(thought, size)]
    return Reply(deltas=thinking + [{"content": piece} for piece in _pieces(answer, size)], **kwargs)


def _openrouter(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
    """OpenRouter: `reasoning` text and the same text again in `reasoning_details`, beside an empty content."""
    thinking = [
        {
            "role": "assistant",
            "content": "",
            "reasoning": piece,
            "reasoning_details": [{"type": "reasoning.text", "text": piece, "format": "unknown", "index": 0}],
        }
        for piece in _pieces(thought, size)
    ]
    answering = [{"role": "assistant", "content": piece} for piece in _pieces(answer, size)]
    return Reply(deltas=thinking + answering, **kwargs)


def _glm(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
    """GLM's API (GLM-4.5 and later, thinking enabled): `reasoning_content` deltas, then `content` deltas."""
    thinking = [{"role": "assistant", "reasoning_content": piece} for piece in _pieces(thought, size)]
    answering = [{"role": "assistant", "content": piece} for piece in _pieces(answer, size)]
    return Reply(deltas=thinking + answering, **kwargs)


def _mid_thought(thought: str, answer: str, size: int, **kwargs: Any) -> Reply:
    """A chat template that puts `<think>` into the prompt (Qwen3, DeepSeek-R1 served raw): the output starts
    mid-thought and only the closing tag shows where the thought ends."""
    return Reply.text(f"{thought}\n</think>\n\n{answer}", size, **kwargs)


SHAPES: dict[str, Callable[..., Reply]] = {
    "deepseek_reasoner": _deepseek_reasoner,
    "vllm_reasoning_parser": _vllm_reasoning_parser,
    "ollama_inline": _inline("<think>", "</think>"),  # Ollama / llama.cpp serving Qwen3 without a parser
    "ollama_field": _ollama_field,
    "ollama_native_field": _ollama_native_field,
    "openrouter": _openrouter,
    "glm": _glm,
    "inline_thinking_tag": _inline("<thinking>", "</thinking>"),
    "kimi_inline": _inline("◁think▷", "◁/think▷"),  # Kimi's thinking models
    "mid_thought": _mid_thought,
}


Responder = Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True)
class Refusal:
    """A parameter the upstream answers 400 to, in OpenAI's words: always, or unless it has `allowed`."""

    param: str
    code: str  # OpenAI's: unsupported_parameter (the field) or unsupported_value (its value)
    allowed: Any = None
    instead: str | None = None  # what to send instead, named in the message
    supported: tuple[str, ...] = ()  # unsupported_value for any other value, these listed as OpenAI lists them

    def refuses(self, body: dict[str, Any]) -> bool:
        if self.param not in body:
            return False
        if self.supported:
            return body[self.param] not in self.supported
        return self.allowed is None or body[self.param] != self.allowed

    def error(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.supported:
            listed = ", ".join(f"'{value}'" for value in self.supported[:-1]) + f", and '{self.supported[-1]}'"
            message = (
                f"Unsupported value: '{self.param}' does not support '{body[self.param]}' with this model. "
                f"Supported values are: {listed}."
            )
        elif self.code == "unsupported_value":
            message = (
                f"Unsupported value: '{self.param}' does not support {body[self.param]!r} with this model. "
                f"Only the default ({self.allowed}) value is supported."
            )
        else:
            message = f"Unsupported parameter: '{self.param}' is not supported with this model."
            if self.instead:
                message += f" Use '{self.instead}' instead."
        return {"message": message, "type": "invalid_request_error", "param": self.param, "code": self.code}


# What OpenAI's reasoning models (o-series, GPT-5) answer to today's chat-model requests.
OPENAI_REASONING_REFUSALS = (
    Refusal("max_tokens", "unsupported_parameter", instead="max_completion_tokens"),
    Refusal("temperature", "unsupported_value", allowed=1),
)


class FakeUpstream:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.peers: list[Any] = []  # each request's client address: one port for requests on a kept connection
        self.scripts: deque[Reply] = deque()
        self.responder: Responder | None = None
        self.default = Reply()
        self.refusals: list[Refusal] = []
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
        self.peers.clear()
        self.scripts.clear()
        self.responder = None
        self.default = Reply()
        self.refusals: list[Refusal] = []
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
        self.peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        for refusal in self.refusals:
            if refusal.refuses(body):
                return web.json_response({"error": refusal.error(body)}, status=400)
        reply = self._next_reply(body)
        if reply.hang:
            await self._hang()
        if reply.status != 200:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else None
            if reply.error is not None:
                return web.json_response({"error": reply.error}, status=reply.status, headers=headers)
            if reply.error_body is not None:
                return web.json_response(reply.error_body, status=reply.status, headers=headers)
            return _error(reply.status, f"upstream says {reply.status}", "upstream_fault", headers)
        if not body.get("stream"):
            await asyncio.sleep(reply.first_delay + reply.chunk_delay * max(len(reply.all_deltas()) - 1, 0))
            self.completed += 1
            return web.json_response(_completion(body, reply))
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
            elif reply.keepalive == "thinking":
                await _send(response, _chunk(ident, body, {"reasoning_content": "Still weighing it up. "}))
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
            for index, extra in enumerate(reply.extra_deltas):
                await asyncio.sleep(reply.chunk_delay if index else 0)
                await _send(response, _chunk(ident, body, extra))
            deltas = reply.sent_deltas()
            for index, delta in enumerate(deltas):
                if reply.cut_after is not None and index >= reply.cut_after:
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                if index or reply.extra_deltas:
                    await asyncio.sleep(reply.chunk_delay)
                if reply.stamp:
                    delta = {**delta, "content": f"{delta['content']}@{time.perf_counter():.6f}"}
                last = reply.finish_on_last and index == len(deltas) - 1
                await _send(response, _chunk(ident, body, delta, finish="stop" if last else None))
                if index == 0 and reply.gate is not None:
                    await asyncio.to_thread(reply.gate.wait, 30)
            if reply.keepalive is not None:
                await self._keep_alive(response, ident, body, reply)
                return response
            if not reply.finish_on_last:
                await _send(response, _chunk(ident, body, {}, finish="stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                await _send(response, {**_chunk(ident, body, {}), "choices": [], "usage": _usage(body, reply)})
            if reply.linger:
                await asyncio.sleep(reply.linger)
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


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The reply's script's usage, or one counted the fake's way: a token per word of the prompt, per delta."""
    if reply.usage is not None:
        return reply.usage
    words = sum(len(str(message.get("content", "")).split()) for message in body.get("messages") or ())
    completion = len(reply.all_deltas())
    return {"prompt_tokens": words, "completion_tokens": completion, "total_tokens": words + completion}


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The whole message the deltas add up to: each text field joined (a reasoning field stays its own field),
    other values (tool calls) as the last delta gave them."""
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    for delta in reply.all_deltas():
        for name, value in delta.items():
            if name == "role" or value is None:
                continue
            message[name] = message.get(name, "") + value if isinstance(value, str) else value
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": reply.created if reply.created is not None else int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": _usage(body, reply),
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
    parser.add_argument("--thought", help="think this first (as DeepSeek's reasoner streams it), then answer --text")
    args = parser.parse_args()
    server = FakeUpstream()
    shape = {"size": args.chunk_size, "chunk_delay": args.chunk_delay}
    server.default = (
        Reply.thinking("deepseek_reasoner", args.thought, args.text, **shape)
        if args.thought
        else Reply.text(args.text, **shape)
    )
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
