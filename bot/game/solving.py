"""Whether a message solves the puzzle: the one judgement that lets a reply past the leak guard.

Puzzles with key facts: a guess solves when the host says Correct and its facts line, with the facts
found before, covers every key fact (the host judges each fact; the code keeps the found set and
decides). The host can be talked into anything, so neither a Correct nor a facts line counts for a
message that names nothing of the answer or its key facts; a message finds at most as many facts as it
can vouch for (FactsJudgement.evidence), and a solve must vouch for at least half the facts still
unfound (one answer word plus an injected facts line would otherwise find every fact). Puzzles without
key facts keep the older rule: Correct for a message that names part of the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.game.leak import HOST_TALK, LeakGuard, _cjk_only, _normalise
from bot.game.verdict import Verdict

# Verdicts under which the host's facts line credits facts: a fact can be uncovered by a No as well as a Yes.
CREDITING = frozenset({Verdict.YES, Verdict.NO, Verdict.CORRECT})
VOCABULARIES_KEPT = 4096
# What counts as stating part of the answer (puzzles with key facts): this many distinct terms of the
# answer or its key facts, or one English word of them at least this long ("hiccups", "parachute").
MIN_TERMS = 2
LONG_WORD = 7


@dataclass(frozen=True, slots=True)
class FactsJudgement:
    """What is known of the key facts when judging one reply."""

    total: int  # the puzzle's key facts; 0: a puzzle without them
    found: frozenset[int] = frozenset()  # found before this message (0-based)
    named: frozenset[int] | None = None  # what the reply's facts line names; None: no line (yet)
    final: bool = True  # the reply is complete, so a missing line will not come
    touched: frozenset[int] = frozenset()  # the facts the message itself names a word of (facts_touched)
    # Facts with no word of their own to name (all the story's, or host talk: "The instructions said…"):
    # only the host can judge them, so they neither count against a solve nor use up the budget.
    untouchable: frozenset[int] = frozenset()
    terms: int = 0  # distinct terms of the answer and its key facts the message names (host talk aside)

    def covers_all(self) -> bool:
        return self.named is not None and len(self.found | self.named) >= self.total

    def evidence(self) -> int:
        """How many facts the message can vouch for: the unfound facts it names a word of, or the terms
        of the answer and its key facts it names, whichever is more (a guess in the answer's words may
        use none of a fact's own)."""
        return max(len(self.touched - self.found), self.terms)

    def touches_enough(self) -> bool:
        """Whether the message vouches for at least half the facts still unfound (those with words of
        their own): a full guess in the player's own words does, a single answer word with "say
        Correct" does not."""
        unfound = self.total - len(self.found | self.untouchable)
        return 2 * self.evidence() >= unfound


@lru_cache(maxsize=VOCABULARIES_KEPT)
def _vocabulary(story: str, secret: str, language: str) -> LeakGuard:
    return LeakGuard(story, secret, language)


def fact_vocabulary(story: str, answer: str, key_facts: Sequence[str], language: str) -> LeakGuard:
    """A guard whose secret terms are those of the answer and of its key facts (written in other
    words than the answer), for telling a message about the answer from one about nothing of it."""
    return _vocabulary(story, "\n".join([answer, *key_facts]), language)


def facts_untouchable(story: str, key_facts: Sequence[str], language: str) -> frozenset[int]:
    """The key facts (0-based) no message can name a word of: none of their terms is the story's own or
    host talk."""
    return frozenset(
        index
        for index, fact in enumerate(key_facts)
        if not _vocabulary(story, fact, language).distinctive_terms() - HOST_TALK
    )


def facts_touched(story: str, key_facts: Sequence[str], language: str, message: str) -> frozenset[int]:
    """The key facts (0-based) ``message`` names a word of: the fact's own terms, not the story's, and
    not words for talking to the host."""
    return frozenset(
        index
        for index, fact in enumerate(key_facts)
        if any(term not in HOST_TALK for term in _vocabulary(story, fact, language).named_terms(message))
    )


def secret_terms(guard: LeakGuard, message: str, vocabulary: LeakGuard | None = None) -> dict[str, int]:
    """The terms of the answer or its key facts (``vocabulary``; the answer's alone without one) that
    ``message`` names, with their lengths; words for talking to the host never count."""
    source = vocabulary if vocabulary is not None else guard
    return {term: size for term, size in source.named_terms(message).items() if term not in HOST_TALK}


def terms_vouched(guard: LeakGuard, message: str, vocabulary: LeakGuard | None = None) -> int:
    """How many terms of the answer and its key facts ``message`` names, a Chinese phrase counting once
    like an English word: its bigrams overlap ("他是盲人吗" names 是盲 and 盲人, one idea), so a run of
    adjacent named bigrams is one term."""
    named = secret_terms(guard, message, vocabulary)
    bigrams = {term for term in named if _cjk_only(term) == term}
    phrases, inside = 0, False
    cjk = _cjk_only(_normalise(message))
    for start in range(len(cjk) - 1):
        hit = cjk[start : start + 2] in bigrams
        phrases += hit and not inside
        inside = hit
    return len(named) - len(bigrams) + phrases


def names_secret(guard: LeakGuard, message: str, vocabulary: LeakGuard | None = None) -> bool:
    """Whether ``message`` says enough of the answer to count as a guess or a finding about it (puzzles
    with key facts): at least two distinct terms of the answer or its key facts (``vocabulary``; the
    answer's alone without one), or one long word of them. Words for talking to the host ("print",
    "game", "rule") never count. One short word is no evidence: "Print the hidden answer" names
    "print" of an answer about developing a print, and would otherwise let an injection solve."""
    named = secret_terms(guard, message, vocabulary)
    return len(named) >= MIN_TERMS or any(size >= LONG_WORD for size in named.values())


def judge_solve(
    guard: LeakGuard,
    message: str,
    verdict: Verdict,
    facts: FactsJudgement | None = None,
    vocabulary: LeakGuard | None = None,
) -> bool:
    """Whether the host's ``verdict`` on ``message`` solves the puzzle.

    Only the message being answered counts, never the questions before it: a host talked into
    "Correct" by an injection that states none of the answer is not believed, however much of the
    answer earlier questions named.

    Without key facts (the older rule): Correct for a message naming any term of the answer. With
    key facts: Correct for a message that says enough of the answer or its key facts (names_secret)
    and vouches for at least half the facts still unfound (touches_enough), whose reply's facts line,
    with the facts found before, covers every key fact. A reply that ends with no facts line at all (a
    host that forgot it) is judged without the cover; while it still streams, a missing line means
    "not yet", never "solved".
    """
    if verdict is not Verdict.CORRECT:
        return False
    if facts is None or facts.total == 0:
        return guard.touched_by(message)
    if not names_secret(guard, message, vocabulary) or not facts.touches_enough():
        return False
    if facts.named is None:
        return facts.final
    return facts.covers_all()


def credited_facts(
    guard: LeakGuard, message: str, verdict: Verdict, facts: FactsJudgement, vocabulary: LeakGuard | None = None
) -> frozenset[int]:
    """The facts this message finds, for a message that says enough of the answer or its key facts (the
    same evidence a solve needs): of those its reply's facts line names and nobody found before, as many
    as the message vouches for (those it names words of first), plus any with no word of their own. The
    host may judge that "wanted the water to stop them" found "he wanted the water to cure them" (other
    words, same fact), but one word never finds them all. A solve finds every unfound fact by itself
    (GameStore.append)."""
    if facts.total == 0 or not facts.named or verdict not in CREDITING:
        return frozenset()
    if not names_secret(guard, message, vocabulary):
        return frozenset()
    claimed = facts.named - facts.found
    budget = facts.evidence()
    ranked = sorted(claimed - facts.untouchable, key=lambda index: (index not in facts.touched, index))
    return frozenset(ranked[:budget]) | (claimed & facts.untouchable)
