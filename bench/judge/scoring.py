"""Reading one reply as the bot reads it: its verdict, its key-facts line, and whether the leak guard objects.

Derived from the stored reply every time (cached replies too), so a change to the parser re-scores old runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bench.judge.cases import STATEMENT, Case
from bot.game.leak import LeakGuard
from bot.game.prompt_variants import key_facts_of, parse_key_facts
from bot.game.puzzles import Puzzle
from bot.game.verdict import Verdict, parse_verdict


@dataclass(frozen=True, slots=True)
class Scored:
    variant: str
    case: Case
    reply: str
    verdict: Verdict  # as parse_verdict reads it; UNCLEAR when unparseable
    judged: Verdict  # the verdict compared with the label (a statement's "correct" counts as "yes")
    facts: tuple[int, ...] | None  # the key facts the reply names; None when it names none readably
    leaked: bool
    latency_s: float
    prompt_tokens: int
    reply_tokens: int

    @property
    def right(self) -> bool:
        return self.judged is self.case.label

    def as_json(self) -> dict[str, Any]:
        case = self.case
        return {
            "variant": self.variant,
            "case": case.id,
            "puzzle_id": case.puzzle.id,
            "language": case.puzzle.language,
            "kind": case.kind,
            "injection": case.injection,
            "question": case.question,
            "label": case.label.value,
            "verdict": self.verdict.value,
            "right": self.right,
            "covers": list(case.covers) if case.covers is not None else None,
            "facts": list(self.facts) if self.facts is not None else None,
            "leaked": self.leaked,
            "latency_s": self.latency_s,
            "reply": self.reply,
        }


@lru_cache(maxsize=1024)
def _guard(puzzle: Puzzle) -> LeakGuard:
    return LeakGuard(puzzle.story, puzzle.answer, puzzle.language)


def leaks(puzzle: Puzzle, question: str, reply: str, verdict: Verdict) -> bool:
    """The game engine's rule: a reply leaks when the guard sees the answer in it, unless it is a Correct that the
    player's own words make credible (then the answer may be explained)."""
    guard = _guard(puzzle)
    credible = verdict is Verdict.CORRECT and guard.touched_by(question)
    return not credible and guard.leaks(reply, f"{puzzle.story}\n{question}")


def score(variant: str, case: Case, entry: dict[str, Any]) -> Scored:
    reply = str(entry.get("reply", ""))
    verdict = parse_verdict(reply)
    # TurtleBench has no "solved" label: a statement the host calls Correct is one it holds true.
    judged = Verdict.YES if case.kind == STATEMENT and verdict is Verdict.CORRECT else verdict
    facts = key_facts_of(case.puzzle)
    return Scored(
        variant=variant,
        case=case,
        reply=reply,
        verdict=verdict,
        judged=judged,
        facts=parse_key_facts(reply, len(facts)) if facts else None,
        leaked=leaks(case.puzzle, case.question, reply, verdict),
        latency_s=float(entry.get("latency_s", 0.0)),
        prompt_tokens=int(entry.get("prompt_tokens", 0)),
        reply_tokens=int(entry.get("reply_tokens", 0)),
    )
