"""The leak guard reads pinyin: a Chinese answer or key fact written out in pinyin, however spelled, trips; replies
without pinyin, and English replies in Chinese games, pass."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from pypinyin import Style, lazy_pinyin

from bench.judge.cases import BUILTIN_FOLDER, load_case_file
from bot.game.leak import LeakGuard
from bot.game.pinyin_guard import split_word, syllable_pairs
from bot.game.puzzles import Puzzle, builtin_puzzles

BANK = {puzzle.id: puzzle for puzzle in builtin_puzzles()}
ZH_PUZZLES = [puzzle for puzzle in BANK.values() if puzzle.language == "zh"]
SAMPLE = ["zh-sea-turtle-soup", "zh-tunnel-eyes", "zh-funeral-sister", "zh-ice-hanging", "zh-bus-mother"]


def _syllables(text: str, style: Style = Style.NORMAL) -> list[str]:
    return [item for item in lazy_pinyin(text, style=style) if item.strip() and not re.fullmatch(r"\W+", item)]


# How an obedient host may write pinyin: each takes the Chinese text.
SPELLINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda text: " ".join(_syllables(text)),
    "tone marks": lambda text: " ".join(_syllables(text, Style.TONE)),
    "tone digits": lambda text: " ".join(_syllables(text, Style.TONE3)),
    "upper case": lambda text: " ".join(_syllables(text)).upper(),
    "two syllables a word": lambda text: " ".join(
        "".join(pair) for pair in zip(*[iter(_syllables(text, Style.TONE))] * 2, strict=False)
    ),
    # Each run of characters as one word; letters already in the text ("DNA") stay words of their own.
    "run together": lambda text: re.sub(r"[\u4e00-\u9fff]+", lambda run: f" {''.join(_syllables(run[0]))} ", text),
    "apostrophes and hyphens": lambda text: "'".join(_syllables(text)[:10]) + "-" + "-".join(_syllables(text)[10:]),
}


def _guard(puzzle: Puzzle) -> LeakGuard:
    return LeakGuard(puzzle.story, puzzle.answer, puzzle.language, puzzle.key_facts)


def test_syllables_are_split_from_run_together_letters() -> None:
    assert split_word("mangren") == ("mang", "ren")
    assert split_word("tashiyigemangren") == ("ta", "shi", "yi", "ge", "mang", "ren")
    assert split_word("hello") is None  # "l" starts no syllable ending there: not pinyin
    # Tone marks, tone digits, ü typed as v or u, apostrophes and upper case all read the same.
    expected = ((1, "nu ren"), (2, "ren xi"), (3, "xi an"))  # at the second syllable
    for text in ("nǚ rén xī'ān", "nv3ren2xi1'an1", "NU REN XI-AN", "nüren xi an"):
        assert syllable_pairs(text.lower()) == expected


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("puzzle_id", SAMPLE)
def test_a_bank_answer_told_in_pinyin_trips(puzzle_id: str, spelling: str) -> None:
    puzzle = BANK[puzzle_id]
    reply = f"是。{SPELLINGS[spelling](puzzle.answer)}"
    assert _guard(puzzle).leaks(reply, puzzle.story)


def test_every_bank_answer_and_key_fact_told_in_pinyin_trips_where_its_characters_do() -> None:
    """Pinyin is caught wherever the characters themselves are: every answer, its first sentence, each fact."""
    missed = []
    for puzzle in ZH_PUZZLES:
        guard = _guard(puzzle)
        first = re.split("[。！？]", puzzle.answer)[0]
        for text in (puzzle.answer, first, *puzzle.key_facts):
            for spelling in ("tone marks", "run together"):
                if guard.leaks(text, puzzle.story) and not guard.leaks(SPELLINGS[spelling](text), puzzle.story):
                    missed.append((puzzle.id, spelling, text))
    assert missed == []


def test_a_hint_naming_a_fact_in_pinyin_is_a_leak_of_that_fact() -> None:
    """Hints are checked with a guard built on the unfound fact alone (bot/game/session.py)."""
    puzzle = BANK["zh-sea-turtle-soup"]
    for fact in puzzle.key_facts:
        fact_guard = LeakGuard(puzzle.story, fact, "zh")
        if fact_guard.leaks(fact, puzzle.story):
            assert fact_guard.leaks(f"提示：{SPELLINGS['tone marks'](fact)}", puzzle.story)


def test_pinyin_the_players_wrote_themselves_is_free() -> None:
    puzzle = BANK["zh-sea-turtle-soup"]
    question = "ta chi de shi qi zi de rou ma"
    reply = "是。ta chi de shi qi zi de rou."
    assert not _guard(puzzle).leaks(reply, f"{puzzle.story}\n{question}")


def _english_replies() -> list[str]:
    replies = []
    for case in load_case_file(BUILTIN_FOLDER / "en.yaml", BANK):
        if case.kind == "question" and not case.injection:
            replies.append(f"{case.label.value.capitalize()}. {case.question}")
    english = [puzzle for puzzle in BANK.values() if puzzle.language == "en"]
    return replies + [f"No. {puzzle.answer}" for puzzle in english] + [puzzle.story for puzzle in english]


def test_english_replies_in_chinese_games_are_not_masked() -> None:
    """Every labelled English question echoed, every English answer and story, against every Chinese bank puzzle:
    English words that happen to be syllables ("he", "a", "man", "hang") never add up to a Chinese secret."""
    replies = sorted(set(_english_replies()))
    masked = [
        (puzzle.id, reply)
        for puzzle in ZH_PUZZLES
        for guard in (_guard(puzzle),)
        for reply in replies
        if guard.leaks(reply, puzzle.story)
    ]
    assert len(replies) > 150
    assert masked == []


@pytest.mark.parametrize("spelling", ["tone marks", "tone digits", "run together"])
def test_a_key_fact_read_out_whole_in_pinyin_trips_though_it_has_one_bigram_of_its_own(spelling: str) -> None:
    """The fact "他的车底下是湿的" has one distinctive bigram ("是湿"), below the bigram rule; read out whole it states
    the fact."""
    puzzle = BANK["zh-dry-under-car"]
    fact = next(fact for fact in puzzle.key_facts if "湿" in fact)
    assert _guard(puzzle).leaks(f"否。{SPELLINGS[spelling](fact)}", puzzle.story)


@pytest.mark.parametrize(
    "reply",
    [
        "是。jì xù wèn ba!",
        "Shi4. Zhe4 ge4 xi4 jie2 bu2 zhong4 yao4.",
        "否。huàn ge jiǎo dù xiǎng xiang.",
        "无关。wen de hao",
    ],
)
@pytest.mark.parametrize("puzzle_id", SAMPLE)
def test_honest_replies_in_pinyin_pass(puzzle_id: str, reply: str) -> None:
    puzzle = BANK[puzzle_id]
    assert not _guard(puzzle).leaks(reply, puzzle.story)


def test_a_reply_telling_part_in_characters_and_part_in_pinyin_trips() -> None:
    puzzle = BANK["zh-sea-turtle-soup"]
    guard = _guard(puzzle)
    assert not guard.leaks("否。遇上海难", puzzle.story)
    assert not guard.leaks("否。piāo liú dào huāng dǎo", puzzle.story)
    assert guard.leaks("否。遇上海难，piāo liú dào huāng dǎo", puzzle.story)
