"""Prompt building: ChatGLM-6B rounds, system folding, trimming, stop strings."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from model_service.backends.prompt import (
    Message,
    PromptBuilder,
    chatglm_rounds,
    fit_messages,
    fold_system,
    plain_transcript,
)
from model_service.backends.stops import StopMatcher
from model_service.errors import InvalidRequest

SYSTEM = {"role": "system", "content": "汤面：男人死了。汤底：他是灯塔看守者。"}


def test_chatglm_single_question_carries_the_system_text() -> None:
    prompt = chatglm_rounds([SYSTEM, {"role": "user", "content": "他是自杀吗？"}])
    assert prompt == f"{SYSTEM['content']}\n\n他是自杀吗？"  # ChatGLM-6B sends a first question bare


def test_chatglm_rounds_put_the_system_text_into_round_0() -> None:
    messages = [
        SYSTEM,
        {"role": "user", "content": "他是自杀吗？"},
        {"role": "assistant", "content": "是。"},
        {"role": "user", "content": "和船有关吗？"},
        {"role": "assistant", "content": "是。"},
        {"role": "user", "content": "他关掉了灯？"},
    ]
    prompt = chatglm_rounds(messages)
    assert prompt == (
        f"[Round 0]\n问：{SYSTEM['content']}\n\n他是自杀吗？\n答：是。\n"
        "[Round 1]\n问：和船有关吗？\n答：是。\n"
        "[Round 2]\n问：他关掉了灯？\n答："
    )


def test_fold_system_without_a_user_turn_makes_one() -> None:
    assert fold_system([SYSTEM]) == [{"role": "user", "content": SYSTEM["content"]}]
    assert fold_system([{"role": "user", "content": "hi"}]) == [{"role": "user", "content": "hi"}]


def test_plain_transcript_keeps_the_system_line() -> None:
    text = plain_transcript([SYSTEM, {"role": "user", "content": "hi"}])
    assert text == f"system: {SYSTEM['content']}\nuser: hi\nassistant:"


def fake_encode(messages: Sequence[Message]) -> list[int]:
    return [0] * sum(len(m["content"]) for m in messages)


def test_fit_drops_oldest_turns_never_the_system_message() -> None:
    turns: list[Message] = []
    for index in range(5):
        turns += [{"role": "user", "content": f"q{index}" * 5}, {"role": "assistant", "content": "a" * 10}]
    messages = [SYSTEM, *turns, {"role": "user", "content": "last"}]
    budget = len(SYSTEM["content"]) + 50
    ids = fit_messages(messages, budget, fake_encode)
    assert len(ids) <= budget
    kept = len(ids) - len(SYSTEM["content"])
    assert kept == 20 + 20 + 4  # q3, a3, q4, a4 and "last": whole turns, oldest dropped first


def test_fit_never_opens_with_an_orphaned_answer() -> None:
    messages = [
        SYSTEM,
        {"role": "user", "content": "q" * 30},
        {"role": "assistant", "content": "a" * 30},
        {"role": "assistant", "content": "b" * 5},
        {"role": "user", "content": "last"},
    ]
    ids = fit_messages(messages, len(SYSTEM["content"]) + 20, fake_encode)
    assert len(ids) == len(SYSTEM["content"]) + 4


def test_fit_refuses_when_system_and_last_turn_alone_are_too_long() -> None:
    with pytest.raises(InvalidRequest, match="context"):
        fit_messages([SYSTEM, {"role": "user", "content": "x" * 100}], 50, fake_encode)


@pytest.mark.parametrize(
    ("pieces", "expected", "stopped"),
    [
        (["Hello", " wor", "ld"], "Hello world", False),
        (["Yes. ##", "# end"], "Yes. ", True),
        (["Yes #", "x"], "Yes #x", False),
        (["##", "#"], "", True),
        (["abc\n", "def"], "abc", True),
    ],
)
def test_stop_matcher_across_pieces(pieces: list[str], expected: str, stopped: bool) -> None:
    matcher = StopMatcher(["###", "\n"])
    out = []
    hit = False
    for piece in pieces:
        text, hit = matcher.feed(piece)
        out.append(text)
        if hit:
            break
    if not hit:
        out.append(matcher.flush())
    assert ("".join(out), hit) == (expected, stopped)


class FakeTokenizer:
    """Records what it was asked to tokenize: one id per character."""

    def __init__(self, chat_template: str | None = None) -> None:
        self.chat_template = chat_template
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        self.calls.append((text, add_special_tokens))
        return {"input_ids": [ord(c) for c in text]}


class ChatGLM6BLike:
    def stream_chat(self) -> None:  # ChatGLM-6B's remote code has it; its tokenizer has no chat template
        raise NotImplementedError


def test_builder_uses_chatglm_rounds_for_chatglm_6b_models() -> None:
    tokenizer = FakeTokenizer()
    builder = PromptBuilder(tokenizer, ChatGLM6BLike())
    messages = [SYSTEM, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    ids = builder.encode([*messages, {"role": "user", "content": "c"}])
    assert builder.style == "chatglm"
    text, special = tokenizer.calls[-1]
    assert text.startswith(f"[Round 0]\n问：{SYSTEM['content']}")
    assert special  # ChatGLM-6B's tokenizer must add its [gMASK] and <sop>
    assert "".join(map(chr, ids)) == text


def test_builder_falls_back_to_a_plain_transcript() -> None:
    builder = PromptBuilder(FakeTokenizer(), object())
    assert builder.style == "plain"
    assert builder.render([SYSTEM, {"role": "user", "content": "hi"}]).startswith("system: 汤面")
