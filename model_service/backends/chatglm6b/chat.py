"""ChatGLM-6B's `chat()`: the prompt it builds, and what it does to the generated text.

The prompt: a first question goes bare; with history it is
"[Round 0]\\n问：q0\\n答：a0\\n[Round 1]\\n问：q1\\n答：". The reply is decoded with the tokenizer's
defaults (so <eop> decodes to nothing and transformers 4.33's space clean-up applies), stripped,
"[[训练时间]]" becomes "2023年", and , ! : ; ? next to a Chinese character become their full-width
forms.

`ResponseText` streams that reply: every piece it hands out is a prefix of the text chat() would
return at the end, so a streaming client and a non-streaming one see the same words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from model_service.backends.chatglm6b.text import (
    CLEAN_UP_REPLACEMENTS,
    MAX_BLANK_LENGTH,
    NEWLINE_TOKEN,
    TAB_TOKEN,
    blank_token,
)

log = logging.getLogger(__name__)

Turn = tuple[str, str]

TRAINING_TIME = ("[[训练时间]]", "2023年")
HANZI = "[\u4e00-\u9fff]"
# chat()'s punctuation rule: ASCII on the left, its full-width form on the right, in the original's order.
PUNCTUATION = ((",", "，"), ("!", "！"), (":", "："), (";", "；"), ("?", "？"))
PUNCTUATION_RULES = tuple(
    (re.compile(f"({HANZI}){re.escape(ascii_mark)}"), re.compile(f"{re.escape(ascii_mark)}({HANZI})"), wide)
    for ascii_mark, wide in PUNCTUATION
)


def build_prompt(query: str, history: Sequence[Turn] = ()) -> str:
    """The text ChatGLM-6B's chat() tokenizes for `query` after `history`."""
    if not history:
        return query  # a first question goes without a round header
    rounds = "".join(
        f"[Round {index}]\n问：{old_query}\n答：{answer}\n" for index, (old_query, answer) in enumerate(history)
    )
    return f"{rounds}[Round {len(history)}]\n问：{query}\n答："


def split_turns(messages: Sequence[dict[str, str]]) -> tuple[str, list[Turn]]:
    """(query, history) of a conversation without system messages (fold those in first).

    Consecutive messages of one role are joined with newlines; a conversation that ends with an
    answer asks an empty question next.
    """
    history: list[Turn] = []
    question: list[str] = []
    answer: list[str] = []
    for message in messages:
        if message["role"] == "assistant":
            answer.append(message["content"])
            continue
        if answer:  # a user turn after an answer closes the round
            history.append(("\n".join(question), "\n".join(answer)))
            question, answer = [], []
        question.append(message["content"])
    if answer:
        history.append(("\n".join(question), "\n".join(answer)))
        question = []
    return "\n".join(question), history


def process_response(text: str) -> str:
    """chat()'s post-processing of the decoded reply."""
    text = text.strip().replace(*TRAINING_TIME)
    for after_hanzi, before_hanzi, wide in PUNCTUATION_RULES:
        text = after_hanzi.sub(rf"\1{wide}", text)
        text = before_hanzi.sub(rf"{wide}\1", text)
    return text


def decode_response(tokenizer: Any, ids: Sequence[int]) -> str:
    """The reply text chat() returns for the generated ids (prompt excluded)."""
    return process_response(str(tokenizer.decode(list(ids))))


def _unsettled_prefixes() -> frozenset[str]:
    """Text that, at the end of what is decoded so far, may still change once more tokens arrive."""
    whole = [NEWLINE_TOKEN, TAB_TOKEN, TRAINING_TIME[0], *(old for old, _ in CLEAN_UP_REPLACEMENTS)]
    whole += [blank_token(length) for length in range(2, MAX_BLANK_LENGTH + 1)]
    return frozenset(word[:size] for word in whole for size in range(1, len(word)))


UNSETTLED = _unsettled_prefixes()
LONGEST_UNSETTLED = max(map(len, UNSETTLED))
UNSETTLED_MARKS = frozenset(mark for mark, _ in PUNCTUATION)  # may turn full-width before a Chinese character


def settled_length(text: str) -> int:
    """How much of the processed reply so far stays as it is whatever tokens come next."""
    end = len(text)
    while end and text[end - 1] == "\ufffd":  # a character whose bytes have not all arrived
        end -= 1
    for size in range(min(LONGEST_UNSETTLED, end), 0, -1):
        if text[end - size : end] in UNSETTLED:
            end -= size
            break
    if end and text[end - 1] in UNSETTLED_MARKS:
        end -= 1
    return end


class ResponseText:
    """Turns the growing list of generated ids into pieces of chat()'s final reply text."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.sent = ""

    def feed(self, ids: Sequence[int]) -> str:
        """New text that is safe to send, given all ids generated so far."""
        text = decode_response(self.tokenizer, ids)
        return self._advance(text[: settled_length(text)])

    def finish(self, ids: Sequence[int]) -> str:
        """The rest of the reply once generation has ended."""
        final = decode_response(self.tokenizer, ids)
        if not final.startswith(self.sent):
            log.warning("streamed text is not a prefix of the final reply (%d chars sent)", len(self.sent))
            return ""
        return self._advance(final)

    def _advance(self, text: str) -> str:
        if len(text) <= len(self.sent) or not text.startswith(self.sent):
            return ""
        piece, self.sent = text[len(self.sent) :], text
        return piece
