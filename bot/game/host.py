"""The host's voice: streams a reply from any OpenAI-compatible chat endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai

from bot.game import sse
from bot.game.sse import FinalText
from bot.game.structured import (
    FormatLadder,
    JsonDocument,
    VerdictForm,
    VerdictFormat,
    canonical_text,
    shape_document_request,
    shape_request,
)
from bot.game.thinking import Split, Thinking, ThoughtFilter
from common.config import ModelConfig
from common.provider_rules import ProviderRules, RetryBudget
from common.reasoning import reasoning_fields, resolve_provider

log = logging.getLogger(__name__)

RETRY_BASE_DELAY = 0.5
RETRY_MAX_DELAY = 8.0
MODEL_CONNECTIONS = 100
# What follows a reply's last event is [DONE] and the body's end, sent at once: waited for this long at most.
DRAIN_SECONDS = 1.0


class HostUnavailable(Exception):
    """The model endpoint failed before or without giving a reply."""


class HostBusy(HostUnavailable):
    """The endpoint is overloaded (429: its queue is full or it rate-limits us): worth asking again soon."""


class HostInterrupted(Exception):
    """The reply stopped part-way (the endpoint died or ended the stream with an error)."""


class HostNoVerdict(HostInterrupted):
    """The model thought but gave no answer: its thought was cut off (the token budget ran out) or ran past
    `model.thinking_timeout`. Like any interruption, nothing of it counts and the player may ask again."""


class ModelHost:
    """One shared client for the bot's lifetime; `close()` releases its connections."""

    def __init__(self, config: ModelConfig, client: openai.AsyncOpenAI | None = None) -> None:
        self.config = config
        # Set once a reply began mid-thought (its chat template opens the thought in the prompt): from then on
        # no reply's opening is shown before its closing tag, even one that starts like a verdict.
        self.starts_mid_thought = False
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
        self.rules = ProviderRules()  # what the model's server refused, learned from its 400s
        # model.reasoning in the provider's own words; nothing for `default`.
        self.reasoning = reasoning_fields(resolve_provider(config.provider, config.base_url), config.reasoning)
        # Which response_format this endpoint takes for verdicts, learnt from its refusals.
        self.formats = FormatLadder(config.verdict_format, config.base_url)

    async def close(self) -> None:
        await self.client.close()

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """Today's request plus the reasoning setting, reshaped only by what this model's server refused before."""
        body = {
            "model": self.config.name,
            "messages": messages,
            "stream": True,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            **self.reasoning,
        }
        return self.rules.shape(self.config.name, body)

    async def stream(
        self, messages: list[dict[str, str]], verdict: VerdictForm | None = None, document: JsonDocument | None = None
    ) -> AsyncIterator[str | Thinking]:
        """Yield visible text deltas, thinking already removed, and `Thinking` markers while the model
        thinks. Failures before the first delta are retried, then raise HostUnavailable (HostBusy when the
        endpoint said it is overloaded); failures after it raise HostInterrupted (a retry would answer the
        question twice), HostNoVerdict when the model thought and gave no answer.

        `verdict`: this is a verdict request (not a hint); where the endpoint takes a JSON schema the verdict
        is asked for as JSON fields and decoded back into the text protocol (bot.game.structured).
        `document`: the whole reply is asked for as this JSON object where the endpoint takes a schema, and
        its text is passed on undecoded (a generated puzzle, bot.game.generate)."""
        attempt = 0
        adaptations = RetryBudget()
        loop = asyncio.get_running_loop()
        while True:
            started = False
            # Both deadlines are kept by the clock, not checked when text arrives: keep-alives (SSE
            # comments, empty deltas) reset the read timeout but must not hold the channel forever.
            deadline = loop.time() + self.config.request_timeout
            first_by = min(deadline, loop.time() + self.config.first_token_timeout)
            thinking_since: float | None = None  # set by the first thought, until the answer starts
            answering = False
            kind, source = self._source(messages, verdict, document)
            try:
                # aclosing: a consumer that stops early (a leak was masked) closes the HTTP
                # stream now, which cancels the generation upstream, not whenever GC runs.
                async with contextlib.aclosing(source) as deltas:
                    while True:
                        # The timeout wraps only the wait for the next delta: one spanning a yield
                        # would cancel the consumer instead of us. A thought shows the model is alive
                        # (the first-token deadline is met) but has its own, shorter bound.
                        wait_until = deadline if started else first_by
                        if thinking_since is not None:
                            wait_until = min(wait_until, thinking_since + self.config.thinking_timeout)
                        try:
                            async with asyncio.timeout_at(wait_until):
                                delta = await anext(deltas, None)
                        except TimeoutError:
                            if thinking_since is not None and wait_until < deadline:
                                raise HostNoVerdict(f"thought for over {self.config.thinking_timeout:g}s") from None
                            raise
                        if delta is None:
                            return
                        started = True
                        if isinstance(delta, Thinking):
                            if answering:
                                continue  # thought after the answer began (some servers interleave): nothing to show
                            if thinking_since is None:
                                thinking_since = loop.time()
                            yield dataclasses.replace(delta, seconds=loop.time() - thinking_since)
                            continue
                        # The answer has begun: only the whole-reply deadline holds now.
                        answering, thinking_since = True, None
                        yield delta
            except (openai.APIError, httpx2.HTTPError, TimeoutError, ValueError) as error:
                if started:
                    raise HostInterrupted(_describe(error)) from error
                if self._reshaped(kind, error, adaptations):
                    continue
                await self._back_off(attempt, error)
                attempt += 1

    def _source(
        self, messages: list[dict[str, str]], verdict: VerdictForm | None, document: JsonDocument | None = None
    ) -> tuple[VerdictFormat, AsyncIterator[str | Thinking]]:
        """One attempt's deltas, in the verdict format this endpoint takes now, decoded to the text protocol."""
        structured = verdict is not None or document is not None
        kind: VerdictFormat = self.formats.current if structured else "text"
        source = self._attempt(messages, verdict, kind, document)
        if verdict is not None and kind != "text":
            source = canonical_text(source, verdict)
        return kind, source

    def _reshaped(self, kind: VerdictFormat, error: Exception, adaptations: RetryBudget) -> bool:
        """Whether a refusal before any text is fixed by asking again at once, differently: the endpoint refused
        this response_format (ask in the next one), or a 400 named a parameter the model refuses (reshaped
        once per rule)."""
        if self.formats.step_down(kind, error):
            return True
        return adaptations.allows(self.rules.learn(self.config.name, error))

    async def _back_off(self, attempt: int, error: Exception) -> None:
        """Wait before retry number `attempt + 1`, or raise when the failure is not worth another try."""
        if attempt >= self.config.max_retries or not _retryable(error):
            raise (HostBusy if _busy(error) else HostUnavailable)(_describe(error)) from error
        delay = _backoff(attempt, error)
        log.warning("model endpoint failed (%s); retry %d in %.1fs", _describe(error), attempt + 1, delay)
        await asyncio.sleep(delay)

    async def _attempt(
        self,
        messages: list[dict[str, str]],
        verdict: VerdictForm | None = None,
        kind: VerdictFormat = "text",
        document: JsonDocument | None = None,
    ) -> AsyncIterator[str | Thinking]:
        # The client's low-level post: the same HTTP, auth and error types as
        # `chat.completions.create`, without re-validating our own request on every call or
        # building a model object per chunk (together ~6 ms of CPU per question, see
        # docs/PERFORMANCE.md). Chunks arrive as plain dicts.
        body = self.request_body(messages)
        if verdict is not None:
            body = shape_request(body, kind, verdict)  # response_format, when this endpoint takes one
        elif document is not None:
            body = shape_document_request(body, kind, document)
        response: openai.AsyncStream[Any] = await self.client.post(
            "/chat/completions", body=body, cast_to=object, stream=True, stream_cls=openai.AsyncStream[Any]
        )
        reader = ThoughtFilter(self.starts_mid_thought)  # thinking (fields or inline) is measured, never passed on
        finished = False  # the model's last event (its finish_reason) came: the reply is whole
        try:
            # Read off the HTTP response (bot.game.sse): the client's own stream leaves its readers to the GC.
            async with contextlib.aclosing(sse.chunks(response.response)) as chunks:
                async for chunk in chunks:
                    if finished:
                        continue  # what follows the last event (usage, [DONE]) is read, never shown
                    finished = _finished(chunk)
                    delta = _delta(chunk)  # None: usage-only or keep-alive chunks carry no text
                    visible = ""
                    if delta is not None:
                        split = self._read(reader, delta)
                        if split.thought or (reader.inline.likely_thought and not split.visible):
                            # A long opening held back as likely thought (it began mid-thought) counts as thinking
                            # too: the model is alive, and the thinking limit holds.
                            yield Thinking(reader.thinking, tokens=round(reader.tokens))
                        visible = split.visible
                    if finished:
                        try:
                            # The rest of the reply at once: its consumer concludes now, while the end of the body
                            # is on its way; that end is read after (resumed) or when the consumer closes us.
                            yield FinalText(self._ending(reader, visible))
                        except GeneratorExit:
                            await _read_to_end(chunks)
                            raise
                    elif visible:
                        yield visible
            if not finished:  # the body ended with no last event (a server that sends none): what is left
                rest = self._ending(reader, "")
                if rest:
                    yield rest
        finally:
            with contextlib.suppress(httpx2.HTTPError):
                await response.close()

    def _read(self, reader: ThoughtFilter, delta: dict[str, Any]) -> Split:
        split = reader.read(delta)
        if reader.inline.began_mid_thought and not self.starts_mid_thought:
            self.starts_mid_thought = True
            log.info("model %s starts its replies mid-thought: openings are held to the closing tag", self.config.name)
        return split

    @staticmethod
    def _ending(reader: ThoughtFilter, visible: str) -> str:
        """The last of a reply's text: what was read and what the thought filter still held, or HostNoVerdict."""
        rest = reader.finish()
        if reader.unanswered:
            raise HostNoVerdict("the model's thought ended with no answer")
        return visible + rest.visible


async def _read_to_end(chunks: AsyncIterator[Any]) -> None:
    """Read what follows a reply's last event ([DONE], the end of the body) so its connection is kept for the
    next request; a server that goes on sending after its last event is cut off after DRAIN_SECONDS."""
    with contextlib.suppress(TimeoutError, openai.APIError, httpx2.HTTPError):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass


async def reply_text(deltas: AsyncIterator[str | Thinking]) -> str:
    """A whole reply's visible text from `ModelHost.stream` (thinking markers only say the model is alive),
    the stream closed on every way out; it ends at the model's last event (FinalText)."""
    text = ""
    async with contextlib.aclosing(deltas):
        async for delta in deltas:
            if isinstance(delta, str):
                text += delta
                if isinstance(delta, FinalText):
                    break
    return text


def _finished(chunk: Any) -> bool:
    try:
        return bool(chunk["choices"][0].get("finish_reason"))
    except (KeyError, IndexError, TypeError, AttributeError):
        return False


def _delta(chunk: Any) -> dict[str, Any] | None:
    try:
        delta = chunk["choices"][0]["delta"]
    except (KeyError, IndexError, TypeError):
        return None  # usage-only or keep-alive chunks carry no text
    return delta if isinstance(delta, dict) else None


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
