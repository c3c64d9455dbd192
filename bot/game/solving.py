"""Whether a message solves the puzzle: the one judgement that lets a reply past the leak guard."""

from __future__ import annotations

from bot.game.leak import LeakGuard
from bot.game.verdict import Verdict


def judge_solve(guard: LeakGuard, message: str, verdict: Verdict) -> bool:
    """Whether the host's ``verdict`` on ``message`` solves the puzzle.

    Only the message being answered counts, never the questions before it: a host talked into
    "Correct" by an injection that states none of the answer is not believed, however much of the
    answer earlier questions named. (The key-facts rule, that a solving guess must also cover the
    key facts not yet found, belongs here too.)
    """
    return verdict is Verdict.CORRECT and guard.touched_by(message)
