"""The meaning guard reads stock host lines as host talk, not as the secret (bot.game.meaning.HOST_LINES)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.game.meaning import MeaningGuard, puzzle_meaning, sentences
from bot.game.puzzles import builtin_puzzles

HELD_OUT = yaml.safe_load((Path("bench/meaning/sets/host_lines.yaml")).read_text(encoding="utf-8"))["heldout"]


def test_a_stock_line_after_a_verdict_is_shown_where_it_once_came_near_a_fact() -> None:
    # "想想别的。" came 0.454 from a fact of this puzzle (over the 0.45 leak threshold): "否。想想别的。" was masked
    # for one Chinese game in fifty, whatever the host had said.
    puzzle = next(puzzle for puzzle in builtin_puzzles() if puzzle.id == "zh-window-bed")
    meaning = puzzle_meaning(puzzle.answer, puzzle.key_facts)
    guard = MeaningGuard(meaning, range(len(puzzle.key_facts)), [puzzle.story, "和天气有关吗？"])
    for line in ["想想别的。", *HELD_OUT["zh"]]:
        assert not guard.leaks(f"否。{line}"), line
    told = [*sentences(puzzle.answer), *puzzle.key_facts]
    assert all(MeaningGuard(meaning, range(len(puzzle.key_facts)), []).leaks(sentence) for sentence in told)
    assert guard.leaks("否。老李讲的湖和鸭子都是他编的。")  # the secret in other words, beside a verdict
