"""Whether a message solves the puzzle, and which key facts it finds: judged by meaning.

The host judges (its verdict and its facts line); the code decides what that judgement may earn. The host
can be talked into anything, a sentence-embedding model cannot (bot/game/meaning.py), so a message earns
only what it is about:

- a key fact counts when the host's facts line names it and the message is about that fact: close to it in
  meaning (cosine at least the language's ``cover`` threshold), or naming a word of the fact's own while
  at least loosely about it (cosine at least ``word_floor``), or stating the answer's key sentence in
  meaning (cosine at least ``key``). A message that does not solve finds at most MAX_FACTS_PER_MESSAGE.
- a solve needs Correct, every key fact still unfound covered that way, one of the facts (or the key
  sentence) stated clearly (cosine at least ``anchor``), and the host's facts line (with the facts found
  before) naming every key fact. Nothing requires a guess to repeat the puzzle's words.

Puzzles without key facts keep the older rule: Correct for a message naming part of the answer, or close
to the answer's key sentence in meaning. The thresholds come from the labelled judging set
(``python -m bench.meaning.calibrate``; docs/RELIABILITY.md says how).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.game.leak import HOST_TALK, LeakGuard
from bot.game.meaning import PuzzleMeaning, closeness
from bot.game.verdict import Verdict

# Verdicts under which the host's facts line credits facts: a fact can be uncovered by a No as well as a Yes.
CREDITING = frozenset({Verdict.YES, Verdict.NO, Verdict.CORRECT})
VOCABULARIES_KEPT = 4096
# The bound on what one message that does not solve can take, however many facts its reply's line names.
MAX_FACTS_PER_MESSAGE = 2


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Cosines of USE multilingual v3, per language (bench/meaning/calibrate.py)."""

    cover: float  # about the fact in meaning alone
    word_floor: float  # about the fact enough for one of its own words to count
    key: float  # states the answer's key sentence
    anchor: float  # a solve states at least one key fact this clearly (every labelled right guess does)


THRESHOLDS = {
    "en": Thresholds(cover=0.30, word_floor=0.20, key=0.80, anchor=0.45),
    "zh": Thresholds(cover=0.40, word_floor=0.25, key=0.80, anchor=0.45),
}


def thresholds(language: str) -> Thresholds:
    return THRESHOLDS.get(language, THRESHOLDS["en"])


@dataclass(frozen=True, slots=True)
class Coverage:
    """What one message is about, judged once when it arrives."""

    facts: frozenset[int] = frozenset()  # the key facts (0-based) it is about
    key: bool = False  # it states the answer's key sentence
    anchored: bool = False  # it states one key fact clearly (or the key sentence): a solve needs this


def judge_coverage(
    meaning: PuzzleMeaning, story: str, key_facts: Sequence[str], language: str, message: str
) -> Coverage:
    """The key facts ``message`` is about, by meaning or by a word of the fact's own backed by meaning."""
    scores, key = closeness(meaning, message)
    limits = thresholds(language)
    touched = facts_touched(story, key_facts, language, message)
    facts = frozenset(
        index
        for index, score in enumerate(scores)
        if score >= limits.cover or (index in touched and score >= limits.word_floor)
    )
    states_key = key >= limits.key
    anchored = states_key or (len(scores) > 0 and float(scores.max()) >= limits.anchor)
    return Coverage(facts, states_key, anchored)


@dataclass(frozen=True, slots=True)
class FactsJudgement:
    """What is known of the key facts when judging one reply."""

    total: int  # the puzzle's key facts; 0: a puzzle without them
    found: frozenset[int] = frozenset()  # found before this message (0-based)
    named: frozenset[int] | None = None  # what the reply's facts line names; None: no line (yet)
    final: bool = True  # the reply is complete, so a missing line will not come
    coverage: Coverage = Coverage()  # what the message itself is about

    def covers_all(self) -> bool:
        return self.named is not None and len(self.found | self.named) >= self.total

    def about(self) -> frozenset[int]:
        """The facts the message is about; stating the answer's key is about every one."""
        return frozenset(range(self.total)) if self.coverage.key else self.coverage.facts

    def about_every_unfound(self) -> bool:
        """Whether the message is about every fact still unfound, and clearly about one of them: loose
        closeness to each of two facts is all an injection about "the answer" ever reached."""
        return self.coverage.anchored and frozenset(range(self.total)) - self.found <= self.about()


@lru_cache(maxsize=VOCABULARIES_KEPT)
def _vocabulary(story: str, secret: str, language: str) -> LeakGuard:
    return LeakGuard(story, secret, language)


def facts_touched(story: str, key_facts: Sequence[str], language: str, message: str) -> frozenset[int]:
    """The key facts (0-based) ``message`` names a word of: the fact's own terms, not the story's, and
    not words for talking to the host."""
    return frozenset(
        index
        for index, fact in enumerate(key_facts)
        if any(term not in HOST_TALK for term in _vocabulary(story, fact, language).named_terms(message))
    )


def judge_solve(
    guard: LeakGuard,
    message: str,
    verdict: Verdict,
    facts: FactsJudgement | None = None,
    key_in_meaning: bool = False,
) -> bool:
    """Whether the host's ``verdict`` on ``message`` solves the puzzle.

    Only the message being answered counts, never the questions before it. Without key facts (the older
    rule): Correct for a message naming a term of the answer or stating its key sentence in meaning
    (``key_in_meaning``). With key facts: Correct for a message about every key fact still unfound
    (FactsJudgement.about_every_unfound), whose reply's facts line, with the facts found before, names
    every key fact. A reply that ends with no facts line at all (a host that forgot it) is judged by the
    message alone; while it still streams, a missing line means "not yet", never "solved".
    """
    if verdict is not Verdict.CORRECT:
        return False
    if facts is None or facts.total == 0:
        return key_in_meaning or guard.touched_by(message)
    if not facts.about_every_unfound():
        return False
    if facts.named is None:
        return facts.final
    return facts.covers_all()


def credited_facts(verdict: Verdict, facts: FactsJudgement) -> frozenset[int]:
    """The facts this message finds: those its reply's facts line names, nobody found before, and the
    message is about, at most MAX_FACTS_PER_MESSAGE of them (a solve finds every unfound fact by itself,
    GameStore.append)."""
    if facts.total == 0 or not facts.named or verdict not in CREDITING:
        return frozenset()
    earned = sorted((facts.named - facts.found) & facts.about())
    return frozenset(earned[:MAX_FACTS_PER_MESSAGE])
