"""Asking the host every case, the way the bot asks it: the variant's prompt, ModelHost's request, parse_verdict.

Requests run `concurrency` at a time. A request that fails (429, 5xx, a refused connection, a reply cut off) is
tried again after a backoff, longer when the endpoint's Retry-After says so. Every answer is appended to a JSONL
cache as it arrives, keyed by the exact request (endpoint, model, sampling, messages), so an interrupted run
resumes where it stopped and a changed prompt is asked afresh. The run stops starting requests at its budget
(`max_seconds`, `max_tokens`) and cancels those in flight at its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx2
import openai

from bench.judge.cases import Case
from bench.judge.progress import Progress
from bench.judge.scoring import Scored, score
from bot.game.host import HostInterrupted, HostNoVerdict, HostUnavailable, ModelHost
from bot.game.prompt_variants import prompt_builder, verdict_form
from bot.game.prompts import estimate_tokens
from bot.game.structured import VerdictForm, VerdictFormat
from bot.game.thinking import Thinking
from common.config import ModelConfig

log = logging.getLogger(__name__)

# Single-turn judging: no history, so the budget only has to hold the few-shot practice round.
HISTORY_BUDGET = 1400
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0
# Statuses that no retry fixes: a refused key, a forbidden or unknown model or path.
FATAL_STATUSES = {401: "the endpoint refused the API key", 403: "access denied", 404: "unknown model or path"}


class EndpointError(Exception):
    """The endpoint cannot be used at all: unreachable, or refusing every request."""


class CaseFailed(Exception):
    """One request failed for good (retries spent, or an error no retry fixes)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = None
    temperature: float = 0.2
    max_tokens: int = 300
    first_token_timeout: float = 60.0
    request_timeout: float = 180.0
    thinking_timeout: float = 45.0  # the game's limit: a thought it would cut off counts as no verdict here too
    verdict_format: VerdictFormat = "auto"  # how verdicts are asked for (bot.game.structured)

    def model_config(self) -> ModelConfig:
        # max_retries=0: ModelHost's own retries are the bot's (capped for a waiting player); the bench retries here.
        return ModelConfig(
            base_url=self.base_url,
            api_key=self.api_key,
            name=self.model,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            first_token_timeout=self.first_token_timeout,
            request_timeout=self.request_timeout,
            thinking_timeout=self.thinking_timeout,
            max_retries=0,
            verdict_format=self.verdict_format,
        )


@dataclass(frozen=True, slots=True)
class Limits:
    concurrency: int = 4
    retries: int = 5
    retry_delay: float = 1.0  # the first backoff; it doubles each retry, up to MAX_BACKOFF
    max_seconds: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """One reply as the bot reads it: the visible text (thinking already removed) and what the thinking cost."""

    reply: str
    latency_s: float
    thinking_chars: int = 0
    thinking_tokens: int = 0  # estimated, as the bot estimates prompts
    thinking_s: float = 0.0  # from the first thought to the answer (or to the end of a thought with none)
    no_verdict: bool = False  # the model thought and gave no answer (cut off, or past thinking_timeout)


@dataclass(frozen=True, slots=True)
class Job:
    variant: str  # the row it counts in: the prompt variant, "variant/format" when a run compares verdict formats
    case: Case
    messages: list[dict[str, str]]
    key: str
    prompt: str = "standard"  # the prompt variant that built the messages
    verdict_format: VerdictFormat = "auto"


@dataclass
class RunOutcome:
    scored: list[Scored] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0  # HTTP requests made, retries included
    from_cache: int = 0
    stopped: str | None = None  # "max_seconds" / "max_tokens" when the budget stopped the run
    pending: int = 0  # cases left unasked because of the budget
    tokens_spent: int = 0  # this run's estimated tokens (cached answers cost nothing)
    formats_used: dict[str, str] = field(default_factory=dict)  # verdict format asked for -> what the endpoint took


def make_jobs(
    cases: Sequence[Case], variants: Sequence[str], endpoint: Endpoint, formats: Sequence[VerdictFormat] = ()
) -> list[Job]:
    """Every case for every prompt variant and verdict format (default: the endpoint's one format)."""
    formats = list(formats) or [endpoint.verdict_format]
    jobs = []
    for variant in variants:
        build = prompt_builder(variant)
        for kind in formats:
            row = variant if len(formats) == 1 else f"{variant}/{kind}"
            for case in cases:
                messages = build(case.puzzle, [], case.question, HISTORY_BUDGET)
                key = request_key(endpoint, messages, kind)
                jobs.append(Job(row, case, messages, key, prompt=variant, verdict_format=kind))
    return jobs


def request_key(endpoint: Endpoint, messages: list[dict[str, str]], kind: VerdictFormat = "text") -> str:
    """The same request gets the same key: endpoint, model, sampling, verdict format and the exact messages."""
    identity: list[Any] = [endpoint.base_url, endpoint.model, endpoint.temperature, endpoint.max_tokens, messages]
    if kind != "text":  # text-protocol keys stay those of runs made before structured verdicts
        identity.append(kind)
    return hashlib.sha256(json.dumps(identity, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:32]


class ReplyCache:
    """Answers already received, one JSON object a line; a line cut short by a crash is ignored."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError, TypeError, KeyError):
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def add(self, entry: dict[str, Any]) -> None:
        self.entries[entry["key"]] = entry
        if self._file is not None:
            self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class Runner:
    def __init__(self, endpoint: Endpoint, limits: Limits, cache: ReplyCache, progress: Progress | None = None) -> None:
        self.endpoint = endpoint
        self.limits = limits
        self.cache = cache
        self.progress = progress
        self.outcome = RunOutcome()
        self._deadline: float | None = None
        self._answered = False
        self._asked: set[VerdictFormat] = set()  # formats this run sent requests in (cached answers send none)

    async def run(self, jobs: Sequence[Job]) -> RunOutcome:
        todo: asyncio.Queue[Job] = asyncio.Queue()
        for job in jobs:
            entry = self.cache.entries.get(job.key)
            if entry is None:
                todo.put_nowait(job)
            else:
                self.outcome.from_cache += 1
                self.outcome.scored.append(score(job.variant, job.case, entry, prompt=job.prompt))
        if self.progress:
            self.progress.start(len(jobs), self.outcome.from_cache)
        if self.limits.max_seconds is not None:
            self._deadline = time.monotonic() + self.limits.max_seconds
        # One client per verdict format, each learning what the endpoint refuses (as the bot's one client does).
        hosts = {
            kind: ModelHost(replace(self.endpoint, verdict_format=kind).model_config())
            for kind in dict.fromkeys(job.verdict_format for job in jobs)
        }
        try:
            workers = [asyncio.create_task(self._work(hosts, todo)) for _ in range(max(1, self.limits.concurrency))]
            try:
                async with asyncio.timeout_at(self._loop_deadline()):
                    await asyncio.gather(*workers)
            except TimeoutError:
                self.outcome.stopped = "max_seconds"
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        finally:
            for host in hosts.values():
                await host.close()
            self.outcome.formats_used = {
                kind: host.formats.current for kind, host in hosts.items() if kind in self._asked
            }
            if self.progress:
                self.progress.finish()
        self.outcome.pending = len(jobs) - len(self.outcome.scored) - len(self.outcome.failed)
        return self.outcome

    def _loop_deadline(self) -> float | None:
        if self._deadline is None:
            return None
        return asyncio.get_running_loop().time() + (self._deadline - time.monotonic())

    def _out_of_budget(self) -> bool:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.outcome.stopped = "max_seconds"
            return True
        if self.limits.max_tokens is not None and self.outcome.tokens_spent >= self.limits.max_tokens:
            self.outcome.stopped = "max_tokens"
            return True
        return False

    async def _work(self, hosts: dict[VerdictFormat, ModelHost], todo: asyncio.Queue[Job]) -> None:
        while not todo.empty() and not self._out_of_budget():
            job = todo.get_nowait()
            prompt_tokens = sum(estimate_tokens(message["content"]) for message in job.messages)
            try:
                form = verdict_form(job.prompt, job.case.puzzle)
                self._asked.add(job.verdict_format)
                answer = await self._ask(hosts[job.verdict_format], job.messages, form)
            except CaseFailed as error:
                self.outcome.failed.append({"variant": job.variant, "case": job.case.id, "error": str(error)})
                log.warning("%s %s failed: %s", job.variant, job.case.id, error)
            else:
                entry = {
                    "key": job.key,
                    "variant": job.variant,
                    "case": job.case.id,
                    "reply": answer.reply,  # what players would see: never the thinking
                    "latency_s": round(answer.latency_s, 4),
                    "prompt_tokens": prompt_tokens,
                    "reply_tokens": estimate_tokens(answer.reply),
                    "thinking_chars": answer.thinking_chars,
                    "thinking_tokens": answer.thinking_tokens,
                    "thinking_s": round(answer.thinking_s, 4),
                    "no_verdict": answer.no_verdict,
                }
                self.cache.add(entry)
                self.outcome.tokens_spent += entry["prompt_tokens"] + entry["reply_tokens"] + answer.thinking_tokens
                self.outcome.scored.append(score(job.variant, job.case, entry, prompt=job.prompt))
            if self.progress:
                self.progress.advance(job.variant)

    async def _ask(self, host: ModelHost, messages: list[dict[str, str]], form: VerdictForm) -> Answer:
        """The whole reply (in the text protocol, however it was asked for), how long it took and what its
        thinking cost; retried with backoff on errors a retry may fix. A thought with no answer after it is an
        answer too (an unparsed one): a retry would think alike."""
        for attempt in range(self.limits.retries + 1):
            self.outcome.requests += 1
            started = time.perf_counter()
            parts: list[str] = []
            thought = Thinking(0)
            try:
                async for delta in host.stream(messages, verdict=form):
                    if isinstance(delta, Thinking):
                        thought = delta
                    else:
                        parts.append(delta)
                self._answered = True
                return Answer("".join(parts), time.perf_counter() - started, *_cost(thought))
            except HostNoVerdict:
                self._answered = True
                return Answer("", time.perf_counter() - started, *_cost(thought), no_verdict=True)
            except (HostUnavailable, HostInterrupted) as error:
                cause = error.__cause__
                self._raise_if_fatal(cause)
                unreachable = _unreachable(cause)
                # An endpoint that never answered this run and refuses connections is down: say so after one retry.
                retries = self.limits.retries if self._answered or not unreachable else min(self.limits.retries, 1)
                if attempt >= retries or not _retryable(cause):
                    if unreachable:
                        raise EndpointError(
                            f"cannot reach {self.endpoint.base_url} ({type(cause).__name__}) after "
                            f"{attempt + 1} tries: is the model endpoint running, and is --base-url right?"
                        ) from None
                    raise CaseFailed(f"{error} after {attempt + 1} tries") from None
                delay = self._backoff(attempt, cause)
                log.info("request failed (%s); retry %d in %.2fs", error, attempt + 1, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _raise_if_fatal(self, cause: BaseException | None) -> None:
        if isinstance(cause, openai.APIStatusError) and cause.status_code in FATAL_STATUSES:
            raise EndpointError(
                f"HTTP {cause.status_code} from {self.endpoint.base_url} for model {self.endpoint.model!r}: "
                f"{FATAL_STATUSES[cause.status_code]}"
            )

    def _backoff(self, attempt: int, cause: BaseException | None) -> float:
        delay = min(self.limits.retry_delay * 2**attempt, MAX_BACKOFF)
        if isinstance(cause, openai.APIStatusError):
            with contextlib.suppress(TypeError, ValueError):
                delay = max(delay, min(float(cause.response.headers.get("retry-after")), MAX_RETRY_AFTER))
        return delay


def _cost(thought: Thinking) -> tuple[int, int, float]:
    return thought.chars, thought.tokens, thought.seconds


def _unreachable(cause: BaseException | None) -> bool:
    """A refused or failed connection (not a slow reply: a timeout is the model's, not the address's)."""
    if isinstance(cause, openai.APITimeoutError | httpx2.TimeoutException):
        return False
    return isinstance(cause, openai.APIConnectionError | httpx2.TransportError)


def _retryable(cause: BaseException | None) -> bool:
    """Rate limits, server errors, dropped connections and timeouts; not a request the endpoint rejects."""
    if isinstance(cause, openai.APIStatusError):
        return cause.status_code in (408, 409, 429) or cause.status_code >= 500
    return cause is None or isinstance(
        cause, openai.APIConnectionError | httpx2.TransportError | httpx2.TimeoutException | TimeoutError | ValueError
    )
