"""A local model (ChatGLM-6B or any transformers causal LM) generating on a worker thread.

One generation runs at a time on the model; up to `max_queue` more requests wait their turn and
the rest get 429. Tokens travel from the generation thread to the event loop through a
thread-safe queue, so the loop never blocks; closing the stream sets a flag that a
StoppingCriteria checks after every token.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from common.config import ModelServiceConfig
from model_service.backends.base import Backend, BackendStartError, Delta, GenerationRequest
from model_service.backends.local_fields import check_local_fields
from model_service.backends.stops import StopMatcher
from model_service.errors import NotReady, RateLimited, ServiceError

log = logging.getLogger(__name__)

QUEUE_RETRY_AFTER = "2"  # seconds: a short reply from a 6B model on a GPU


@dataclass
class BackendStats:
    """Counters the tests and /metrics can read."""

    generations: int = 0
    cancelled: int = 0  # generations stopped early because the client left or a stop string matched
    last_prompt_ids: list[int] = field(default_factory=list)


@dataclass
class _Job:
    """One generation's shared state between the event loop and the worker thread."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[str, Any]]
    cancel: threading.Event = field(default_factory=threading.Event)

    def send(self, kind: str, payload: Any = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, payload))
        except RuntimeError:  # the loop closed (shutdown): nobody is listening any more
            self.cancel.set()


class ChatGLMBackend(Backend):
    name = "chatglm"

    def __init__(self, config: ModelServiceConfig) -> None:
        self._config = config.chatglm
        self._max_waiting = config.max_queue
        self._pending = 0  # running + waiting
        self._turn = asyncio.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._loaded: Any = None
        self._prompts: Any = None
        self._current: _Job | None = None
        self.stats = BackendStats()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._loaded is not None:
            return
        from model_service.backends.loader import load_model
        from model_service.backends.prompt import PromptBuilder

        # Weights take seconds to minutes to load; keep the loop responsive (healthz) meanwhile.
        self._loaded = await asyncio.to_thread(load_model, self._config)
        self._prompts = PromptBuilder(self._loaded.tokenizer, self._loaded.model)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        log.info("chatglm backend ready (prompt format: %s)", self._prompts.style)

    async def close(self) -> None:
        if self._current is not None:
            self._current.cancel.set()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._loaded = None

    async def ready(self) -> bool:
        return self._loaded is not None

    @property
    def pending(self) -> int:
        """Requests running or waiting for the model."""
        return self._pending

    @property
    def model(self) -> Any:
        if self._loaded is None:
            raise BackendStartError("the chatglm backend is not started")
        return self._loaded.model

    @property
    def tokenizer(self) -> Any:
        if self._loaded is None:
            raise BackendStartError("the chatglm backend is not started")
        return self._loaded.tokenizer

    # -- serving -----------------------------------------------------------------------------

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        check_local_fields(request.fields)  # before queueing: a refused request costs the model nothing
        if self._loaded is None or self._executor is None:
            raise NotReady("The local model is not loaded yet.")
        if self._pending >= 1 + self._max_waiting:
            raise RateLimited(
                f"The local model is busy and {self._max_waiting} requests are already waiting; retry shortly.",
                retry_after=QUEUE_RETRY_AFTER,
                code="queue_full",
            )
        self._pending += 1
        try:
            async with self._turn:
                async for delta in self._generate(request):
                    yield delta
        finally:
            self._pending -= 1

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        prompt_ids, max_new = await loop.run_in_executor(self._executor, self._prepare, request)
        job = _Job(loop, asyncio.Queue())
        self._current = job
        loop.run_in_executor(self._executor, self._run, job, prompt_ids, max_new, request)
        matcher = StopMatcher(request.stop)
        try:
            backlog: deque[tuple[str, Any]] = deque()
            while True:
                if not backlog:
                    backlog.append(await job.queue.get())
                _drain(job.queue, backlog)
                kind, payload = _next_event(backlog)
                if kind == "error":
                    raise payload
                if kind == "text":
                    text, tokens = payload
                    safe, stopped = matcher.feed(text)
                    if stopped:
                        job.cancel.set()  # stop generating: the rest would be thrown away
                        yield Delta(safe, finish_reason="stop", tokens=tokens, prompt_tokens=len(prompt_ids))
                        return
                    if safe or tokens:
                        yield Delta(safe, tokens=tokens)
                    continue
                # "done": payload is the finish reason
                yield Delta(matcher.flush(), finish_reason=payload, tokens=0, prompt_tokens=len(prompt_ids))
                return
        finally:
            job.cancel.set()  # the client left, a deadline passed, or we are done: the thread stops
            self._current = None

    def _prepare(self, request: GenerationRequest) -> tuple[list[int], int]:
        """Prompt token ids, trimmed to fit the context, and how many tokens may be generated."""
        limit = self._config.max_new_tokens
        max_new = min(request.max_tokens or limit, limit)
        context = self._config.max_context_tokens
        # Keep at least half the window for the prompt, so a huge max_tokens cannot starve it.
        budget = context - min(max_new, context // 2)
        prompt_ids = self._prompts.fit(request.messages, budget)
        self.stats.last_prompt_ids = prompt_ids
        return prompt_ids, max(1, min(max_new, context - len(prompt_ids)))

    def _run(self, job: _Job, prompt_ids: list[int], max_new: int, request: GenerationRequest) -> None:
        """Worker thread: generate, streaming text pieces to the loop, then report how it ended."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        from model_service.backends.generation import (
            CancelCriteria,
            InvalidScoreGuard,
            QueueStreamer,
            generation_options,
        )

        if job.cancel.is_set():
            return
        streamer = QueueStreamer(self.tokenizer, job.send)
        model = self.model
        options = generation_options(model, self.tokenizer, request.temperature, request.top_p)
        if self._prompts.style == "chatglm":
            options["logits_processor"] = LogitsProcessorList([InvalidScoreGuard()])
        self.stats.generations += 1
        seed = request.fields.get("seed")
        if seed is not None:  # one generation at a time, so the global generator is ours alone
            torch.manual_seed(seed)
        try:
            input_ids = torch.tensor([prompt_ids], device=model.device)
            if self._prompts.style != "chatglm":  # ChatGLM-6B builds its own (boolean, 2-D) mask
                options["attention_mask"] = torch.ones_like(input_ids)
            with torch.inference_mode():
                model.generate(
                    input_ids=input_ids,
                    max_new_tokens=max_new,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([CancelCriteria(job.cancel)]),
                    **options,
                )
        except Exception as error:
            log.exception("generation failed")
            job.send("error", ServiceError(f"The local model failed while generating: {type(error).__name__}"))
            return
        if job.cancel.is_set():
            self.stats.cancelled += 1
        job.send("done", streamer.finish_reason(max_new, model))


def _next_event(backlog: deque[tuple[str, Any]]) -> tuple[str, Any]:
    """Pop the next event, merging text pieces that queued up while the loop was busy (one SSE event, not many)."""
    kind, payload = backlog.popleft()
    if kind != "text":
        return kind, payload
    text, tokens = payload
    while backlog and backlog[0][0] == "text":
        more_text, more_tokens = backlog.popleft()[1]
        text += more_text
        tokens += more_tokens
    return kind, (text, tokens)


def _drain(queue: asyncio.Queue[tuple[str, Any]], backlog: deque[tuple[str, Any]]) -> None:
    while not queue.empty():
        backlog.append(queue.get_nowait())
