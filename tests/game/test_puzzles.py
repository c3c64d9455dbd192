"""Puzzle packs: the built-in bank, validation messages, and picking without repeats."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.game.puzzles import PuzzleBank, PuzzleError, builtin_puzzles, load_bank, parse_pack

GOOD = """\
puzzles:
  - id: lamp
    language: en
    title: The Lamp
    story: A lamp went out and a man was glad.
    answer: He was a lighthouse keeper's enemy.
"""


def test_builtin_bank_has_enough_puzzles_in_both_languages() -> None:
    puzzles = builtin_puzzles()
    assert sum(p.language == "en" for p in puzzles) >= 25
    assert sum(p.language == "zh" for p in puzzles) >= 25
    assert len({p.id for p in puzzles}) == len(puzzles)
    for puzzle in puzzles:
        assert puzzle.story and puzzle.answer and puzzle.title
        assert puzzle.answer not in puzzle.story


def error_of(text: str, source: str = "pack.yaml") -> str:
    with pytest.raises(PuzzleError) as caught:
        parse_pack(text, source)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("    answer: He was a lighthouse keeper's enemy.\n", ""),
            "pack.yaml: puzzle 'lamp': answer: missing",
        ),
        (GOOD.replace("language: en", "language: fr"), "puzzle 'lamp': language: unknown language 'fr'"),
        (GOOD.replace("title: The Lamp", "title: '  '"), "puzzle 'lamp': title: empty text"),
        (GOOD.replace("title: The Lamp", "title: [a]"), "puzzle 'lamp': title: expected text, got list"),
        (GOOD.replace("- id: lamp\n    language", "- language"), "pack.yaml: puzzle #1: id: missing field"),
        (GOOD + "    hint: oops\n", "puzzle 'lamp': hint: unknown field"),
        (GOOD + "    hints: [ok, '']\n", "puzzle 'lamp': hints: expected a list of non-empty texts"),
        (GOOD + GOOD.split("puzzles:\n")[1], "puzzle 'lamp': id: duplicate id"),
        ("puzzles: {}\n", "expected a mapping with a `puzzles:` list"),
        ("puzzles: []\n", "`puzzles` is empty"),
        ("puzzles:\n  - just text\n", "puzzle #1: expected a mapping of fields"),
        ("puzzles: [\n", "pack.yaml: line"),
        (GOOD + "extra: 1\n", "unknown top-level key 'extra'"),
        (GOOD.replace("story: A", "story: " + "x" * 3600 + " A"), "story: too long (3636 characters, at most 3500)"),
        (
            GOOD.replace("answer: He", "answer: " + "x" * 3600 + " He"),
            "answer: too long (3636 characters, at most 3500); Discord shows at most 4,096 characters in an embed",
        ),
        (
            GOOD.replace("title: The Lamp", "title: " + "T" * 201),
            "title: too long (201 characters, at most 200); Discord shows at most 256 characters in an embed title",
        ),
    ],
)
def test_every_problem_names_file_puzzle_and_field(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_all_problems_are_reported_together() -> None:
    text = GOOD.replace("language: en", "language: fr").replace("title: The Lamp", "title: ''")
    message = error_of(text)
    assert "language" in message and "title" in message


def test_configured_packs_add_to_and_replace_builtin_ones(tmp_path: Path) -> None:
    builtin = builtin_puzzles()
    (tmp_path / "extra.yaml").write_text(GOOD.replace("id: lamp", f"id: {builtin[0].id}"), encoding="utf-8")
    (tmp_path / "more.yaml").write_text(GOOD, encoding="utf-8")
    bank = load_bank(["extra.yaml", str(tmp_path / "more.yaml")], base=tmp_path)
    assert len(bank) == len(builtin) + 1
    assert bank.get(builtin[0].id).title == "The Lamp"
    only = load_bank(["more.yaml"], include_builtin=False, base=tmp_path)
    assert list(only.by_id) == ["lamp"]


def test_duplicate_ids_across_configured_packs_name_both_files(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(GOOD, encoding="utf-8")
    with pytest.raises(PuzzleError) as caught:
        load_bank(["a.yaml", "b.yaml"], base=tmp_path)
    assert "b.yaml: puzzle 'lamp': id: duplicate id (also in" in str(caught.value)
    assert "a.yaml" in str(caught.value)


def test_missing_pack_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PuzzleError, match=r"nope\.yaml: cannot read puzzle pack"):
        load_bank(["nope.yaml"], base=tmp_path)


def test_no_puzzles_at_all_is_an_error() -> None:
    with pytest.raises(PuzzleError, match="no puzzles loaded"):
        load_bank([], include_builtin=False)


def test_pick_avoids_recent_puzzles() -> None:
    bank = PuzzleBank(builtin_puzzles())
    english = [p.id for p in bank.by_language["en"]]
    recent = english[:-1]
    rng = random.Random(1)
    assert {bank.pick("en", recent, rng).id for _ in range(20)} == {english[-1]}
    # When everything was played lately, it still picks, avoiding the most recent.
    assert bank.pick("en", english, rng).id != english[0]
