"""The judging set: the project's labelled cases pass their own validation; bad files and TurtleBench lines."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench.judge.cases import LABELS, STATEMENT, CaseError, builtin_cases, load_case_file, parse_cases
from bench.judge.turtlebench import load_turtlebench, split_line
from bot.game.puzzles import builtin_puzzles
from bot.game.verdict import Verdict

PUZZLES = {puzzle.id: puzzle for puzzle in builtin_puzzles()}


def test_the_builtin_set_is_large_bilingual_and_valid() -> None:
    cases = builtin_cases(PUZZLES)  # validates every case against the built-in bank
    languages = Counter(case.puzzle.language for case in cases)
    assert len(cases) >= 300 and min(languages.values()) >= 0.4 * len(cases)
    asked = {case.puzzle.id for case in cases}
    assert len(asked) >= 60 and asked <= set(PUZZLES)  # the first 30 + 30 built-in puzzles, each asked about
    assert {case.label for case in cases} == set(LABELS)
    assert all(case.kind in ("question", "guess") and case.question for case in cases)
    for language in ("en", "zh"):
        mine = [case for case in cases if case.puzzle.language == language]
        assert sum(case.injection for case in mine) >= 8
        assert sum(case.kind == "guess" and case.label is Verdict.CORRECT for case in mine) >= 25  # right guesses
        assert sum(case.kind == "guess" and case.label is Verdict.NO for case in mine) >= 25  # near misses
        assert sum(case.label is Verdict.IRRELEVANT and not case.injection for case in mine) >= 30
    # Coverage labels, where the bank has key facts, point at facts that exist (the loader checks the range).
    assert all(case.covers is None or case.puzzle.key_facts for case in cases)
    if all(case.puzzle.key_facts for case in cases):
        assert all((case.covers is not None) == (case.kind == "guess") for case in cases)  # every guess is labelled
    assert len({(case.puzzle.id, case.question) for case in cases}) == len(cases)  # no duplicates


def test_a_bad_case_file_names_the_file_the_case_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "cases:\n"
        '  - {puzzle_id: en-hiccup-bar, kind: question, label: "yes", question: "Was he ill?"}\n'
        '  - {puzzle_id: en-nowhere, kind: question, label: "yes", question: "Q?"}\n'
        '  - {puzzle_id: en-hiccup-bar, kind: question, label: maybe, question: "Q?"}\n'
        '  - {puzzle_id: en-hiccup-bar, kind: riddle, label: "no", question: ""}\n'
        '  - {puzzle_id: en-hiccup-bar, kind: question, label: correct, question: "Q?", colour: red}\n'
        '  - {puzzle_id: en-hiccup-bar, kind: guess, label: correct, question: "Q?", covers: "all", injection: 1}\n'
        '  - {puzzle_id: en-hiccup-bar, label: "no"}\n',
        encoding="utf-8",
    )
    with pytest.raises(CaseError) as error:
        load_case_file(path, PUZZLES)
    message = str(error.value)
    for expected in (
        f"{path}: case 2: puzzle_id: no loaded puzzle has the id 'en-nowhere'",
        f"{path}: case 3: label: expected one of yes, no, irrelevant, correct, got 'maybe'",
        f"{path}: case 4: kind: expected one of question, guess, got 'riddle'",
        f"{path}: case 4: question: expected non-empty text",
        f"{path}: case 5: colour: unknown field",
        f"{path}: case 5: label: a question cannot be `correct`",
        f"{path}: case 6: injection: expected true or false, got 1",
        f"{path}: case 6: covers: expected a list of key fact indices",
        f"{path}: case 7: kind: missing field",
        f"{path}: case 7: question: missing field",
    ):
        assert expected in message
    assert "case 1" not in message


def test_case_files_that_are_not_case_lists_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match=r"x\.yaml: line 1: invalid YAML"):
        parse_cases("cases: [", "x.yaml", PUZZLES)
    with pytest.raises(CaseError, match="expected a mapping with a non-empty `cases:` list"):
        parse_cases("- a\n- b\n", "x.yaml", PUZZLES)
    with pytest.raises(CaseError, match="cannot read the case file"):
        load_case_file(tmp_path / "missing.yaml", PUZZLES)


def test_bare_yes_and_no_read_as_labels() -> None:
    [yes, no] = parse_cases(
        "cases:\n"
        "  - {puzzle_id: en-hiccup-bar, kind: question, label: yes, question: 'Was he ill?'}\n"
        "  - {puzzle_id: en-hiccup-bar, kind: question, label: no, question: 'Was he thirsty?'}\n",
        "x.yaml",
        PUZZLES,
    )
    assert (yes.label, no.label) == (Verdict.YES, Verdict.NO)


def write_turtlebench(folder: Path) -> Path:
    """A tiny set in the public layout, with made-up stories and lines of our own."""
    folder.mkdir(parents=True, exist_ok=True)
    stories = [
        {
            "title": "灯塔",
            "surface": "一个人关了灯，第二天很后悔。",
            "bottom": "他是灯塔看守人，关灯后有船触礁沉没了。",
        },
        {"title": "雪人", "surface": "草坪上有一根胡萝卜和一条围巾。", "bottom": "那是一个融化了的雪人留下的东西。"},
    ]
    (folder / "stories.json").write_text(json.dumps(stories, ensure_ascii=False), encoding="utf-8")
    lines = [
        "他是看守灯塔的\t灯塔\tT",
        "有船沉了\t灯塔\t对",
        "他是电工\t灯塔\tF",
        "他喜欢喝茶\t灯塔\tN",
        "天气变暖了\t雪人\tT",
        "胡萝卜是兔子叼来的 \t|\t 雪人 \t|\t Incorrect",
        "有人把东西放在那里,是孩子\t雪人\t不知道",
        "围巾是红色的\t雪人 N",
        "this line has no label at all",
        "",
    ]
    (folder / "cases.list").write_text("\n".join(lines), encoding="utf-8")
    return folder


def test_turtlebench_layout_maps_labels_and_skips_unreadable_lines(tmp_path: Path) -> None:
    cases, skipped = load_turtlebench(write_turtlebench(tmp_path / "tb"))
    assert skipped == 1
    assert [case.label for case in cases] == [
        Verdict.YES,
        Verdict.YES,
        Verdict.NO,
        Verdict.IRRELEVANT,
        Verdict.YES,
        Verdict.NO,
        Verdict.IRRELEVANT,
        Verdict.IRRELEVANT,
    ]
    assert cases[5].question == "胡萝卜是兔子叼来的" and cases[6].question == "有人把东西放在那里,是孩子"
    assert all(case.kind == STATEMENT and case.puzzle.language == "zh" for case in cases)
    assert cases[0].puzzle.answer == "他是灯塔看守人，关灯后有船触礁沉没了。"
    assert split_line("The man fell\t|\tHalf a Matchstick\t|\tUnknown")[1:] == ("Half a Matchstick", Verdict.IRRELEVANT)
    assert split_line("He was hungry, very, Story, correct") == ("He was hungry, very", "Story", Verdict.YES)


def test_turtlebench_folder_problems_are_named(tmp_path: Path) -> None:
    folder = write_turtlebench(tmp_path / "tb")
    (folder / "cases.list").write_text("他是谁\t不存在的故事\tT\n", encoding="utf-8")
    with pytest.raises(CaseError, match=r"line 1: story title .不存在的故事. is not in stories\.json"):
        load_turtlebench(folder)
    (folder / "stories.json").write_text('[{"title": "x"}]', encoding="utf-8")
    with pytest.raises(CaseError, match="story 1: expected non-empty text in each of title, surface, bottom"):
        load_turtlebench(folder)
    with pytest.raises(CaseError, match="not found"):
        load_turtlebench(tmp_path / "empty")
