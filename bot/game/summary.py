"""The end-of-game summary shown with every reveal: how long, how many questions, who found what."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.exceptions

from bot.game.store import SOLVED, Game, GameStore

log = logging.getLogger(__name__)

# Why a game ended, as the summary names it.
SOLVED_REASON, STOPPED_REASON = "solved", "stopped"


@dataclass(frozen=True, slots=True)
class FactLine:
    fact: str
    found_by: int | None  # the player who found it; None: not found


@dataclass(frozen=True, slots=True)
class Summary:
    reason: str  # "solved", "stopped" (a player's /stop or /newgame), "question_limit", "time_limit"
    questions: int
    max_questions: int | None
    seconds: float
    facts: tuple[FactLine, ...]
    solver: int | None
    hints_used: int
    max_hints: int | None
    appeals: int = 0  # verdicts contested, and how many of them the appeal changed (bot/game/appeals.py)
    appeals_changed: int = 0


def found_key(store: GameStore, channel_id: int) -> str:
    """The channel's found key facts (fact index -> JSON {"by": player, "at": time}), next to its game."""
    return f"{store.prefix}:{{ch{channel_id}}}:found"


async def read_found(store: GameStore, channel_id: int) -> dict[int, int]:
    """Which key facts the table found, and who found each (fact index -> player id).

    The one place the engine reads found facts; a malformed entry is skipped, not fatal.
    """
    raw = await store.redis.hgetall(found_key(store, channel_id))
    found: dict[int, int] = {}
    for index, entry in raw.items():
        try:
            found[int(index)] = int(json.loads(entry)["by"])
        except (ValueError, KeyError, TypeError) as error:
            log.warning("channel %s: skipping a malformed found fact %r: %s", channel_id, index, error)
    return found


async def found_now(store: GameStore, channel_id: int) -> dict[int, int]:
    """The channel's found facts, best effort: a Redis error leaves them unknown (shown as not found)."""
    try:
        return await read_found(store, channel_id)
    except redis.exceptions.RedisError as error:
        log.warning("could not read the found facts in %s: %s", channel_id, error)
        return {}


def finder(entry: Any) -> int:
    """Who found a fact, from a found-facts entry: a player id, or a record with `by`."""
    return int(getattr(entry, "by", entry))


def build_summary(game: Game, found: Mapping[int, Any], now: float | None = None) -> Summary:
    """The summary of an ended game (or of one as it stands, if it is still running)."""
    reason = SOLVED_REASON if game.status == SOLVED else game.ended_reason or STOPPED_REASON
    ended = game.ended_at if game.ended_at is not None else (time.time() if now is None else now)
    facts = tuple(
        FactLine(fact, finder(found[index]) if index in found else None) for index, fact in enumerate(game.key_facts)
    )
    return Summary(
        reason=reason,
        questions=game.questions,
        max_questions=game.max_questions,
        seconds=max(ended - game.started_at, 0.0),
        facts=facts,
        solver=game.solver,
        hints_used=game.hints_used,
        max_hints=game.max_hints,
        appeals=game.appeals,
        appeals_changed=game.appeals_changed,
    )


def duration_parts(seconds: float) -> tuple[int, int, int]:
    """(hours, minutes, seconds) of a duration, rounded to the second."""
    whole = round(seconds)
    return whole // 3600, whole % 3600 // 60, whole % 60
