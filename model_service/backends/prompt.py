"""Turning chat messages into one prompt for a local model, and fitting it into the context window.

Three formats, tried in order: the tokenizer's own chat template; ChatGLM-6B's round format
("[Round 0]\\n问：...\\n答：...") for models with ChatGLM-6B's `stream_chat`; a plain "role: content"
transcript. ChatGLM-6B has no system role, and the system message is where the bot puts the
puzzle and its answer, so it is folded into the first user turn rather than ever dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from model_service.backends.chatglm6b.chat import build_prompt, split_turns
from model_service.backends.chatglm6b.text import CHAT_FORMAT
from model_service.errors import InvalidRequest

log = logging.getLogger(__name__)

Message = dict[str, str]
SYSTEM_SEPARATOR = "\n\n"


def split_system(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    """All system text (joined, in order) and the other messages."""
    system = [m["content"] for m in messages if m["role"] == "system" and m["content"]]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    return "\n".join(system), rest


def fold_system(messages: Sequence[Message]) -> list[Message]:
    """The same conversation with the system text prepended to the first user turn (one is made if needed)."""
    system, rest = split_system(messages)
    if not system:
        return rest
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system}{SYSTEM_SEPARATOR}{message['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


def chatglm_rounds(messages: Sequence[Message]) -> str:
    """ChatGLM-6B's own prompt, as its `chat()` builds it, with the system text in round 0's question."""
    return build_prompt(*split_turns(fold_system(messages)))


def plain_transcript(messages: Sequence[Message]) -> str:
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"])


class PromptBuilder:
    """Builds and tokenizes prompts the way the loaded model expects."""

    def __init__(self, tokenizer: Any, model: Any) -> None:
        self.tokenizer = tokenizer
        if getattr(tokenizer, "chat_format", None) == CHAT_FORMAT:  # our own ChatGLM-6B tokenizer
            self.style = "chatglm"
        elif getattr(tokenizer, "chat_template", None):
            self.style = "template"
        elif hasattr(model, "stream_chat"):
            self.style = "chatglm"
        else:
            self.style = "plain"
        self._template_keeps_system: bool | None = None

    def render(self, messages: Sequence[Message]) -> str:
        if self.style == "chatglm":
            return chatglm_rounds(messages)
        if self.style == "plain":
            return plain_transcript(messages)
        return self._render_template(messages)

    def _render_template(self, messages: Sequence[Message]) -> str:
        system, _ = split_system(messages)
        if system and self._template_keeps_system is not False:
            try:
                text = self._apply_template(messages)
            except Exception as error:  # templates refuse a system role in their own ways
                log.info("chat template rejects a system message (%s); folding it into the first user turn", error)
                self._template_keeps_system = False
            else:
                # Some templates silently drop the system role: only trust them if the text made it in.
                self._template_keeps_system = system in text
                if self._template_keeps_system:
                    return text
        return self._apply_template(fold_system(messages))

    def _apply_template(self, messages: Sequence[Message]) -> str:
        text = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return str(text)

    def encode(self, messages: Sequence[Message]) -> list[int]:
        text = self.render(messages)
        # A chat template writes its own special tokens; the other formats rely on the tokenizer's
        # (ChatGLM-6B needs its [gMASK] and <sop>).
        encoded = self.tokenizer(text, add_special_tokens=self.style != "template")
        return list(encoded["input_ids"])

    def fit(self, messages: Sequence[Message], budget: int) -> list[int]:
        """Token ids of the longest suffix of the conversation that fits `budget`, system text always kept."""
        return fit_messages(messages, budget, self.encode)


Encoder = Callable[[Sequence[Message]], list[int]]


def fit_messages(messages: Sequence[Message], budget: int, encode: Encoder) -> list[int]:
    """Drop the oldest non-system turns until the prompt fits; the system text and last turn always stay."""
    system = [m for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    ids = encode([*system, *turns])
    dropped = 0
    while len(ids) > budget and len(turns) > 1:
        turns.pop(0)
        while len(turns) > 1 and turns[0]["role"] == "assistant":
            turns.pop(0)  # a conversation should not open with an answer to a dropped question
            dropped += 1
        dropped += 1
        ids = encode([*system, *turns])
    if len(ids) > budget:
        raise InvalidRequest(
            f"The prompt needs {len(ids)} tokens but the model's context allows {budget} for it "
            "(the system message and the last turn cannot be trimmed).",
            code="context_length_exceeded",
            param="messages",
        )
    if dropped:
        log.info("trimmed %d oldest turns to fit the context (%d tokens)", dropped, len(ids))
    return ids
