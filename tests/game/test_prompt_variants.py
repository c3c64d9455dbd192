"""Host prompt variants: the registry the config selects from, what each adds, and the key-facts line."""

from __future__ import annotations

import typing
from dataclasses import dataclass

import pytest

from bot.game.host import ModelHost
from bot.game.prompt_variants import VARIANTS, builder_for, parse_key_facts, prompt_builder
from bot.game.prompts import Turn, build_messages
from bot.game.puzzles import Puzzle
from common.config import ModelConfig

EN = Puzzle("p", "en", "Title", "A man asks for water and is glad to see a gun.", "He had hiccups.")
ZH = Puzzle("q", "zh", "标题", "一个男人要了一杯水，看到枪却很高兴。", "他在打嗝。")


@dataclass(frozen=True, slots=True)
class FactPuzzle(Puzzle):
    """A puzzle carrying key facts, as packs with `key_facts` load."""

    key_facts: tuple[str, ...] = ()


def test_the_config_offers_exactly_the_registered_variants() -> None:
    annotation = ModelConfig.model_fields["host_prompt"].annotation
    assert set(typing.get_args(annotation)) == set(VARIANTS)
    assert ModelConfig().host_prompt == "standard"
    with pytest.raises(ValueError, match=r"unknown host prompt variant 'louder'.*standard, few_shot, key_facts"):
        prompt_builder("louder")


def test_standard_is_the_host_prompt_unchanged() -> None:
    history = [Turn("Was he thirsty?", "No.")]
    assert prompt_builder("standard")(EN, history, "Was he ill?", 1000) == build_messages(
        EN, history, "Was he ill?", 1000
    )


@pytest.mark.parametrize("puzzle", [EN, ZH])
def test_few_shot_plays_a_marked_practice_round_before_the_real_conversation(puzzle: Puzzle) -> None:
    history = [Turn("Q1", "No.")]
    messages = prompt_builder("few_shot")(puzzle, history, "Was he ill?", 1000)
    plain = build_messages(puzzle, history, "Was he ill?", 1000)
    assert messages[0]["content"].startswith(plain[0]["content"]) and puzzle.answer in messages[0]["content"]
    practice = messages[1:-3]
    assert len(practice) == 12 and [m["role"] for m in practice[:2]] == ["user", "assistant"]
    assert all(m["content"].startswith(("[Practice]", "【练习】")) for m in practice if m["role"] == "user")
    assert messages[-3:] == plain[1:]  # the real history and question come last, unchanged
    # Each verdict is shown once at least, and the practice never names the real puzzle's answer.
    assert puzzle.answer not in "".join(m["content"] for m in practice)


def test_few_shot_takes_the_practice_out_of_the_history_budget() -> None:
    history = [Turn(f"Question {i} about the man?", "No.") for i in range(50)]
    standard = build_messages(EN, history, "Q?", 400)
    few_shot = prompt_builder("few_shot")(EN, history, "Q?", 400)
    assert len(few_shot) - 12 < len(standard)


def test_key_facts_lists_the_facts_and_asks_for_the_facts_line() -> None:
    puzzle = FactPuzzle("p", "en", "T", EN.story, EN.answer, key_facts=("He had hiccups.", "The fright cured them."))
    [system, _] = prompt_builder("key_facts")(puzzle, [], "Was he ill?", 1000)
    assert (
        "1. He had hiccups.\n2. The fright cured them." in system["content"] and "Key facts: 1, 3" in system["content"]
    )
    zh = FactPuzzle("q", "zh", "T", ZH.story, ZH.answer, key_facts=("他在打嗝。", "惊吓治好了打嗝。"))
    assert "要点：1、3" in prompt_builder("key_facts")(zh, [], "他病了吗？", 1000)[0]["content"]
    # A puzzle without key facts gets the standard prompt.
    assert prompt_builder("key_facts")(EN, [], "Q?", 1000) == build_messages(EN, [], "Q?", 1000)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Correct! He had hiccups.\nKey facts: 1, 2", (0, 1)),
        ("Yes.\n**Key facts:** 2", (1,)),
        ("No.\nKey facts: none", ()),
        ("是。\n要点：1、3", (0, 2)),
        ("否。\n要点：无", ()),
        ("Yes.\nKey facts: 1\nKey facts: 2", (1,)),  # the last line counts
        ("Yes.\nKey facts: 7, 1", (0,)),  # out of range: dropped
        ("Yes, it was.", None),
        ("Yes.\nKey facts: some of them", None),
    ],
)
def test_parse_key_facts(reply: str, expected: tuple[int, ...] | None) -> None:
    assert parse_key_facts(reply, 3) == expected


async def test_the_engine_uses_the_variant_its_host_config_names() -> None:
    host = ModelHost(ModelConfig(host_prompt="few_shot"))
    try:
        assert builder_for(host) is VARIANTS["few_shot"]
    finally:
        await host.close()
    assert builder_for(object()) is build_messages  # a stand-in host without a config: the standard prompt
