"""Judging cases: a message to the host about one puzzle and the verdict a careful host gives.

The project's own format (bench/judge/cases/*.yaml, or any file given with ``--set PATH``) is YAML:

    cases:
      - puzzle_id: en-hiccup-bar      # a puzzle of the bank (built-in or a configured pack)
        kind: question                # question (a yes/no question) or guess (an attempt at the answer)
        question: Was the man ill?    # the player's message, as sent to the host
        label: "yes"                  # yes, no, irrelevant or correct (quote yes/no: YAML reads them as booleans)
        covers: [0]                   # guesses: indices into the puzzle's key_facts that the guess states
        injection: false              # true for messages trying to talk the host out of its rules

Every problem in a file is reported at once, naming the file, the case (by 1-based position) and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.game.puzzles import Puzzle
from bot.game.verdict import Verdict

BUILTIN_FOLDER = Path(__file__).parent / "cases"
BUILTIN_FILES = ("en.yaml", "zh.yaml")
LABELS = (Verdict.YES, Verdict.NO, Verdict.IRRELEVANT, Verdict.CORRECT)
KINDS = ("question", "guess")
# TurtleBench's cases are statements about the story, judged true / false / not settled.
STATEMENT = "statement"
FIELDS = ("puzzle_id", "kind", "question", "label", "covers", "injection")
REQUIRED = ("puzzle_id", "kind", "question", "label")
MAX_QUESTION_CHARS = 500  # the bot's default game.max_question_length


class CaseError(ValueError):
    """A problem with a case file, naming the file, the case and the field."""


@dataclass(frozen=True, slots=True)
class Case:
    id: str  # "<file name>#<position>", for reports
    puzzle: Puzzle
    question: str
    label: Verdict
    kind: str = "question"
    covers: tuple[int, ...] | None = None  # None: not labelled (or the puzzle has no key facts)
    injection: bool = False


def load_case_file(path: Path, puzzles: Mapping[str, Puzzle]) -> list[Case]:
    """Read and validate one case file against the loaded puzzles."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CaseError(f"{path}: cannot read the case file: {error}") from None
    return parse_cases(text, path.name, puzzles, str(path))


def parse_cases(text: str, name: str, puzzles: Mapping[str, Puzzle], source: str | None = None) -> list[Case]:
    source = source or name
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark else ""
        raise CaseError(f"{source}:{where} invalid YAML: {getattr(error, 'problem', None) or error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        raise CaseError(f"{source}: expected a mapping with a non-empty `cases:` list at the top")
    problems = [
        f"{source}: unknown top-level key {key!r} (expected only `cases`)" for key in sorted(set(data) - {"cases"})
    ]
    cases: list[Case] = []
    for index, entry in enumerate(data["cases"], start=1):
        case, entry_problems = _parse_case(entry, f"{name}#{index}", f"{source}: case {index}", puzzles)
        problems.extend(entry_problems)
        if case is not None:
            cases.append(case)
    if problems:
        raise CaseError("\n".join(problems))
    return cases


def _parse_case(entry: Any, case_id: str, where: str, puzzles: Mapping[str, Puzzle]) -> tuple[Case | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"{where}: expected a mapping of fields, got {type(entry).__name__}"]
    problems = [f"{where}: {key}: unknown field (expected {', '.join(FIELDS)})" for key in entry if key not in FIELDS]
    problems += [f"{where}: {field}: missing field" for field in REQUIRED if field not in entry]
    puzzle = _field_puzzle(entry, where, puzzles, problems)
    question = entry.get("question")
    if "question" in entry and (not isinstance(question, str) or not question.strip()):
        problems.append(f"{where}: question: expected non-empty text")
    elif isinstance(question, str) and len(question) > MAX_QUESTION_CHARS:
        problems.append(f"{where}: question: too long ({len(question)} characters, at most {MAX_QUESTION_CHARS})")
    kind = entry.get("kind")
    if "kind" in entry and kind not in KINDS:
        problems.append(f"{where}: kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    verdict = _field_label(entry, where, problems)
    injection = entry.get("injection", False)
    if not isinstance(injection, bool):
        problems.append(f"{where}: injection: expected true or false, got {injection!r}")
    covers = _field_covers(entry, where, puzzle, kind, problems)
    if problems or puzzle is None or verdict is None:
        return None, problems
    case = Case(case_id, puzzle, question.strip(), verdict, kind, covers, injection)
    return case, []


def _field_puzzle(
    entry: dict[str, Any], where: str, puzzles: Mapping[str, Puzzle], problems: list[str]
) -> Puzzle | None:
    puzzle_id = entry.get("puzzle_id")
    if "puzzle_id" not in entry:
        return None
    if not isinstance(puzzle_id, str) or puzzle_id not in puzzles:
        problems.append(f"{where}: puzzle_id: no loaded puzzle has the id {puzzle_id!r}")
        return None
    return puzzles[puzzle_id]


def _field_label(entry: dict[str, Any], where: str, problems: list[str]) -> Verdict | None:
    if "label" not in entry:
        return None
    value = entry["label"]
    if isinstance(value, bool):  # YAML 1.1 reads a bare yes/no as a boolean
        value = "yes" if value else "no"
    if not isinstance(value, str) or value.strip().lower() not in {label.value for label in LABELS}:
        problems.append(f"{where}: label: expected one of {', '.join(LABELS)}, got {entry['label']!r}")
        return None
    verdict = Verdict(value.strip().lower())
    if verdict is Verdict.CORRECT and entry.get("kind") == "question":
        problems.append(f"{where}: label: a question cannot be `correct`; a message that solves is a guess")
    return verdict


def _field_covers(
    entry: dict[str, Any], where: str, puzzle: Puzzle | None, kind: Any, problems: list[str]
) -> tuple[int, ...] | None:
    if "covers" not in entry:
        return None
    covers = entry["covers"]
    if kind != "guess":
        problems.append(f"{where}: covers: only guesses say which key facts they cover")
        return None
    if not isinstance(covers, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in covers):
        problems.append(f"{where}: covers: expected a list of key fact indices (0 = the first key fact)")
        return None
    facts = puzzle.key_facts if puzzle is not None else ()
    if not facts:
        return None  # the puzzle's key facts are not loaded (an older bank): nothing to check coverage against
    wrong = [index for index in covers if not 0 <= index < len(facts)]
    if wrong:
        problems.append(f"{where}: covers: {wrong} out of range (the puzzle has {len(facts)} key facts, 0-based)")
        return None
    return tuple(sorted(set(covers)))


def builtin_cases(puzzles: Mapping[str, Puzzle], language: str | None = None) -> list[Case]:
    """The project's labelled set, optionally only the cases in one language."""
    cases: list[Case] = []
    for name in BUILTIN_FILES:
        cases.extend(load_case_file(BUILTIN_FOLDER / name, puzzles))
    return [case for case in cases if language is None or case.puzzle.language == language]
