"""The host model writes a new puzzle: asked for as JSON (a schema where the endpoint takes one), read tolerantly,
validated as a pack entry is, refused when it repeats a known puzzle, and tried again a bounded number of times
with the reason it was refused in the next prompt.

Used by `/puzzle generate` (bot.cogs.puzzle_drafts) and `python -m bot.generate`; nothing here knows Discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.game.host import HostInterrupted, HostUnavailable, ModelHost, reply_text
from bot.game.puzzle_draft import (
    DRAFT_DOCUMENT,
    MAX_DRAFT_LENGTHS,
    MAX_HINTS,
    MIN_HINTS,
    DraftRefused,
    read_fields,
    validated,
)
from bot.game.puzzles import MAX_KEY_FACTS, MIN_KEY_FACTS, Puzzle
from bot.game.similarity import MEANING_THRESHOLD, WORDING_THRESHOLD, PuzzleIndex
from common.config import Config

log = logging.getLogger(__name__)

MAX_THEME_LENGTH = 100
_LIMITS = {
    "facts": f"{MIN_KEY_FACTS}-{MAX_KEY_FACTS}",
    "hints": f"{MIN_HINTS}-{MAX_HINTS}",
    "story": MAX_DRAFT_LENGTHS["story"],
    "answer": MAX_DRAFT_LENGTHS["answer"],
}
SYSTEM_PROMPTS = {
    "en": (
        "You write lateral-thinking puzzles (situation puzzles, 'turtle soup'). A puzzle has a short strange story "
        "that players see, and a hidden answer that explains it with a twist they find by asking yes/no questions. "
        "Reply with one JSON object and nothing else, with these fields: "
        '"title" (a few words), "story" (what players see, at most {story} characters; it must not give away the '
        'answer or state any key fact), "answer" (the whole explanation, at most {answer} characters), '
        '"key_facts" ({facts} short sentences, each one part of the answer that players must find), '
        '"hints" ({hints} one-sentence nudges that do not give the answer away), '
        '"difficulty" ("easy", "medium" or "hard"). Write everything in English.'
    ),
    "zh": (
        "你负责创作海龟汤（情境推理谜题）。每道题有玩家能看到的汤面（一个离奇的短故事），和隐藏的汤底（解释故事的真相，"
        "玩家通过问是非题找出其中的反转）。只回复一个 JSON 对象，不要写其他内容，包含这些字段："
        '"title"（几个字的标题），"story"（汤面，最多 {story} 个字符，不能透露汤底，也不能直接写出任何要点），'
        '"answer"（完整的汤底，最多 {answer} 个字符），'
        '"key_facts"（{facts} 条简短的句子，每条是玩家必须找出的汤底的一部分），'
        '"hints"（{hints} 条一句话的提示，不能泄露汤底），"difficulty"（"easy"、"medium" 或 "hard"）。全部用中文写。'
    ),
}
REQUESTS = {
    "en": "Write one new puzzle{difficulty}{theme}. It must be your own, not a retelling of a well-known one.",
    "zh": "请写一道新的海龟汤{difficulty}{theme}。必须是原创的，不要改写已有的名题。",
}
DIFFICULTY_WORDS = {
    "en": {"easy": ", easy", "medium": " of medium difficulty", "hard": ", hard"},
    "zh": {"easy": "，难度简单", "medium": "，难度中等", "hard": "，难度困难"},
}
THEME_WORDS = {"en": " on this theme: {theme}", "zh": "，主题：{theme}"}
REFUSED_NOTES = {
    "en": "Your previous draft was refused: {reason}. Write the puzzle again and fix that.",
    "zh": "你上一稿没有通过：{reason}。请重新写一道，改正这个问题。",
}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One draft and what became of it: the refusal's reason, or None for the draft that was kept."""

    number: int
    reason: str | None
    reply: str = ""


@dataclass
class Generated:
    puzzle: Puzzle
    attempts: list[Attempt] = field(default_factory=list)


class GenerationFailed(Exception):
    """Every attempt was refused, or the model could not be reached; `attempts` says why, one by one."""

    def __init__(self, attempts: Sequence[Attempt], unavailable: str | None = None) -> None:
        self.attempts = list(attempts)
        self.unavailable = unavailable
        reasons = "; ".join(f"{attempt.number}) {attempt.reason}" for attempt in self.attempts)
        if unavailable:
            super().__init__(f"the model could not be reached ({unavailable})")
        else:
            super().__init__(f"no usable puzzle in {len(self.attempts)} draft(s): {reasons}")


def writer_host(config: Config) -> ModelHost:
    """A client for the model that writes puzzles: the host's endpoint with the `generate` section's settings."""
    settings = config.generate
    model = config.model.model_copy(
        update={
            "name": settings.model or config.model.name,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "request_timeout": settings.request_timeout,
            "thinking_timeout": settings.request_timeout,  # a writer may think as long as a draft may take
            "first_token_timeout": max(config.model.first_token_timeout, min(settings.request_timeout, 60.0)),
        }
    )
    return ModelHost(model)


def clean_theme(theme: str | None) -> str | None:
    """A theme as the prompt takes it: one line, bounded."""
    if theme is None:
        return None
    cleaned = " ".join(theme.split())[:MAX_THEME_LENGTH]
    return cleaned or None


def build_messages(
    language: str, difficulty: str | None, theme: str | None, refused: str | None = None
) -> list[dict[str, str]]:
    words = DIFFICULTY_WORDS[language].get(difficulty or "", "")
    about = THEME_WORDS[language].format(theme=theme) if theme else ""
    request = REQUESTS[language].format(difficulty=words, theme=about)
    if refused:
        request = f"{request}\n{REFUSED_NOTES[language].format(reason=refused)}"
    return [
        {"role": "system", "content": SYSTEM_PROMPTS[language].format(**_LIMITS)},
        {"role": "user", "content": request},
    ]


KnownPuzzles = Callable[[], Awaitable[Sequence[Puzzle]]]


class PuzzleGenerator:
    """Drafts puzzles with `host` until one passes, at most `max_attempts` times per request."""

    def __init__(
        self,
        host: ModelHost,
        known: KnownPuzzles,
        max_attempts: int = 3,
        meaning_threshold: float = MEANING_THRESHOLD,
        wording_threshold: float = WORDING_THRESHOLD,
    ) -> None:
        self.host = host
        self.known = known
        self.max_attempts = max_attempts
        self.meaning_threshold = meaning_threshold
        self.wording_threshold = wording_threshold

    @property
    def model(self) -> str:
        return self.host.config.name

    async def generate(
        self,
        language: str,
        difficulty: str | None = None,
        theme: str | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> Generated:
        """A checked new puzzle, or GenerationFailed naming every attempt's reason (never another exception
        for what the model wrote)."""
        theme = clean_theme(theme)
        index = await asyncio.to_thread(PuzzleIndex, await self.known())
        attempts: list[Attempt] = []
        refused: str | None = None
        for number in range(1, self.max_attempts + 1):
            try:
                reply = await self._draft(build_messages(language, difficulty, theme, refused))
            except HostUnavailable as error:
                raise GenerationFailed(attempts, unavailable=str(error) or type(error).__name__) from error
            except HostInterrupted as error:
                attempt, puzzle = Attempt(number, f"the reply broke off ({error})"), None
            else:
                attempt, puzzle = await asyncio.to_thread(self._judge, number, reply, language, difficulty, index)
            attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)
            if puzzle is not None:
                return Generated(puzzle, attempts)
            log.info("generated draft %d refused: %s", number, attempt.reason)
            refused = attempt.reason
        raise GenerationFailed(attempts)

    async def _draft(self, messages: list[dict[str, str]]) -> str:
        return await reply_text(self.host.stream(messages, document=DRAFT_DOCUMENT))

    def _judge(
        self, number: int, reply: str, language: str, difficulty: str | None, index: PuzzleIndex
    ) -> tuple[Attempt, Puzzle | None]:
        try:
            puzzle = validated(read_fields(reply), language, difficulty, self.model)
            repeated = index.nearest_duplicate(
                puzzle.story, puzzle.answer, self.meaning_threshold, self.wording_threshold
            )
            if repeated is not None:
                raise DraftRefused(
                    f"it repeats the known puzzle {repeated.title!r} (meaning {repeated.meaning:.2f}, "
                    f"wording {repeated.wording:.2f}); write a different story and twist"
                )
        except DraftRefused as refusal:
            return Attempt(number, str(refusal), reply), None
        return Attempt(number, None, reply), puzzle
