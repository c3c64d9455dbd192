"""Relay to an upstream OpenAI-compatible API (OpenAI, vLLM, Ollama, GLM's API) with the official client."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import openai

try:  # the HTTP library under the openai client: httpx2 in openai>=3, httpx before
    import httpx2 as _http
except ImportError:  # pragma: no cover
    import httpx as _http  # type: ignore[no-redef]

from common.config import ModelServiceConfig
from common.provider_rules import ProviderRules, RetryBudget
from model_service.backends.base import Backend, BackendStartError, Delta, GenerationRequest
from model_service.errors import (
    DEFAULT_RETRY_AFTER,
    GatewayTimeout,
    RateLimited,
    ServiceError,
    UpstreamError,
    UpstreamRejected,
)

log = logging.getLogger(__name__)

READY_CACHE_SECONDS = 5.0  # /readyz probes often; don't hit the upstream every time
BUSY_RETRY_AFTER = "1"  # seconds: relayed replies take a few seconds, and a slot frees with each
MAX_UPSTREAM_MESSAGE = 300
# Upstream answers about the request itself (a field, its size): the client's to hear and fix. Other
# refusals (404 model, 401 key, 5xx) are about this service's set-up and stay a 502.
CLIENT_FAULTS = frozenset({400, 413, 422})
# Delta keys that are not relayed as fields: the role (sent once, by us) and the text itself.
_PLAIN_DELTA_KEYS = frozenset({"role", "content"})
_EMPTY: tuple[object, ...] = (None, "", [], {})
DONE = object()  # the upstream's "data: [DONE]"
_NO_REQUEST = _http.Request("POST", "http://upstream/")  # for exceptions raised outside the client


class OpenAIBackend(Backend):
    name = "openai"
    answers_whole = True

    def __init__(self, config: ModelServiceConfig) -> None:
        self._config = config.openai
        self._first_token_timeout = config.first_token_timeout
        self._request_timeout = config.request_timeout
        self._secrets = [key for key in (config.openai.api_key, config.api_key) if key]
        self._client: openai.AsyncOpenAI | None = None
        self._ready_at = 0.0
        self._ready = False
        self._in_flight = 0  # requests relayed now, counted before the upstream is called
        self.rules = ProviderRules()  # what the upstream's model refused, learned from its 400s

    @property
    def client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            raise BackendStartError("the openai backend is not started")
        return self._client

    async def start(self) -> None:
        if self._client is not None:
            return
        if not self._config.api_key:
            raise BackendStartError("model_service.openai.api_key is not set")
        # The read timeout bounds the wait for each chunk, the first one included.
        timeout = openai.Timeout(self._first_token_timeout, connect=self._config.connect_timeout)
        self._client = openai.AsyncOpenAI(
            api_key=self._config.api_key,
            base_url=self._config.base_url,
            timeout=timeout,
            max_retries=self._config.max_retries,
        )
        log.info("relaying to %s (model %s)", self._config.base_url, self._config.model)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def ready(self) -> bool:
        if self._client is None:
            return False
        if time.monotonic() - self._ready_at < READY_CACHE_SECONDS:
            return self._ready
        try:
            probe = self._client.with_options(timeout=self._config.connect_timeout, max_retries=0)
            await probe.models.list()
            self._ready = True
        except openai.APIError as exc:
            log.warning("upstream not ready: %s", self._describe(exc).message)
            self._ready = False
        self._ready_at = time.monotonic()
        return self._ready

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        self._admit()  # before any upstream call: a full relay refuses at once and costs the upstream nothing
        try:
            # The official client's generic `post` (its documented way to call any endpoint) sends the
            # request, retries and maps HTTP errors to exceptions, and hands back the unread response;
            # we read its SSE lines ourselves. Its typed `chat.completions.create` transforms the
            # arguments and builds a pydantic object per chunk, which cost more than the whole relay.
            with self._upstream_failures():
                response = await self._post(request, stream=True)
                try:
                    finished = False
                    async for line in response.aiter_lines():
                        # After [DONE], read on to the end of the body so the connection can be reused.
                        delta = None if finished else parse_sse_line(line)
                        if delta is DONE:
                            finished = True
                        elif delta is not None:
                            yield delta
                finally:
                    # Closing the response drops the connection: that is how the upstream learns we
                    # stopped listening. Shielded, because we are often here because of a cancellation.
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
        finally:
            self._in_flight -= 1

    async def complete(self, request: GenerationRequest) -> dict[str, Any]:
        """A whole answer: the upstream is asked for one too, so that what comes back (usage above all:
        some servers, llama-cpp-python's, report none in a stream) is exactly what it would answer."""
        self._admit()
        try:
            with self._upstream_failures():
                response = await self._post(request, stream=False)
                try:
                    payload = json.loads(await response.aread())
                finally:
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
        finally:
            self._in_flight -= 1
        if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
            raise UpstreamError(f"The upstream at {self._config.base_url} answered something other than a completion.")
        return payload

    @contextmanager
    def _upstream_failures(self) -> Iterator[None]:
        """Whatever goes wrong upstream, raised as the ServiceError our client should see."""
        try:
            yield
        except openai.APIError as exc:
            raise self._describe(exc) from None
        except _http.TimeoutException:
            raise self._describe(openai.APITimeoutError(request=_NO_REQUEST)) from None
        except _http.RequestError as exc:
            error = openai.APIConnectionError(message=f"{type(exc).__name__}: {exc}", request=_NO_REQUEST)
            raise self._describe(error) from None
        except (UpstreamStreamError, ValueError) as exc:
            raise UpstreamError(f"The upstream at {self._config.base_url} failed: {self._scrub(str(exc))}") from None

    async def _post(self, request: GenerationRequest, stream: bool) -> _http.Response:
        """Send the request; a 400 that teaches a provider rule is answered by one reshaped retry per rule.

        A stream's read timeout is the wait for each chunk (first_token_timeout); a whole answer has
        no first token to wait for, so its read is bounded by request_timeout."""
        budget = RetryBudget()
        options: dict[str, Any] = {}
        if not stream:
            options["timeout"] = openai.Timeout(self._request_timeout, connect=self._config.connect_timeout)
        while True:
            try:
                return await self.client.post(
                    "/chat/completions",
                    body=self._arguments(request, stream),
                    cast_to=_http.Response,
                    stream=True,  # the unread response either way: we read the body ourselves
                    options=options,  # type: ignore[arg-type]
                )
            except openai.APIStatusError as exc:
                if not budget.allows(self.rules.learn(self._config.model, exc)):
                    raise

    def _admit(self) -> None:
        if self._in_flight >= self._config.max_in_flight:
            raise RateLimited(
                f"The relay already has {self._config.max_in_flight} requests in flight; retry shortly.",
                retry_after=BUSY_RETRY_AFTER,
                code="queue_full",
            )
        self._in_flight += 1

    def _arguments(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        """The client's request as it sent it; the service owns the model and, for a stream, asks for
        usage (OpenAI refuses stream_options without stream). Reshaped only by what the upstream's
        model refused before (common/provider_rules.py)."""
        arguments = {**request.fields, "model": self._config.model, "stream": stream}
        if stream:
            arguments["stream_options"] = {"include_usage": True}  # always: the metrics count it
        return self.rules.shape(self._config.model, arguments)

    def _describe(self, exc: openai.APIError) -> ServiceError:
        """Map an openai exception to what our client should see, without leaking any key."""
        where = self._config.base_url
        if isinstance(exc, openai.APITimeoutError):
            return GatewayTimeout(f"The upstream at {where} did not answer in time.", code="upstream_timeout")
        if isinstance(exc, openai.APIConnectionError):
            return UpstreamError(f"Cannot reach the upstream at {where}: {exc.message}", code="upstream_unreachable")
        if isinstance(exc, openai.RateLimitError):
            retry_after = exc.response.headers.get("retry-after") or DEFAULT_RETRY_AFTER
            return RateLimited(f"The upstream at {where} is rate limiting; retry later.", retry_after=retry_after)
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            # Upstream 401 bodies can quote part of the key; say what happened, never what it said.
            return UpstreamError(
                f"The upstream at {where} refused the API key (check model_service.openai.api_key).",
                code="upstream_auth_failed",
            )
        if isinstance(exc, openai.APIStatusError) and exc.status_code in CLIENT_FAULTS:
            return UpstreamRejected(exc.status_code, self._upstream_error(exc))
        if isinstance(exc, openai.APIStatusError):
            return UpstreamError(
                f"The upstream at {where} answered HTTP {exc.status_code}: {self._scrub(exc.message)}",
                code=f"upstream_http_{exc.status_code}",
            )
        return UpstreamError(f"The upstream at {where} failed: {self._scrub(exc.message)}", code="upstream_error")

    def _upstream_error(self, exc: openai.APIStatusError) -> dict[str, Any]:
        """The upstream's error object as it sent it, its message scrubbed of our keys."""
        error = dict(exc.body) if isinstance(exc.body, dict) else {}
        error["message"] = self._scrub(str(error.get("message") or exc.message))
        return error

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text[:MAX_UPSTREAM_MESSAGE]


class UpstreamStreamError(Exception):
    """The upstream sent an error event inside its stream."""


def parse_sse_line(line: str) -> Delta | object | None:
    """One line of the upstream's event stream: a Delta, DONE, or None for anything without text or an ending."""
    if not line.startswith("data:"):
        return None  # blank separators, comments (": ping"), event:/id: fields
    data = line[5:].strip()
    if data == "[DONE]":
        return DONE
    try:
        chunk = json.loads(data)
    except ValueError:
        raise UpstreamStreamError(f"unreadable event: {data[:80]!r}") from None
    if not isinstance(chunk, dict):
        return None
    if chunk.get("error"):
        error = chunk["error"]
        raise UpstreamStreamError(str(error.get("message") if isinstance(error, dict) else error))
    usage = chunk.get("usage")
    usage = usage if isinstance(usage, dict) and usage else None
    choices = chunk.get("choices") or []
    if not choices:
        return Delta(tokens=0, usage=usage) if usage is not None else None
    choice = choices[0]
    delta = choice.get("delta") or {}
    text = delta.get("content") or ""
    # Thinking (`reasoning_content`, `reasoning`), tool calls, refusals: relayed as the upstream sent them.
    # Empty ones (`"tool_calls": []`, `"reasoning_content": null`, as some servers send in every delta) say nothing.
    fields = {key: value for key, value in delta.items() if key not in _PLAIN_DELTA_KEYS and value not in _EMPTY}
    logprobs = choice.get("logprobs")
    finish = choice.get("finish_reason")
    if not text and not fields and logprobs is None and finish is None and usage is None:
        return None
    return Delta(
        text=text,
        finish_reason=finish,
        tokens=0 if not text and not fields else None,
        fields=fields or None,
        logprobs=logprobs,
        usage=usage,
    )
