"""Puzzle packs: the YAML format, its validation, and the bank games draw from."""

from __future__ import annotations

import logging
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bot.game.leak import LeakGuard
from bot.game.pack_yaml import echo, echo_name, load_pack_yaml

log = logging.getLogger(__name__)

LANGUAGES = ("en", "zh")
REQUIRED_FIELDS = ("id", "language", "title", "story", "answer")
OPTIONAL_FIELDS = ("hints", "key_facts", "difficulty", "generated_by")
# `generated_by`: the model that wrote a generated puzzle (bot.game.generate), kept with it through export.
MAX_GENERATED_BY = 100
DIFFICULTIES = ("easy", "medium", "hard")
DEFAULT_DIFFICULTY = "medium"
# A key fact is one short sentence of the answer; the progress line and the end-of-game summary list them all.
MIN_KEY_FACTS, MAX_KEY_FACTS = 2, 5
MAX_KEY_FACT_LENGTH = 200
# A hint is one sentence, shown in one message under Discord's 2,000 characters with the bot's words.
MAX_HINT_CHARACTERS = 300
# "Already stated in the story": the fact's normalised text occurs in the story's, or at least this share of
# its tokens (English content words, CJK character bigrams) does. A fact the story gives away finds itself.
STATED_OVERLAP = 0.8
_STOPWORD_TEXT = """
    a an the and or but if of to in on at by for with from into onto as is are was were be been being it its
    he she they them his her their him we us our you your i me my this that these those there here then than so
    not no do does did had has have will would can could just very all also once one who whom which what when
    where why how up down out off over again still yet"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
BUILTIN_PACKS = ("en.yaml", "zh.yaml")
# Stories and answers are shown in Discord embeds: at most 256 characters of title, 4,096 of
# description and 6,000 across one message's embeds. Our own words go around them ("🐢 The answer
# to “…”", the solver's line above a solved answer, the story's footer), so a puzzle may fill each
# embed only up to the room they leave. (A reveal and the next story, together past 6,000, are sent
# as two messages; one puzzle's own story message, title + story + footer, stays within 6,000.)
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
MESSAGE_EMBEDS_LIMIT = 6000
TITLE_RESERVE = 56
DESCRIPTION_RESERVE = 596
MAX_LENGTHS = {
    "id": 100,
    "title": EMBED_TITLE_LIMIT - TITLE_RESERVE,
    "story": EMBED_DESCRIPTION_LIMIT - DESCRIPTION_RESERVE,
    "answer": EMBED_DESCRIPTION_LIMIT - DESCRIPTION_RESERVE,
}
# Why each limit exists, for the error message.
_WITH_OUR_WORDS = "with the bot's words around it"
LIMIT_REASONS = {
    "title": f"Discord shows at most {EMBED_TITLE_LIMIT:,} characters in an embed title, {_WITH_OUR_WORDS}",
    "story": f"Discord shows at most {EMBED_DESCRIPTION_LIMIT:,} characters in an embed, {_WITH_OUR_WORDS}",
    "answer": f"Discord shows at most {EMBED_DESCRIPTION_LIMIT:,} characters in an embed, {_WITH_OUR_WORDS}",
}


class PuzzleError(ValueError):
    """A puzzle pack problem, naming the file, the puzzle and the field."""


@dataclass(frozen=True, slots=True)
class Puzzle:
    id: str
    language: str
    title: str
    story: str
    answer: str
    hints: tuple[str, ...] = ()
    source: str = ""
    key_facts: tuple[str, ...] = ()
    difficulty: str = DEFAULT_DIFFICULTY
    generated_by: str = ""


def parse_pack(text: str, source: str) -> list[Puzzle]:
    """Parse and validate one pack; every problem is reported at once."""
    try:
        data = load_pack_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark else ""
        raise PuzzleError(f"{source}:{where} invalid YAML: {getattr(error, 'problem', None) or error}") from None
    except RecursionError:
        raise PuzzleError(f"{source}: invalid YAML: lists or mappings nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("puzzles"), list):
        raise PuzzleError(f"{source}: expected a mapping with a `puzzles:` list at the top")
    unknown = sorted(set(data) - {"puzzles"}, key=str)  # keys may be numbers, dates or null as well as text
    problems = [f"{source}: unknown top-level key {echo(key)} (expected only `puzzles`)" for key in unknown]
    puzzles: list[Puzzle] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["puzzles"], start=1):
        puzzle, entry_problems = _parse_entry(entry, index, source)
        problems.extend(entry_problems)
        if puzzle is None:
            continue
        if puzzle.id in seen:
            problems.append(f"{source}: puzzle {puzzle.id!r}: id: duplicate id within this file")
        seen.add(puzzle.id)
        puzzles.append(puzzle)
    if not data["puzzles"]:
        problems.append(f"{source}: `puzzles` is empty")
    if problems:
        raise PuzzleError("\n".join(problems))
    return puzzles


def _parse_entry(entry: Any, index: int, source: str) -> tuple[Puzzle | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"{source}: puzzle #{index}: expected a mapping of fields, got {type(entry).__name__}"]
    named = isinstance(entry.get("id"), str) and entry["id"].strip()
    name = f"puzzle {echo(entry['id'])}" if named else f"puzzle #{index}"
    where = f"{source}: {name}"
    problems = [
        f"{where}: {echo_name(key)}: unknown field (expected {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)})"
        for key in entry
        if key not in REQUIRED_FIELDS + OPTIONAL_FIELDS
    ]
    for field in REQUIRED_FIELDS:
        value = entry.get(field)
        if field not in entry:
            problems.append(f"{where}: {field}: missing field")
        elif not isinstance(value, str):
            problems.append(f"{where}: {field}: expected text, got {type(value).__name__}")
        elif not value.strip():
            problems.append(f"{where}: {field}: empty text")
        elif len(value.strip()) > MAX_LENGTHS.get(field, len(value)):
            reason = f"; {LIMIT_REASONS[field]}" if field in LIMIT_REASONS else ""
            problems.append(
                f"{where}: {field}: too long ({len(value.strip())} characters, at most {MAX_LENGTHS[field]}){reason}"
            )
    if isinstance(entry.get("language"), str) and entry["language"].strip() and entry["language"] not in LANGUAGES:
        problems.append(f"{where}: language: unknown language {echo(entry['language'])} (expected en or zh)")
    hints = entry.get("hints", [])
    if not isinstance(hints, list) or not all(isinstance(hint, str) and hint.strip() for hint in hints):
        problems.append(f"{where}: hints: expected a list of non-empty texts")
    else:
        problems.extend(
            f"{where}: hints: hint {number}: too long ({len(hint.strip())} characters, at most "
            f"{MAX_HINT_CHARACTERS}); a hint is one sentence"
            for number, hint in enumerate(hints, start=1)
            if len(hint.strip()) > MAX_HINT_CHARACTERS
        )
    difficulty = entry.get("difficulty", DEFAULT_DIFFICULTY)
    problems.extend(f"{where}: difficulty: {problem}" for problem in _difficulty_problems(difficulty))
    generated_by = entry.get("generated_by", "")
    if not isinstance(generated_by, str) or len(generated_by.strip()) > MAX_GENERATED_BY:
        problems.append(
            f"{where}: generated_by: expected a model's name (text of at most {MAX_GENERATED_BY} characters)"
        )
    # Optional: a pack without key facts plays as before (the host judges against the whole answer).
    key_facts = entry.get("key_facts", [])
    if "key_facts" in entry:
        problems.extend(f"{where}: key_facts: {problem}" for problem in key_fact_problems(key_facts, entry))
    if not problems and not LeakGuard(entry["story"], entry["answer"], entry["language"]).distinctive_terms():
        # Nothing to tell the answer by: the leak guard could not keep it back, and any "Correct" would solve.
        problems.append(f"{where}: answer: says nothing the story does not (it needs words of its own)")
    if problems:
        return None, problems
    puzzle = Puzzle(
        id=entry["id"].strip(),
        language=entry["language"],
        title=entry["title"].strip(),
        story=entry["story"].strip(),
        answer=entry["answer"].strip(),
        hints=tuple(hint.strip() for hint in hints),
        source=source,
        key_facts=tuple(fact.strip() for fact in key_facts),
        difficulty=difficulty,
        generated_by=generated_by.strip(),
    )
    return puzzle, []


def _difficulty_problems(difficulty: Any) -> list[str]:
    if not isinstance(difficulty, str):  # its type first: a list's repr could be a billion items long
        return [f"expected text, got {type(difficulty).__name__}"]
    if difficulty not in DIFFICULTIES:
        return [f"unknown difficulty {echo(difficulty)} (expected easy, medium or hard)"]
    return []


def key_fact_problems(key_facts: Any, entry: dict[str, Any]) -> list[str]:
    """What is wrong with a `key_facts` value, judged against the entry's story and answer."""
    if not isinstance(key_facts, list) or not all(isinstance(fact, str) and fact.strip() for fact in key_facts):
        return ["expected a list of non-empty texts"]
    if not MIN_KEY_FACTS <= len(key_facts) <= MAX_KEY_FACTS:
        return [f"expected {MIN_KEY_FACTS} to {MAX_KEY_FACTS} key facts, got {len(key_facts)}"]
    story, answer = entry.get("story"), entry.get("answer")
    problems: list[str] = []
    seen: set[str] = set()
    for number, fact in enumerate((fact.strip() for fact in key_facts), start=1):
        if len(fact) > MAX_KEY_FACT_LENGTH:
            problems.append(f"key fact {number}: too long ({len(fact)} characters, at most {MAX_KEY_FACT_LENGTH})")
        if isinstance(answer, str) and answer.strip() and len(fact) >= len(answer.strip()):
            problems.append(f"key fact {number}: not shorter than the answer (a key fact is one part of it)")
        if isinstance(story, str) and story.strip() and already_stated(fact, story):
            problems.append(f"key fact {number}: already stated in the story ({echo(fact)})")
        if normalise(fact) in seen:
            problems.append(f"key fact {number}: repeats an earlier key fact")
        seen.add(normalise(fact))
    return problems


def normalise(text: str) -> str:
    """Case-folded, width-folded text with punctuation and spacing reduced to single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


_CJK = "\u3400-\u9fff\uf900-\ufaff"
# A run of CJK characters, or a run of other letters and digits.
_TOKEN_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")


def fact_tokens(text: str) -> set[str]:
    """English content words (a plural's trailing s dropped) and CJK character bigrams of a text."""
    tokens: set[str] = set()
    for run in _TOKEN_RUN.findall(normalise(text)):
        if "\u3400" <= run[0] <= "\u9fff" or "\uf900" <= run[0] <= "\ufaff":
            tokens.update(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
        elif run not in STOPWORDS and len(run) > 1:
            tokens.add(run[:-1] if len(run) > 3 and run.endswith("s") else run)
    return tokens


def already_stated(fact: str, story: str) -> bool:
    """Whether the story already says `fact`: contained after normalising, or most of its tokens appear in it."""
    fact_text, story_text = normalise(fact), normalise(story)
    if fact_text and fact_text in story_text:
        return True
    tokens = fact_tokens(fact)
    if not tokens:
        return False
    return len(tokens & fact_tokens(story)) / len(tokens) >= STATED_OVERLAP


def load_pack(path: Path) -> list[Puzzle]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PuzzleError(f"{path}: cannot read puzzle pack: {error}") from None
    return parse_pack(text, str(path))


def builtin_puzzles() -> list[Puzzle]:
    folder = resources.files("bot") / "puzzles"
    puzzles: list[Puzzle] = []
    for name in BUILTIN_PACKS:
        puzzles.extend(parse_pack(folder.joinpath(name).read_text(encoding="utf-8"), f"built-in {name}"))
    return puzzles


class PuzzleBank:
    """Every loaded puzzle, by id and by language."""

    def __init__(self, puzzles: Iterable[Puzzle]) -> None:
        self.by_id: dict[str, Puzzle] = {}
        for puzzle in puzzles:
            self.by_id[puzzle.id] = puzzle
        self.by_language: dict[str, list[Puzzle]] = {language: [] for language in LANGUAGES}
        for puzzle in self.by_id.values():
            self.by_language[puzzle.language].append(puzzle)

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, puzzle_id: str) -> Puzzle | None:
        return self.by_id.get(puzzle_id)

    def pick(
        self,
        language: str,
        recent: Sequence[str] = (),
        rng: random.Random | None = None,
        difficulty: str | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> Puzzle:
        """A random puzzle in `language` (of `difficulty`, when given) that is not among `recent`, when any exists.

        `weights` (puzzle id -> weight, 1 when absent) make some likelier than others; one weighted 0 (a
        retired puzzle) is picked only when every candidate is retired."""
        candidates = self.by_language.get(language) or []
        if not candidates:
            raise PuzzleError(f"no puzzles in language {language!r} are loaded")
        if difficulty is not None:
            if difficulty not in DIFFICULTIES:
                raise PuzzleError(f"unknown difficulty {difficulty!r} (expected easy, medium or hard)")
            candidates = [puzzle for puzzle in candidates if puzzle.difficulty == difficulty]
            if not candidates:
                raise PuzzleError(f"no {difficulty} puzzles in language {language!r} are loaded")
        if weights is not None:
            candidates = [puzzle for puzzle in candidates if weights.get(puzzle.id, 1.0) > 0] or candidates
        fresh = [puzzle for puzzle in candidates if puzzle.id not in set(recent)]
        if not fresh:
            # Every puzzle was played lately: avoid at least the most recent ones.
            keep = set(recent[: max(len(candidates) - 1, 0)])
            fresh = [puzzle for puzzle in candidates if puzzle.id not in keep] or candidates
        chosen = [weights.get(puzzle.id, 1.0) for puzzle in fresh] if weights is not None else []
        if len(set(chosen)) > 1:
            return (rng or random).choices(fresh, chosen)[0]
        return (rng or random).choice(fresh)  # all alike: the very pick an unrated bank makes


def load_bank(puzzle_files: Sequence[str], include_builtin: bool = True, base: Path | None = None) -> PuzzleBank:
    """Built-in packs, then the configured ones; a configured puzzle replaces a built-in one with its id."""
    puzzles = builtin_puzzles() if include_builtin else []
    builtin_ids = {puzzle.id for puzzle in puzzles}
    owners: dict[str, str] = {}
    problems: list[str] = []
    for name in puzzle_files:
        path = Path(name)
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            pack = load_pack(path)
        except PuzzleError as error:
            problems.append(str(error))
            continue
        for puzzle in pack:
            if puzzle.id in owners:
                problems.append(f"{path}: puzzle {puzzle.id!r}: id: duplicate id (also in {owners[puzzle.id]})")
                continue
            owners[puzzle.id] = str(path)
            if puzzle.id in builtin_ids:
                log.info("puzzle %s from %s replaces the built-in one", puzzle.id, path)
            puzzles.append(puzzle)
    if problems:
        raise PuzzleError("\n".join(problems))
    bank = PuzzleBank(puzzles)
    if not len(bank):
        raise PuzzleError("no puzzles loaded: set game.include_builtin: true or list packs in game.puzzle_files")
    return bank
