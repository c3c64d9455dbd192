"""The end-of-game summary built from a game and its found facts (no Redis, no Discord)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.game.store import Game
from bot.game.summary import FactLine, build_summary, duration_parts


@dataclass
class Found:
    """A found-fact record with a `by`, as the key-facts code keeps them."""

    by: int


def ended_game(**fields: object) -> Game:
    game = Game(
        game_id="g1",
        channel_id=7,
        puzzle_id="p",
        language="en",
        title="T",
        story="S",
        answer="A",
        status="stopped",
        started_by=1,
        started_at=1000.0,
        questions=12,
        ended_at=1725.4,
        key_facts=("first", "second", "third"),
        hints_used=2,
        max_hints=3,
        max_questions=20,
    )
    for name, value in fields.items():
        setattr(game, name, value)
    return game


def test_a_stopped_game_lists_every_fact_with_its_finder() -> None:
    summary = build_summary(ended_game(), {0: 11, 2: Found(by=22)})
    assert summary.reason == "stopped" and summary.solver is None
    assert (summary.questions, summary.max_questions, summary.hints_used, summary.max_hints) == (12, 20, 2, 3)
    assert summary.facts == (FactLine("first", 11), FactLine("second", None), FactLine("third", 22))
    assert duration_parts(summary.seconds) == (0, 12, 5)


def test_the_reason_is_solved_or_the_limit_reached() -> None:
    assert build_summary(ended_game(status="solved", solver=5), {}).reason == "solved"
    assert build_summary(ended_game(ended_reason="time_limit"), {}).reason == "time_limit"
    assert build_summary(ended_game(key_facts=()), {}).facts == ()


def test_a_running_game_is_timed_up_to_now() -> None:
    summary = build_summary(ended_game(status="active", ended_at=None), {}, now=4600.0)
    assert duration_parts(summary.seconds) == (1, 0, 0)
