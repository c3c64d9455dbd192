"""The public TurtleBench layout, read from a folder the operator gives; nothing of it ships with the project.

- ``stories.json``: a list of ``{"title", "surface", "bottom"}`` (the story and its hidden answer);
- ``cases.list``: one case a line, ``statement, title, label``. The published files separate the fields with
  a tab (Chinese) or ``<tab>|<tab>`` (English); a plain ``|``, a comma, or whitespace before the label work too.

Each case is a player's *statement* about the story, judged true, false, or not settled by the story. Labels map
to the host's verdicts (case-insensitive):

    T, true, correct, yes, 对, 是, 正确         -> yes
    F, false, incorrect, no, 错, 否, 不对, 错误  -> no
    N, unknown, irrelevant, 不知道, 无关, 不相关 -> irrelevant

A line that cannot be read (the published Chinese file has one or two) is skipped and counted, with a warning
naming it; a story title that stories.json lacks is an error, as is a folder with no readable case.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from bench.judge.cases import STATEMENT, Case, CaseError
from bot.game.puzzles import Puzzle
from bot.game.verdict import Verdict

log = logging.getLogger(__name__)

STORIES_FILE = "stories.json"
CASES_FILES = ("cases.list", "sorted_cases.list")
LABEL_MAP: dict[str, Verdict] = {
    **dict.fromkeys(("t", "true", "correct", "yes", "对", "是", "正确"), Verdict.YES),
    **dict.fromkeys(("f", "false", "incorrect", "no", "错", "否", "不对", "错误"), Verdict.NO),
    **dict.fromkeys(("n", "unknown", "irrelevant", "不知道", "无关", "不相关"), Verdict.IRRELEVANT),
}
SEPARATORS = (re.compile(r"\t\|\t"), re.compile(r"\t"), re.compile(r"\s*\|\s*"), re.compile(r"\s*[,，]\s*"))
_CJK = re.compile(r"[\u4e00-\u9fff]")


def is_turtlebench_folder(path: Path) -> bool:
    return path.is_dir() and (path / STORIES_FILE).is_file()


def load_turtlebench(folder: Path, language: str | None = None) -> tuple[list[Case], int]:
    """The folder's cases as project cases, and how many lines were skipped as unreadable."""
    stories = _load_stories(folder / STORIES_FILE)
    cases_path = next((folder / name for name in CASES_FILES if (folder / name).is_file()), None)
    if cases_path is None:
        raise CaseError(f"{folder}: no {' or '.join(CASES_FILES)} next to {STORIES_FILE}")
    try:
        lines = cases_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CaseError(f"{cases_path}: cannot read: {error}") from None
    language = language or _guess_language(stories)
    puzzles: dict[str, Puzzle] = {}
    cases: list[Case] = []
    skipped = 0
    missing: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parsed = split_line(line)
        if parsed is None:
            skipped += 1
            log.warning(
                "%s line %d: not `statement, title, label` with a known label; skipped: %r", cases_path, number, line
            )
            continue
        statement, title, verdict = parsed
        if title not in stories:
            missing.append(f"{cases_path} line {number}: story title {title!r} is not in {STORIES_FILE}")
            continue
        puzzle = puzzles.get(title) or _puzzle(title, stories[title], language)
        puzzles[title] = puzzle
        cases.append(Case(f"{cases_path.name}#{number}", puzzle, statement, verdict, STATEMENT))
    if missing:
        raise CaseError("\n".join(missing[:20] + ([f"... and {len(missing) - 20} more"] if len(missing) > 20 else [])))
    if not cases:
        raise CaseError(f"{cases_path}: no readable case (expected lines of `statement<TAB>title<TAB>label`)")
    return cases, skipped


def split_line(line: str) -> tuple[str, str, Verdict] | None:
    """(statement, title, verdict) from one line, trying the known separators in turn."""
    text = line.strip()
    for separator in SEPARATORS:
        found = list(separator.finditer(text))
        if len(found) < 2:
            continue
        # The last two separators bound the title: a comma inside the statement stays in the statement.
        before, after = found[-2], found[-1]
        statement, title, label = (
            text[: before.start()].strip(),
            text[before.end() : after.start()].strip(),
            text[after.end() :],
        )
        if statement and title and label.strip().lower() in LABEL_MAP:
            return statement, title, LABEL_MAP[label.strip().lower()]
    # "标题 F": the title and label separated by a space instead of a tab.
    head, _, last = text.rpartition("\t")
    title, _, label = last.rpartition(" ")
    if head and title and label.lower() in LABEL_MAP:
        return head.strip(), title.strip(), LABEL_MAP[label.lower()]
    return None


def _load_stories(path: Path) -> dict[str, dict[str, str]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaseError(f"{path}: not found (a TurtleBench folder holds stories.json and cases.list)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CaseError(f"{path}: cannot read as JSON: {error}") from None
    if not isinstance(data, list):
        raise CaseError(f"{path}: expected a list of stories, got {type(data).__name__}")
    stories: dict[str, dict[str, str]] = {}
    for index, story in enumerate(data, start=1):
        fields = ("title", "surface", "bottom")
        if not isinstance(story, dict) or not all(isinstance(story.get(f), str) and story[f].strip() for f in fields):
            raise CaseError(f"{path}: story {index}: expected non-empty text in each of {', '.join(fields)}")
        stories[story["title"].strip()] = story
    return stories


def _guess_language(stories: dict[str, dict[str, str]]) -> str:
    text = "".join(story["surface"] for story in stories.values())
    return "zh" if len(_CJK.findall(text)) * 4 > len(text) else "en"


def _puzzle(title: str, story: dict[str, str], language: str) -> Puzzle:
    return Puzzle(f"turtlebench:{title}", language, title, story["surface"].strip(), story["bottom"].strip())
