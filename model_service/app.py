"""The FastAPI application: `create_app(config)` builds it, routes stay thin."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from common.config import ModelServiceConfig
from model_service.backends import Backend, Delta, GenerationRequest, make_backend
from model_service.errors import (
    GatewayTimeout,
    InvalidRequest,
    NotReady,
    ServiceError,
    error_response,
    install_handlers,
)
from model_service.gate import RequestGate
from model_service.metrics import CONTENT_TYPE, Metrics, RequestCounter
from model_service.reply import MessageAssembly, UsageTally, reasoning_tokens
from model_service.schemas import (
    ChatCompletionRequest,
    chunk_payload,
    completion_id,
    completion_payload,
    models_payload,
    now,
)
from model_service.streaming import (
    DONE,
    ClientDisconnected,
    EventStreamResponse,
    close_quietly,
    encode_event,
    error_event,
    until_disconnect,
    with_deadlines,
)

log = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's "client closed request"; nobody reads it, the metrics do


@dataclass
class ServiceState:
    config: ModelServiceConfig
    backend: Backend
    metrics: Metrics
    started: int


def create_app(config: ModelServiceConfig, backend: Backend | None = None) -> FastAPI:
    """Build the service. `backend` overrides the one the config names (tests, embedding)."""
    state = ServiceState(config, backend or make_backend(config), Metrics(), now())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.backend.start()  # idempotent: __main__ may have started it already
        try:
            yield
        finally:
            await state.backend.close()

    app = FastAPI(title="turtle-soup model service", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = state
    install_handlers(app)
    # The gate runs inside the counter (401s and 413s are counted) and before anything reads a body.
    app.add_middleware(RequestGate, api_key=config.api_key, max_body_bytes=config.max_body_bytes)
    app.add_middleware(RequestCounter, metrics=state.metrics)
    app.include_router(_probe_routes(state))
    app.include_router(_v1_routes(state))
    return app


def _probe_routes(state: ServiceState) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        if not await state.backend.ready():
            return error_response(NotReady(f"The {state.backend.name} backend is not ready."))
        return JSONResponse({"status": "ready", "backend": state.backend.name})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    return router


def _v1_routes(state: ServiceState) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/models")
    async def models() -> dict[str, object]:
        return models_payload(state.config.served_model_name, state.started)

    @router.post("/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        return await ChatCompletion(state, body).answer(request)

    return router


def to_generation_request(body: ChatCompletionRequest) -> GenerationRequest:
    if body.n not in (None, 1):
        raise InvalidRequest("Only n=1 is supported.", param="n", code="unsupported_parameter")
    messages = []
    for message in body.messages:
        role = "system" if message.role == "developer" else message.role
        messages.append({"role": role, "content": message.text()})
    return GenerationRequest(
        messages=messages,
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.token_limit(),
        stop=body.stop_list(),
        fields=body.forwarded_fields(),
    )


class ChatCompletion:
    """One chat completion request: start the backend stream, then answer whole or as SSE."""

    def __init__(self, state: ServiceState, body: ChatCompletionRequest) -> None:
        self.state = state
        self.body = body
        self.ident = completion_id()
        self.created = now()
        self.model = state.config.served_model_name
        self.usage = UsageTally()
        self._content_template: tuple[str, str] | None = None
        self._deltas: AsyncIterator[Delta] | None = None
        self._released = False

    async def answer(self, request: Request) -> Response:
        generation = to_generation_request(self.body)
        metrics = self.state.metrics
        config = self.state.config
        metrics.in_flight.inc()
        if not self.body.stream and self.state.backend.answers_whole:
            try:
                return await until_disconnect(request, self._whole(generation))
            except ClientDisconnected:
                return Response(status_code=CLIENT_CLOSED)
            finally:
                await self._release()
        deltas = self._deltas = with_deadlines(
            self.state.backend.stream(generation),
            config.first_token_timeout,
            config.request_timeout,
            metrics.first_token_timer(),
        )
        handed_over = False
        try:
            if not self.body.stream:
                return await until_disconnect(request, self._collect(deltas))
            # Wait for the first piece before answering 200, so that failures before any text
            # (429, 502, 504) still get their proper HTTP status.
            first = await until_disconnect(request, anext(deltas, None))
            handed_over = True
            # The response releases the request even when its body never starts (the client left
            # first): the events generator's own cleanup would not run then.
            return EventStreamResponse(self._events(first, deltas), on_close=self._release)
        except ClientDisconnected:
            return Response(status_code=CLIENT_CLOSED)
        finally:
            if not handed_over:
                await self._release()

    async def _release(self) -> None:
        """Stop the backend stream and leave the in-flight gauge, once, whichever way the request ended."""
        if self._released:
            return
        self._released = True
        if self._deltas is not None:
            await close_quietly(self._deltas)
        metrics = self.state.metrics
        metrics.in_flight.dec()
        # Counted once the reply is over, from its final usage: the upstream's own figures when it
        # sent them (they arrive last), else the backend's count.
        usage = self.usage.final()
        metrics.tokens_out.inc(_count_of(usage, "completion_tokens"))
        metrics.tokens_in.inc(_count_of(usage, "prompt_tokens"))
        metrics.reasoning_tokens.inc(reasoning_tokens(usage))

    async def _whole(self, generation: GenerationRequest) -> JSONResponse:
        """The relay's whole answer: the upstream's own, under our model name."""
        limit = self.state.config.request_timeout
        first_text = self.state.metrics.first_token_timer()  # a whole answer's text all comes at once
        try:
            async with asyncio.timeout(limit):
                payload = await self.state.backend.complete(generation)
        except TimeoutError:
            raise GatewayTimeout(f"The reply took longer than request_timeout ({limit:g} s).") from None
        first_text()
        if isinstance(payload.get("usage"), dict):
            self.usage.upstream = payload["usage"]
        return JSONResponse({**payload, "model": self.model})

    async def _collect(self, deltas: AsyncIterator[Delta]) -> JSONResponse:
        reply = MessageAssembly()
        async for delta in deltas:
            self.usage.add(delta)
            reply.add(delta)
        payload = completion_payload(self.ident, self.model, reply.message(), reply.finish, self.usage.final())
        return JSONResponse(payload)

    def _chunk(self, delta: dict[str, object], finish: str | None = None, logprobs: object = None) -> bytes:
        return encode_event(chunk_payload(self.ident, self.created, self.model, delta, finish, logprobs=logprobs))

    def _content_chunk(self, text: str) -> bytes:
        # The hot path: one event per token. Splice the text into a pre-encoded chunk rather than
        # re-encoding the whole object each time (same bytes as _chunk({"content": text})).
        if self._content_template is None:
            marker = json.dumps("\u0000MARK\u0000")
            before, after = self._chunk({"content": "\u0000MARK\u0000"}).decode().split(marker, 1)
            self._content_template = (before, after)
        before, after = self._content_template
        return (before + json.dumps(text, ensure_ascii=False) + after).encode()

    async def _events(self, first: Delta | None, deltas: AsyncIterator[Delta]) -> AsyncIterator[bytes]:
        """OpenAI's wire format: role, content deltas, finish_reason, [usage], [DONE]; errors as an event."""
        finish = "stop"
        try:
            # The role chunk goes out in the same write as the first text: one syscall less to first token.
            pending = self._chunk({"role": "assistant", "content": ""})
            delta = first
            while delta is not None:
                self.usage.add(delta)
                if delta.fields or delta.logprobs is not None:
                    # Thinking, tool calls, logprobs: passed on as the upstream sent them.
                    content = {"content": delta.text} if delta.text else {}
                    yield pending + self._chunk({**content, **(delta.fields or {})}, logprobs=delta.logprobs)
                    pending = b""
                elif delta.text:
                    yield pending + self._content_chunk(delta.text)
                    pending = b""
                finish = delta.finish_reason or finish
                delta = await anext(deltas, None)
            yield pending + self._chunk({}, finish)
            if self.body.wants_usage():
                usage_chunk = chunk_payload(self.ident, self.created, self.model, {}, usage=self.usage.final())
                usage_chunk["choices"] = []
                yield encode_event(usage_chunk)
        except ServiceError as error:
            # Too late for an HTTP status: tell the client in-band instead of cutting the stream.
            log.warning("stream %s failed after it began: %s", self.ident, error.message)
            self.state.metrics.stream_errors.labels(code=error.code).inc()
            yield error_event(error)
        except Exception:
            log.exception("stream %s failed after it began", self.ident)
            error = ServiceError("Internal error in the model service.")
            self.state.metrics.stream_errors.labels(code=error.code).inc()
            yield error_event(error)
        finally:
            await self._release()
        yield DONE


def _count_of(usage: dict[str, object], name: str) -> int:
    value = usage.get(name)
    return value if isinstance(value, int) and value > 0 else 0
