"""Pieces handed to transformers' `generate` on the worker thread (imports torch/transformers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import torch
from transformers.generation.logits_process import LogitsProcessor
from transformers.generation.stopping_criteria import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from model_service.backends.chatglm6b.chat import ResponseText
from model_service.backends.chatglm6b.text import CHAT_FORMAT

STREAM_INTERVAL = 0.02  # seconds between text events after the first: invisible to readers, cheap for the loop


class CancelCriteria(StoppingCriteria):
    """Stops generation at the next token once the event is set (client gone, stop string seen)."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        stop = self.cancel.is_set()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class InvalidScoreGuard(LogitsProcessor):
    """ChatGLM-6B's own `chat()` guards fp16 overflow this way: NaN/inf scores become a harmless token."""

    def __init__(self, fallback_token: int = 5) -> None:
        self.fallback_token = fallback_token

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if torch.isnan(scores).any() or torch.isinf(scores).any():
            scores.zero_()
            scores[..., self.fallback_token] = 5e4
        return scores


class IncrementalText:
    """Decodes only a short window per step, like vLLM's incremental detokenizer.

    Text is held back while it ends in an incomplete UTF-8 sequence (common with Chinese
    byte-level BPE).
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._prefix = 0  # start of the decode window
        self._read = 0  # end of the text already decoded

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def feed(self, ids: list[int], final: bool = False) -> str:
        if self._read == len(ids):
            return ""
        before = self._decode(ids[self._prefix : self._read])
        after = self._decode(ids[self._prefix :])
        if len(after) > len(before) and (final or not after.endswith("\ufffd")):
            self._prefix, self._read = self._read, len(ids)
            return after[len(before) :]
        return ""

    def finish(self, ids: list[int]) -> str:
        return self.feed(ids, final=True)


class TextDecoder(Protocol):
    def feed(self, ids: list[int]) -> str: ...

    def finish(self, ids: list[int]) -> str: ...


def text_decoder(tokenizer: Any) -> TextDecoder:
    """ChatGLM-6B's replies are decoded and post-processed as its chat() does; other models' incrementally."""
    if getattr(tokenizer, "chat_format", None) == CHAT_FORMAT:
        return ResponseText(tokenizer)
    return IncrementalText(tokenizer)


class QueueStreamer(BaseStreamer):
    """Detokenizes as tokens arrive and hands ("text", (piece, tokens)) to `send`.

    The first piece goes out at once; later ones at most every `interval` seconds (like vLLM's
    stream_interval), so per-event costs (waking the loop, an SSE write) are not paid per token.
    """

    def __init__(
        self,
        tokenizer: Any,
        send: Callable[[str, Any], None],
        interval: float = STREAM_INTERVAL,
        decoder: TextDecoder | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.send = send
        self.interval = interval
        self.decoder = decoder if decoder is not None else text_decoder(tokenizer)
        self.ids: list[int] = []
        self._prompt_seen = False
        self._text = ""  # decoded, not yet sent
        self._tokens = 0  # tokens behind the unsent text (and undecodable tail)
        self._sent_at: float | None = None

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt itself
            self._prompt_seen = True
            return
        self.ids.extend(int(token) for token in value.reshape(-1).tolist())
        self._tokens += value.numel()
        now = time.monotonic()
        # Decode only when an event may go out: decoding is the costly part of streaming.
        if self._sent_at is None or now - self._sent_at >= self.interval:
            self._text += self.decoder.feed(self.ids)
            if self._text:
                self._flush(now)

    def end(self) -> None:
        self._text += self.decoder.finish(self.ids)
        if self._text or self._tokens:
            self._flush(time.monotonic())

    def _flush(self, now: float) -> None:
        self.send("text", (self._text, self._tokens))
        self._text, self._tokens, self._sent_at = "", 0, now

    def finish_reason(self, max_new: int, model: Any) -> str:
        """ "length" when generation ran into max_new_tokens rather than ending on its own."""
        if len(self.ids) < max_new:
            return "stop"
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        return "stop" if self.ids and self.ids[-1] in eos_ids else "length"


def generation_options(model: Any, tokenizer: Any, temperature: float | None, top_p: float | None) -> dict[str, Any]:
    """Sampling arguments: greedy at temperature 0, the model's own defaults when none is given."""
    options: dict[str, Any] = {}
    if model.generation_config.pad_token_id is None:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is not None:
            options["pad_token_id"] = pad
    if temperature is None:
        if top_p is not None:
            options["top_p"] = top_p
        return options
    if temperature == 0:
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return options
    options.update(do_sample=True, temperature=temperature)
    if top_p is not None:
        options["top_p"] = top_p
    return options
