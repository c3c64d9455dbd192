"""Host prompt variants: the registry the config selects from, and what each sends for puzzles with and without
key facts."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from bot.game.facts import parse_facts_line
from bot.game.host import ModelHost
from bot.game.prompt_variants import (
    PRACTICE_FACTS_INTRO,
    PRACTICE_INTRO,
    VARIANTS,
    builder_for,
    key_facts_told,
    prompt_builder,
)
from bot.game.prompts import Turn, build_messages
from bot.game.puzzles import Puzzle
from common.config import ModelConfig

EN = Puzzle(
    "p",
    "en",
    "Title",
    "A man asks for water and is glad to see a gun.",
    "He had hiccups.",
    key_facts=("He had hiccups.", "The fright cured them."),
)
ZH = Puzzle(
    "q",
    "zh",
    "标题",
    "一个男人要了一杯水，看到枪却很高兴。",
    "他在打嗝。",
    key_facts=("他在打嗝。", "惊吓治好了打嗝。"),
)
EN_BARE, ZH_BARE = (dataclasses.replace(puzzle, key_facts=()) for puzzle in (EN, ZH))


def test_the_config_offers_exactly_the_registered_variants() -> None:
    annotation = ModelConfig.model_fields["host_prompt"].annotation
    assert set(typing.get_args(annotation)) == set(VARIANTS) == {"standard", "few_shot", "plain"}
    assert ModelConfig().host_prompt == "standard"
    with pytest.raises(ValueError, match=r"unknown host prompt variant 'louder'.*standard, few_shot, plain"):
        prompt_builder("louder")
    with pytest.raises(ValueError, match="host_prompt"):
        ModelConfig(host_prompt="key_facts")  # the old variant is gone


@pytest.mark.parametrize("puzzle", [EN, EN_BARE])
def test_standard_is_the_host_prompt_unchanged(puzzle: Puzzle) -> None:
    history = [Turn("Was he thirsty?", "No.")]
    assert prompt_builder("standard")(puzzle, history, "Was he ill?", 1000) == build_messages(
        puzzle, history, "Was he ill?", 1000
    )


def test_standard_lists_the_key_facts_and_asks_for_the_bots_facts_line() -> None:
    [system, question] = prompt_builder("standard")(EN, [], "Was he ill?", 1000)
    assert "Key facts:\n1. He had hiccups.\n2. The fright cured them." in system["content"]
    assert "like [facts: 1, 3], or [facts: none]" in system["content"]
    assert question["content"].endswith("end with the [facts: ...] line.)")
    [zh_system, _] = prompt_builder("standard")(ZH, [], "他病了吗？", 1000)
    assert (
        "关键要点：\n1. 他在打嗝。\n2. 惊吓治好了打嗝。" in zh_system["content"]
        and "[要点：1、3]" in zh_system["content"]
    )
    assert key_facts_told("standard", EN) == EN.key_facts and key_facts_told("few_shot", ZH) == ZH.key_facts


@pytest.mark.parametrize(("puzzle", "bare"), [(EN, EN_BARE), (ZH, ZH_BARE)])
def test_plain_is_the_prompt_without_key_facts(puzzle: Puzzle, bare: Puzzle) -> None:
    history = [Turn("Q1", "No.")]
    messages = prompt_builder("plain")(puzzle, history, "Was he ill?", 1000)
    assert messages == build_messages(bare, history, "Was he ill?", 1000)
    assert messages != build_messages(puzzle, history, "Was he ill?", 1000)
    assert not any(fact in messages[0]["content"] for fact in puzzle.key_facts if fact != puzzle.answer)
    assert "[facts" not in messages[0]["content"] and "[要点" not in messages[0]["content"]
    assert messages[-1]["content"].endswith(("(Reply starting with Yes, No, Irrelevant or Correct.)", "开头回答。）"))
    assert key_facts_told("plain", puzzle) == ()


@pytest.mark.parametrize("puzzle", [EN, ZH, EN_BARE, ZH_BARE])
def test_few_shot_plays_a_marked_practice_round_before_the_real_conversation(puzzle: Puzzle) -> None:
    history = [Turn("Q1", "No.")]
    messages = prompt_builder("few_shot")(puzzle, history, "Was he ill?", 1000)
    standard = build_messages(puzzle, history, "Was he ill?", 1000)
    assert messages[0]["content"].startswith(standard[0]["content"]) and puzzle.answer in messages[0]["content"]
    practice = messages[1:-3]
    assert len(practice) == 12 and [m["role"] for m in practice[:2]] == ["user", "assistant"]
    assert all(m["content"].startswith(("[Practice]", "【练习】")) for m in practice if m["role"] == "user")
    assert messages[-3:] == standard[1:]  # the real history and question come last, unchanged
    # The practice never names the real puzzle's answer.
    assert puzzle.answer not in "".join(m["content"] for m in practice)


@pytest.mark.parametrize(("puzzle", "none"), [(EN, "[facts: none]"), (ZH, "[要点：无]")])
def test_few_shot_practice_replies_end_with_the_facts_line_the_prompt_asks_for(puzzle: Puzzle, none: str) -> None:
    messages = prompt_builder("few_shot")(puzzle, [], "Was he ill?", 1000)
    replies = [m["content"] for m in messages[1:-1] if m["role"] == "assistant"]
    named = [parse_facts_line(reply, 2) for reply in replies]  # read as the bot reads the real replies
    assert named == [frozenset(), frozenset(), {1}, frozenset(), {0, 1}, frozenset()]
    assert replies[0].endswith(none) and replies[4].split("\n")[0] in ("Correct! That is it.", "正确！就是这样。")
    assert messages[0]["content"].endswith(PRACTICE_INTRO[puzzle.language] + PRACTICE_FACTS_INTRO[puzzle.language])


@pytest.mark.parametrize("puzzle", [EN_BARE, ZH_BARE])
def test_few_shot_without_key_facts_shows_no_facts_lines(puzzle: Puzzle) -> None:
    messages = prompt_builder("few_shot")(puzzle, [], "Was he ill?", 1000)
    assert all(parse_facts_line(m["content"], 2) is None for m in messages[1:])
    assert messages[0]["content"].endswith(PRACTICE_INTRO[puzzle.language])


def test_few_shot_takes_the_practice_out_of_the_history_budget() -> None:
    history = [Turn(f"Question {i} about the man?", "No.") for i in range(50)]
    standard = build_messages(EN, history, "Q?", 400)
    few_shot = prompt_builder("few_shot")(EN, history, "Q?", 400)
    assert len(few_shot) - 12 < len(standard)


async def test_the_engine_uses_the_variant_its_host_config_names() -> None:
    host = ModelHost(ModelConfig(host_prompt="few_shot"))
    try:
        assert builder_for(host) is VARIANTS["few_shot"]
    finally:
        await host.close()
    assert builder_for(object()) is build_messages  # a stand-in host without a config: the standard prompt
