"""Puzzle packs: the built-in bank, validation messages, and picking without repeats."""

from __future__ import annotations

import random
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.game.custom_puzzles import dump_pack
from bot.game.puzzles import (
    BUILTIN_PACKS,
    DIFFICULTIES,
    Puzzle,
    PuzzleBank,
    PuzzleError,
    already_stated,
    builtin_puzzles,
    key_fact_problems,
    load_bank,
    parse_pack,
)

GOOD = """\
puzzles:
  - id: lamp
    language: en
    title: The Lamp
    story: A lamp went out and a man was glad.
    answer: He was a lighthouse keeper's enemy.
"""

WITH_FACTS = (
    GOOD
    + """\
    difficulty: hard
    key_facts:
      - He hated the keeper.
      - The dark lamp meant a wreck.
"""
)


def test_builtin_bank_has_enough_puzzles_in_both_languages() -> None:
    puzzles = builtin_puzzles()
    assert sum(p.language == "en" for p in puzzles) >= 50
    assert sum(p.language == "zh" for p in puzzles) >= 50
    assert len({p.id for p in puzzles}) == len(puzzles)
    for puzzle in puzzles:
        assert puzzle.story and puzzle.answer and puzzle.title
        assert puzzle.answer not in puzzle.story


def builtin_entries() -> list[dict[str, Any]]:
    """The built-in packs as written, so a field left to its default is still seen as missing."""
    folder = resources.files("bot") / "puzzles"
    return [
        entry
        for name in BUILTIN_PACKS
        for entry in yaml.safe_load(folder.joinpath(name).read_text(encoding="utf-8"))["puzzles"]
    ]


@pytest.mark.parametrize("entry", builtin_entries(), ids=lambda entry: entry["id"])
def test_every_builtin_puzzle_has_key_facts_hints_and_a_difficulty(entry: dict[str, Any]) -> None:
    assert entry.get("difficulty") in DIFFICULTIES
    assert 2 <= len(entry.get("key_facts", [])) <= 5
    assert 2 <= len(entry.get("hints", [])) <= 3
    assert key_fact_problems(entry["key_facts"], entry) == []
    # A hint nudges; it never gives a key fact away.
    for hint in entry["hints"]:
        assert not [fact for fact in entry["key_facts"] if already_stated(fact, hint)], hint


def test_builtin_bank_offers_every_difficulty_in_both_languages() -> None:
    bank = PuzzleBank(builtin_puzzles())
    for language in ("en", "zh"):
        for difficulty in DIFFICULTIES:
            assert sum(p.difficulty == difficulty for p in bank.by_language[language]) >= 5, (language, difficulty)


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
        (GOOD + "1: x\nnotes: y\n", "unknown top-level key 1 (expected only `puzzles`)\npack.yaml: unknown top"),
        ("puzzles: " + "[" * 100_000 + "]" * 100_000, "pack.yaml: invalid YAML: lists or mappings nested too deeply"),
        (
            GOOD + "    hints: [ok, " + "x" * 301 + "]\n",
            "'lamp': hints: hint 2: too long (301 characters, at most 300)",
        ),
        (
            GOOD.replace("answer: He was a lighthouse keeper's enemy.", "answer: A lamp went out and a man was glad."),
            "puzzle 'lamp': answer: says nothing the story does not",
        ),
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


def test_key_facts_and_difficulty_are_read() -> None:
    [puzzle] = parse_pack(WITH_FACTS, "pack.yaml")
    assert puzzle.key_facts == ("He hated the keeper.", "The dark lamp meant a wreck.")
    assert puzzle.difficulty == "hard"


def test_key_facts_and_difficulty_are_optional_in_packs() -> None:
    [puzzle] = parse_pack(GOOD, "pack.yaml")
    assert puzzle.key_facts == ()
    assert puzzle.difficulty == "medium"
    # Code that builds a Puzzle from stored game fields keeps working.
    assert Puzzle("x", "en", "T", "S", "A").difficulty == "medium"


def facts(*items: str) -> str:
    return GOOD + "    key_facts:\n" + "".join(f"      - {item}\n" for item in items)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD + "    key_facts: He hated the keeper.\n",
            "puzzle 'lamp': key_facts: expected a list of non-empty texts",
        ),
        (GOOD + "    key_facts: []\n", "puzzle 'lamp': key_facts: expected 2 to 5 key facts, got 0"),
        (facts("He hated the keeper."), "puzzle 'lamp': key_facts: expected 2 to 5 key facts, got 1"),
        (facts(*(f"Fact number {n}." for n in range(6))), "key_facts: expected 2 to 5 key facts, got 6"),
        (facts("He hated the keeper.", "''"), "puzzle 'lamp': key_facts: expected a list of non-empty texts"),
        (facts("He hated the keeper.", "[nested]"), "puzzle 'lamp': key_facts: expected a list of non-empty texts"),
        (
            facts("He hated the keeper.", "The keeper's enemy was glad the lamp went out."),
            "pack.yaml: puzzle 'lamp': key_facts: key fact 2: not shorter than the answer",
        ),
        (
            facts("He hated the keeper.", "a LAMP went out"),
            "pack.yaml: puzzle 'lamp': key_facts: key fact 2: already stated in the story ('a LAMP went out')",
        ),
        (
            facts("He hated the keeper.", "The man, glad."),
            "puzzle 'lamp': key_facts: key fact 2: already stated in the story",
        ),
        (facts("He hated the keeper.", "he hated the keeper"), "key_facts: key fact 2: repeats an earlier key fact"),
        (facts("He hated the keeper.", "x" * 201), "key_facts: key fact 2: too long (201 characters, at most 200)"),
        (GOOD + "    difficulty: extreme\n", "puzzle 'lamp': difficulty: unknown difficulty 'extreme' (expected easy"),
        (GOOD + "    difficulty: 3\n", "pack.yaml: puzzle 'lamp': difficulty: expected text, got int"),
    ],
)
def test_bad_key_facts_and_difficulty_name_file_puzzle_and_field(text: str, expected: str) -> None:
    text = text.replace(
        "answer: He was a lighthouse keeper's enemy.", "answer: He was the lighthouse keeper's old enemy."
    )
    assert expected in error_of(text)


def test_key_fact_problems_in_several_puzzles_are_reported_together_and_nothing_is_loaded() -> None:
    second = (
        WITH_FACTS.split("puzzles:\n")[1]
        .replace("id: lamp", "id: lamp-2")
        .replace("difficulty: hard", "difficulty: odd")
    )
    text = facts("He hated the keeper.", "A lamp went out.") + second
    message = error_of(text)
    assert "pack.yaml: puzzle 'lamp': key_facts: key fact 2: already stated in the story" in message
    assert "pack.yaml: puzzle 'lamp-2': difficulty: unknown difficulty 'odd'" in message
    assert len(message.splitlines()) == 2


@pytest.mark.parametrize(
    ("fact", "story", "stated"),
    [
        ("The lamp went out.", "A LAMP went out, and a man was glad!", True),
        ("The man was glad the lamp went out.", "A lamp went out and a man was glad.", True),
        ("The man hated the lighthouse keeper.", "A lamp went out and a man was glad.", False),
        ("The divers swim to the ships", "Divers swim in a ballroom; the ship sank.", True),
        ("他以为自己又瞎了。", "火车驶进隧道，车厢里漆黑一片，他跳下了火车。", False),
        ("车厢里漆黑一片", "火车驶进隧道，车厢里漆黑一片，他跳下了火车。", True),
        ("他跳下了火车", "火车驶进隧道后，他在黑暗中跳下了火车。", True),
    ],
)
def test_already_stated_is_containment_or_most_tokens_in_the_story(fact: str, story: str, stated: bool) -> None:
    assert already_stated(fact, story) is stated


def test_pick_filters_by_difficulty_and_still_avoids_recent() -> None:
    [puzzle] = parse_pack(WITH_FACTS, "pack.yaml")
    easy = [Puzzle(f"easy-{n}", "en", "T", "S", "A", difficulty="easy") for n in range(3)]
    bank = PuzzleBank([puzzle, *easy])
    rng = random.Random(2)
    assert bank.pick("en", rng=rng, difficulty="hard") == puzzle
    picked = {bank.pick("en", ["easy-0", "easy-1"], rng, difficulty="easy").id for _ in range(20)}
    assert picked == {"easy-2"}
    # The filter does not count puzzles of another difficulty as fresh: all easy ones played, the oldest comes back.
    assert bank.pick("en", ["easy-2", "easy-1", "easy-0", "lamp"], rng, difficulty="easy").id != "easy-2"


def test_pick_with_a_difficulty_nobody_has_says_so() -> None:
    bank = PuzzleBank(parse_pack(WITH_FACTS, "pack.yaml"))
    with pytest.raises(PuzzleError, match="no easy puzzles in language 'en' are loaded"):
        bank.pick("en", difficulty="easy")
    with pytest.raises(PuzzleError, match="unknown difficulty 'brutal'"):
        bank.pick("en", difficulty="brutal")
    with pytest.raises(PuzzleError, match="no puzzles in language 'zh' are loaded"):
        bank.pick("zh", difficulty="hard")


def alias_bomb(levels: int) -> str:
    """A pack whose `difficulty` holds "ten aliases of the level below", `levels` deep: 10**levels items."""
    rows = ['&l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    rows += [f"&l{level} [{', '.join([f'*l{level - 1}'] * 10)}]" for level in range(1, levels + 1)]
    return GOOD + f"    difficulty: [{', '.join(rows)}]\n"


def test_an_alias_bomb_pack_on_disk_is_refused_quickly_and_in_little_memory(tmp_path: Path) -> None:
    """Nine levels (under 1 kB) once formatted a billion items into an error message; here the process
    may use 600 MB in all, and the pack must be refused where the aliases grow past its budget, naming the line."""
    pack = tmp_path / "bomb.yaml"
    pack.write_text(alias_bomb(9), encoding="utf-8")
    assert len(pack.read_bytes()) < 1_000
    script = (
        "import resource, sys\n"
        "from bot.game.puzzles import PuzzleError, load_bank\n"
        "resource.setrlimit(resource.RLIMIT_AS, (600 * 2**20, 600 * 2**20))\n"
        "try:\n"
        f"    load_bank([{str(pack)!r}], include_builtin=False)\n"
        "except PuzzleError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{pack}: line 7: invalid YAML: aliases (*name) here expand the pack past")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "    difficulty: {level: hard}\n", "puzzle 'lamp': difficulty: expected text, got dict"),
        (GOOD + "    difficulty: [hard]\n", "puzzle 'lamp': difficulty: expected text, got list"),
        (GOOD + "    difficulty: 3\n", "puzzle 'lamp': difficulty: expected text, got int"),
        (GOOD + "    difficulty: " + "x" * 100_000 + "\n", "puzzle 'lamp': difficulty: unknown difficulty 'xxx"),
        (GOOD + "    ? " + "k" * 100_000 + "\n    : 1\n", "puzzle 'lamp': kkk"),
        ("? " + "k" * 100_000 + "\n: 1\n" + GOOD, "pack.yaml: unknown top-level key 'kkk"),
        (GOOD.replace("language: en", "language: " + "f" * 100_000), "puzzle 'lamp': language: unknown language 'fff"),
        (GOOD.replace("id: lamp", "id: " + "i" * 100_000), "pack.yaml: puzzle 'iii"),
    ],
)
def test_a_field_of_the_wrong_type_or_size_is_named_and_echoed_briefly(text: str, expected: str) -> None:
    message = error_of(text)
    assert expected in message
    assert all(len(line) < 400 for line in message.splitlines()), max(map(len, message.splitlines()))


def test_aliases_that_share_a_list_load_and_one_that_holds_itself_is_refused() -> None:
    shared = ["He hated the keeper.", "The dark lamp meant a wreck."]
    entries = [dict(yaml.safe_load(WITH_FACTS)["puzzles"][0], key_facts=shared, id=name) for name in ("a", "b")]
    text = yaml.safe_dump({"puzzles": entries})  # PyYAML writes the shared list once, then an alias to it
    assert "*id001" in text
    assert [puzzle.key_facts for puzzle in parse_pack(text, "pack.yaml")] == [tuple(shared)] * 2
    itself = GOOD + "    hints: &loop [a hint, *loop]\n"
    assert "pack.yaml: line 7: invalid YAML: an alias (*name) here holds the list or mapping it is in" in error_of(
        itself
    )


def test_an_exported_pack_holds_no_aliases_even_for_shared_values() -> None:
    shared = ["He hated the keeper.", "The dark lamp meant a wreck."]
    entries = [dict(yaml.safe_load(WITH_FACTS)["puzzles"][0], key_facts=shared, id=name) for name in ("a", "b")]
    text = dump_pack(entries)
    assert "&" not in text and "*" not in text
    assert [puzzle.key_facts for puzzle in parse_pack(text, "export.yaml")] == [tuple(shared)] * 2
