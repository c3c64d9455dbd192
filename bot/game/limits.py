"""A game's limits (questions, time, hints), chosen from the config by the puzzle's difficulty.

They are copied into the game when it starts, so every process judges a game by the same limits
and a config change applies to the next game, not to the ones being played.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from common.config import GameConfig

QUESTION_LIMIT = "question_limit"
TIME_LIMIT = "time_limit"
LIMIT_REASONS = (QUESTION_LIMIT, TIME_LIMIT)
SECONDS_PER_MINUTE = 60


@dataclass(frozen=True, slots=True)
class Limits:
    max_questions: int | None  # None: no limit
    time_limit: float | None  # seconds; None: no limit
    max_hints: int


def limits_for(config: GameConfig, difficulty: str) -> Limits:
    """The game-wide limits, with the keys the difficulty's override sets (null included) replaced."""
    chosen = {
        "max_questions": config.max_questions,
        "time_limit_minutes": config.time_limit_minutes,
        "max_hints": config.max_hints,
    }
    override = config.limits.get(difficulty)  # type: ignore[call-overload]
    if override is not None:
        chosen.update({name: getattr(override, name) for name in override.model_fields_set})
    minutes = chosen["time_limit_minutes"]
    return Limits(
        max_questions=chosen["max_questions"],
        time_limit=None if minutes is None else float(minutes) * SECONDS_PER_MINUTE,
        max_hints=int(chosen["max_hints"] or 0),
    )


def deadline_of(started_at: float, time_limit: float | None) -> float | None:
    """When a game's time runs out, in wall-clock seconds (shared by every process)."""
    return None if time_limit is None else started_at + time_limit


def out_of_time(started_at: float, time_limit: float | None, now: float | None = None) -> bool:
    deadline = deadline_of(started_at, time_limit)
    return deadline is not None and (time.time() if now is None else now) >= deadline


def out_of_questions(questions: int, max_questions: int | None) -> bool:
    return max_questions is not None and questions >= max_questions
