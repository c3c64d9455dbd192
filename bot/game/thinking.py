"""Keeping a reasoning model's thinking out of everything players see.

Models think before they answer, and their thinking talks about the hidden answer openly. It arrives in
two shapes, both handled here:

- **A separate field** of the stream delta (or whole message): ``reasoning_content`` (DeepSeek's API, vLLM and
  SGLang with a reasoning parser, GLM), ``reasoning`` (OpenRouter, Ollama's OpenAI API, newer vLLM) or
  ``thinking`` (Ollama's own field name). Only its size is kept.
- **Inline blocks** at the start of the content: ``<think>…</think>``, ``<thinking>…</thinking>`` or
  ``◁think▷…◁/think▷`` (servers without a reasoning parser), after any leading whitespace, with tags split
  across chunks at any character. A block cut off before it closes is all thinking. A closing tag with no
  opening one means the chat template put the opening tag into the prompt, so the output began mid-thought:
  everything before the closing tag is thinking.

That last shape decides when text may be shown. Until a reply's opening is settled it is held back: it is
settled by an opening tag (a thought follows), a closing tag (what came before was thought), or an opening
that already reads as an answer: a complete verdict label (``Yes.``, ``**No**,``, ``是。``, as
`bot.game.verdict.parse_verdict` reads it, followed by at least one more character so that "No" is not
taken for the start of "Nobody") or a JSON object (``{``: a structured verdict). A reply that settles none
of these ways is shown whole when it ends (it had no closing tag, so none of it was thought). The price is a
reply that begins with neither a label nor a tag is not streamed; the game's host always begins with its
label. A mid-thought that itself begins with a verdict label ("No, wait…") would be shown, so once a model's
reply has begun mid-thought its later replies are held until their closing tag (`starts_mid_thought`,
remembered by `ModelHost`); for that first reply the leak guard is the backstop.

`Thinking` is the progress marker `ModelHost.stream` yields while a model thinks; it never carries the
thought, only how much and for how long.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.game.verdict import OPENING_CHARS, Verdict, parse_verdict

# (opening tag, closing tag) of each inline format; matched without regard to ASCII case.
TAGS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("◁think▷", "◁/think▷"),
)
CLOSERS = tuple(closer for _, closer in TAGS)
LONGEST_CLOSER = max(map(len, CLOSERS))
# Delta (and message) fields that carry a model's thinking, by server: see the module docstring.
REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
# The characters bot.game.prompts.estimate_tokens counts as a token each.
_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]")
# An opening that reads as an answer is decided within this many characters (the verdict reader looks no further).
ANSWER_WINDOW = OPENING_CHARS + 20


@dataclass(frozen=True, slots=True)
class Thinking:
    """The host is alive and thinking. Never carries thinking text."""

    chars: int  # characters of thought (and of held-back opening) received so far in this reply
    seconds: float = 0.0  # since the thought began
    tokens: int = 0  # the thought's size in tokens, estimated as the bot estimates prompts


@dataclass(frozen=True, slots=True)
class Split:
    """What one piece of model output holds: text to show, and how many characters went to thought (and their
    estimated tokens)."""

    visible: str = ""
    thought: int = 0
    tokens: float = 0.0


def _reads_as_answer(opening: str) -> bool:
    """The (whitespace-stripped) opening already is an answer: a JSON object or a complete verdict label."""
    if opening.startswith("{"):
        return True
    verdict = parse_verdict(opening)
    # One more character must not change the reading: "No" may yet be "Nobody", "No." may not.
    return verdict is not Verdict.UNCLEAR and parse_verdict(opening + "x") is verdict


def _find_closer(text: str, start: int) -> tuple[int, str] | None:
    """The earliest closing tag in `text` at or after `start`: (where, which)."""
    segment = text[start:]
    if "<" not in segment and "◁" not in segment:
        return None  # most of a thought: no tag can start here
    lowered = segment.lower()
    found = [(start + at, closer) for closer in CLOSERS if (at := lowered.find(closer)) >= 0]
    return min(found, default=None)


class InlineThinking:
    """Removes inline thinking blocks from the start of one streamed reply: `feed` each content delta, then
    `finish` once. Holds back at most the undecided opening (see the module docstring) and, inside a block,
    the few characters that may be the start of its closing tag."""

    def __init__(self, starts_mid_thought: bool = False) -> None:
        # Known to start mid-thought (an earlier reply of this model did): only a closing tag, or the end,
        # settles the opening; a verdict label does not.
        self._expect_closer = starts_mid_thought
        self.began_mid_thought = False  # this reply had a closing tag with no opening one
        self._held = ""  # received, not yet shown nor counted as thought
        self._closer: str | None = None  # inside a block: the tag that ends it
        self._mid_thought_possible = True  # only the very start may be a thought whose opening tag was in the prompt
        self._scanned = 0  # how far the undecided opening was searched for a closing tag
        self._answer_ruled_out = False  # the opening is too long to still begin with a label
        self._visible = False  # settled: everything from here on is shown
        self.thought = 0  # characters of thought so far
        self.tokens = 0.0  # their estimated tokens
        self.cut_off = False  # finished inside a block

    @property
    def settled(self) -> bool:
        return self._visible

    @property
    def likely_thought(self) -> int:
        """Characters held in an opening too long to begin with a verdict label: thought (the closing tag is
        yet to come) or an unlabelled reply. Either way the model is alive, and a consumer may say it thinks."""
        return len(self._held) if self._answer_ruled_out and not self._visible else 0

    def feed(self, text: str) -> Split:
        if self._visible:
            return Split(text)
        self._held += text
        return self._advance()

    def finish(self) -> Split:
        """The end of the reply: an undecided opening turns out visible (no closing tag came); a block still
        open is a thought cut off."""
        if self._visible:
            return Split()
        if self._closer is not None:
            self.cut_off = True
            tokens = self.tokens
            thought = len(self._held)
            self._to_thought(thought)
            return Split("", thought, self.tokens - tokens)
        self._visible = True
        rest, self._held = self._held.lstrip(), ""
        return Split(rest)

    def _advance(self) -> Split:
        before, tokens = self.thought, self.tokens
        while True:
            if self._closer is not None:
                at = self._held.lower().find(self._closer)
                if at < 0:
                    # Everything but a possible start of the closing tag is thought.
                    self._to_thought(max(len(self._held) - len(self._closer) + 1, 0))
                    break
                self._to_thought(at + len(self._closer))
                self._closer, self._mid_thought_possible = None, False
                continue
            if self._answer_ruled_out:
                # A long undecided opening: only a closing tag can still settle it (searched in new text only).
                if not self._closes_mid_thought():
                    break
                continue
            opening = self._held.lstrip()
            lowered = opening.lower()
            if not opening:
                break  # only whitespace so far
            opened = next(((o, c) for o, c in TAGS if lowered.startswith(o)), None)
            if opened is not None:
                self._to_thought(len(self._held) - len(opening) + len(opened[0]))
                self._closer = opened[1]
                continue
            if any(o.startswith(lowered) for o, _ in TAGS):
                break  # may still become an opening tag
            if self._mid_thought_possible:
                if self._closes_mid_thought():
                    continue
                if self._expect_closer or not _reads_as_answer(opening):
                    self._answer_ruled_out = self._expect_closer or len(opening) > ANSWER_WINDOW
                    break  # undecided: held
            self._visible = True
            shown, self._held = self._held.lstrip(), ""
            return Split(shown, self.thought - before, self.tokens - tokens)
        return Split("", self.thought - before, self.tokens - tokens)

    def _to_thought(self, count: int) -> None:
        self.thought += count
        self.tokens += token_estimate(self._held[:count])
        self._held = self._held[count:]

    def _closes_mid_thought(self) -> bool:
        """The undecided opening has a closing tag: what precedes it, and the tag, become thought."""
        found = _find_closer(self._held, self._scanned)
        if found is None:
            self._scanned = max(len(self._held) - LONGEST_CLOSER + 1, 0)
            return False
        at, closer = found
        self._to_thought(at + len(closer))
        self._mid_thought_possible = self._answer_ruled_out = False
        self.began_mid_thought = True
        return True


def token_estimate(text: str) -> float:
    """Tokens in a piece of thought by `bot.game.prompts.estimate_tokens`'s rule (a CJK character is one, other
    text three characters a token), unrounded and without its per-message constant: thought arrives in many
    small pieces, and rounding each would inflate the sum."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk) / 3


def strip_thinking(text: str) -> str:
    """A whole reply without its inline thinking (empty when it is all thought)."""
    extractor = InlineThinking()
    return extractor.feed(text).visible + extractor.finish().visible


def reasoning_of(part: Mapping[str, Any]) -> str:
    """The thinking carried in a delta's or message's own field(s), if any (to be measured, never shown)."""
    pieces = [value for name in REASONING_FIELDS if isinstance(value := part.get(name), str)]
    return "".join(pieces)


class ThoughtFilter:
    """One reply's deltas (or its whole message) in, visible text and thought sizes out: the reasoning fields
    are measured and dropped, the content passes `InlineThinking`."""

    def __init__(self, starts_mid_thought: bool = False) -> None:
        self.inline = InlineThinking(starts_mid_thought)
        self.thought = 0  # characters of thought, from fields and inline blocks
        self.tokens = 0.0  # their estimated tokens
        self.shown = False  # some visible text (not just whitespace) has come

    def read(self, part: Mapping[str, Any]) -> Split:
        field = reasoning_of(part)
        content = part.get("content")
        split = self.inline.feed(content) if isinstance(content, str) and content else Split()
        return self._count(Split(split.visible, split.thought + len(field), split.tokens + token_estimate(field)))

    def finish(self) -> Split:
        return self._count(self.inline.finish())

    @property
    def thinking(self) -> int:
        """Characters of thought so far, with those held as likely thought."""
        return self.thought + self.inline.likely_thought

    @property
    def unanswered(self) -> bool:
        """The model thought and then gave no answer (cut off, or its reply was all thought)."""
        return self.thought > 0 and not self.shown

    def _count(self, split: Split) -> Split:
        self.thought += split.thought
        self.tokens += split.tokens
        self.shown = self.shown or bool(split.visible.strip())
        return split
