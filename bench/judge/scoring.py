"""Reading one reply as the bot reads it: its key-facts line (bot.game.facts.parse_facts_line), then its verdict
and whether the leak guard objects, both on the reply as players see it (facts line removed).

Derived from the stored reply every time (cached replies too), so a change to the parser re-scores old runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bench.judge.cases import STATEMENT, Case
from bot.game.facts import parse_facts_line, strip_facts_line
from bot.game.leak import LeakGuard
from bot.game.prompt_variants import key_facts_told
from bot.game.puzzles import Puzzle
from bot.game.verdict import Verdict, parse_verdict


@dataclass(frozen=True, slots=True)
class Scored:
    variant: str
    case: Case
    reply: str
    verdict: Verdict  # as parse_verdict reads it; UNCLEAR when unparseable
    judged: Verdict  # the verdict compared with the label (a statement's "correct" counts as "yes")
    facts: tuple[int, ...] | None  # the key facts (0-based) its facts line names; None: no line, or none asked for
    leaked: bool
    latency_s: float
    prompt_tokens: int
    reply_tokens: int
    thinking_chars: int = 0
    thinking_tokens: int = 0
    thinking_s: float = 0.0
    no_verdict: bool = False  # the model thought and gave no answer

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
            "thinking_tokens": self.thinking_tokens,
            "thinking_s": self.thinking_s,
            "no_verdict": self.no_verdict,
            "reply": self.reply,
        }


@lru_cache(maxsize=1024)
def _guard(puzzle: Puzzle) -> LeakGuard:
    return LeakGuard(puzzle.story, puzzle.answer, puzzle.language, puzzle.key_facts)


def leaks(puzzle: Puzzle, question: str, reply: str, verdict: Verdict) -> bool:
    """The game engine's rule: a reply leaks when the guard sees the answer in it, unless it is a Correct that the
    player's own words make credible (then the answer may be explained)."""
    guard = _guard(puzzle)
    credible = verdict is Verdict.CORRECT and guard.touched_by(question)
    return not credible and guard.leaks(reply, f"{puzzle.story}\n{question}")


def judged_as(case: Case, verdict: Verdict) -> Verdict:
    """The verdict as compared with the case's label. TurtleBench has no "solved" label: a statement the host
    calls Correct is one it holds true, a Yes."""
    return Verdict.YES if case.kind == STATEMENT and verdict is Verdict.CORRECT else verdict


def score(variant: str, case: Case, entry: dict[str, Any], prompt: str | None = None) -> Scored:
    """`variant` is the row the reply counts in; `prompt` the prompt variant that asked (default: the same)."""
    reply = str(entry.get("reply", ""))
    visible = strip_facts_line(reply)  # the facts line is for the code only, as in the engine
    verdict = parse_verdict(visible)
    judged = judged_as(case, verdict)
    named = parse_facts_line(reply, len(key_facts_told(prompt or variant, case.puzzle)))
    return Scored(
        variant=variant,
        case=case,
        reply=reply,
        verdict=verdict,
        judged=judged,
        facts=tuple(sorted(named)) if named is not None else None,
        leaked=leaks(case.puzzle, case.question, visible, verdict),
        latency_s=float(entry.get("latency_s", 0.0)),
        prompt_tokens=int(entry.get("prompt_tokens", 0)),
        reply_tokens=int(entry.get("reply_tokens", 0)),
        thinking_chars=int(entry.get("thinking_chars", 0)),
        thinking_tokens=int(entry.get("thinking_tokens", 0)),
        thinking_s=float(entry.get("thinking_s", 0.0)),
        no_verdict=bool(entry.get("no_verdict", False)),
    )
