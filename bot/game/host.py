"""The host's voice: streams a reply from any OpenAI-compatible chat endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai

from bot.game.structured import FormatLadder, VerdictForm, VerdictFormat, canonical_text, shape_request
from common.config import ModelConfig

log = logging.getLogger(__name__)

RETRY_BASE_DELAY = 0.5
RETRY_MAX_DELAY = 8.0
MODEL_CONNECTIONS = 100


class HostUnavailable(Exception):
    """The model endpoint failed before or without giving a reply."""


class HostBusy(HostUnavailable):
    """The endpoint is overloaded (429: its queue is full or it rate-limits us): worth asking again soon."""


class HostInterrupted(Exception):
    """The reply stopped part-way (the endpoint died or ended the stream with an error)."""


class ModelHost:
    """One shared client for the bot's lifetime; `close()` releases its connections."""

    def __init__(self, config: ModelConfig, client: openai.AsyncOpenAI | None = None) -> None:
        self.config = config
        timeout = httpx2.Timeout(
            config.request_timeout, connect=min(5.0, config.first_token_timeout), read=config.first_token_timeout
        )
        self.client = client or openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "none",
            max_retries=0,  # retries are ours: only before any text arrived, with backoff
            timeout=timeout,
            # Bounded connections: a burst of questions queues here (for up to request_timeout)
            # instead of opening a thousand sockets against the endpoint at once.
            http_client=openai.DefaultAsyncHttpxClient(
                timeout=timeout,
                limits=httpx2.Limits(max_connections=MODEL_CONNECTIONS, max_keepalive_connections=MODEL_CONNECTIONS),
            ),
        )
        # Which response_format this endpoint takes for verdicts, learnt from its refusals.
        self.formats = FormatLadder(config.verdict_format, config.base_url)

    async def close(self) -> None:
        await self.client.close()

    async def stream(self, messages: list[dict[str, str]], verdict: VerdictForm | None = None) -> AsyncIterator[str]:
        """Yield text deltas. Failures before the first delta are retried, then raise HostUnavailable
        (HostBusy when the endpoint said it is overloaded); failures after it raise HostInterrupted
        (a retry would answer the question twice).

        `verdict`: this is a verdict request (not a hint); where the endpoint takes a JSON schema the verdict
        is asked for as JSON fields and decoded back into the text protocol (bot.game.structured)."""
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            started = False
            # Both deadlines are kept by the clock, not checked when text arrives: keep-alives (SSE
            # comments, empty deltas) reset the read timeout but must not hold the channel forever.
            deadline = loop.time() + self.config.request_timeout
            first_by = min(deadline, loop.time() + self.config.first_token_timeout)
            kind = self.formats.current if verdict is not None else "text"
            source = self._attempt(messages, verdict, kind)
            if verdict is not None and kind != "text":
                source = canonical_text(source, verdict)
            try:
                # aclosing: a consumer that stops early (a leak was masked) closes the HTTP
                # stream now, which cancels the generation upstream, not whenever GC runs.
                async with contextlib.aclosing(source) as deltas:
                    while True:
                        # The timeout wraps only the wait for the next delta: one spanning a yield
                        # would cancel the consumer instead of us.
                        async with asyncio.timeout_at(deadline if started else first_by):
                            delta = await anext(deltas, None)
                        if delta is None:
                            return
                        started = True
                        yield delta
            except (openai.APIError, httpx2.HTTPError, TimeoutError, ValueError) as error:
                if not started and self.formats.step_down(kind, error):
                    continue  # the endpoint refused this response_format: ask at once in the next one
                if started:
                    raise HostInterrupted(_describe(error)) from error
                if attempt >= self.config.max_retries or not _retryable(error):
                    raise (HostBusy if _busy(error) else HostUnavailable)(_describe(error)) from error
                delay = _backoff(attempt, error)
                attempt += 1
                log.warning("model endpoint failed (%s); retry %d in %.1fs", _describe(error), attempt, delay)
                await asyncio.sleep(delay)

    async def _attempt(
        self, messages: list[dict[str, str]], verdict: VerdictForm | None = None, kind: VerdictFormat = "text"
    ) -> AsyncIterator[str]:
        # The client's low-level post: the same HTTP, auth and error types as
        # `chat.completions.create`, without re-validating our own request on every call or
        # building a model object per chunk (together ~6 ms of CPU per question, see
        # docs/PERFORMANCE.md). Chunks arrive as plain dicts.
        body = {
            "model": self.config.name,
            "messages": messages,
            "stream": True,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if verdict is not None:
            body = shape_request(body, kind, verdict)  # response_format, when this endpoint takes one
        response: openai.AsyncStream[Any] = await self.client.post(
            "/chat/completions", body=body, cast_to=object, stream=True, stream_cls=openai.AsyncStream[Any]
        )
        try:
            async for chunk in response:
                delta = _delta_text(chunk)
                if delta:
                    yield delta
        finally:
            with contextlib.suppress(httpx2.HTTPError):
                await response.close()


def _delta_text(chunk: Any) -> str | None:
    try:
        return chunk["choices"][0]["delta"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None  # usage-only or keep-alive chunks carry no text


def _retryable(error: Exception) -> bool:
    """429, 5xx and refused connections are retried. A timeout is not: the player has already
    waited a whole first_token_timeout, and a second wait helps less than a prompt answer."""
    if isinstance(error, openai.APIStatusError):
        return error.status_code == 429 or error.status_code >= 500
    if isinstance(error, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return False
    return isinstance(error, openai.APIConnectionError | httpx2.TransportError)


def _busy(error: Exception) -> bool:
    """A 429 other than an exhausted quota (which asking again soon will not fix)."""
    return (
        isinstance(error, openai.APIStatusError)
        and error.status_code == 429
        and getattr(error, "code", None) != "insufficient_quota"
    )


def _backoff(attempt: int, error: Exception) -> float:
    delay = min(RETRY_BASE_DELAY * 2**attempt, RETRY_MAX_DELAY)
    if isinstance(error, openai.APIStatusError):
        retry_after = error.response.headers.get("retry-after")
        with contextlib.suppress(ValueError):
            delay = max(delay, min(float(retry_after), RETRY_MAX_DELAY)) if retry_after else delay
    return delay


def _describe(error: Exception) -> str:
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}"
    if isinstance(error, TimeoutError | openai.APITimeoutError | httpx2.TimeoutException):
        return "timed out"
    return type(error).__name__
