"""Per-difficulty limits: resolved from the config, validated with errors naming the key."""

from __future__ import annotations

import pytest

from bot.game.limits import Limits, limits_for, out_of_questions, out_of_time
from common.config import ConfigError, validate


def game_config(**game: object):
    return validate({"game": game}, "limits.yaml").game


def test_defaults_have_no_question_or_time_limit_and_three_hints() -> None:
    assert limits_for(game_config(), "medium") == Limits(max_questions=None, time_limit=None, max_hints=3)


def test_a_difficulty_overrides_only_the_keys_it_sets_and_null_means_none() -> None:
    config = game_config(
        max_questions=30,
        time_limit_minutes=20,
        max_hints=2,
        limits={"easy": {"max_questions": 40, "max_hints": 4}, "hard": {"time_limit_minutes": None}},
    )
    assert limits_for(config, "easy") == Limits(max_questions=40, time_limit=1200.0, max_hints=4)
    assert limits_for(config, "medium") == Limits(max_questions=30, time_limit=1200.0, max_hints=2)
    assert limits_for(config, "hard") == Limits(max_questions=30, time_limit=None, max_hints=2)


@pytest.mark.parametrize(
    ("game", "message"),
    [
        ({"limits": {"extreme": {}}}, "game.limits.extreme.[key]: input should be 'easy', 'medium' or 'hard'"),
        ({"limits": {"easy": {"questions": 3}}}, "game.limits.easy.questions: unknown key (expected one of: "),
        ({"limits": {"hard": {"max_questions": 0}}}, "game.limits.hard.max_questions: input should be greater"),
        ({"time_limit_minutes": -1}, "game.time_limit_minutes: input should be greater than 0"),
        ({"max_hints": -1}, "game.max_hints: input should be greater than or equal to 0"),
    ],
)
def test_bad_limits_are_refused_naming_the_key(game: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate({"game": game}, "limits.yaml")
    assert message in str(raised.value)


def test_limits_reached() -> None:
    assert not out_of_time(1000.0, None, now=10**9)
    assert not out_of_time(1000.0, 60.0, now=1059.9) and out_of_time(1000.0, 60.0, now=1060.0)
    assert not out_of_questions(99, None)
    assert not out_of_questions(4, 5) and out_of_questions(5, 5)
