"""Thinking removal: every inline shape, in English and Chinese, however the stream is cut into chunks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.game.thinking import InlineThinking, ThoughtFilter, strip_thinking

# Thoughts that say the hidden answer out loud, and the verdicts that follow them.
THOUGHT = {
    "en": "The answer is that the man had hiccups, so the gun was a cure; rain is not part of it.",
    "zh": "汤底是那个人打嗝，枪是为了吓他治好打嗝；下雨与此无关。",
}
SECRET = {"en": ("hiccups", "cure", "gun"), "zh": ("打嗝", "吓他", "枪")}
ANSWER = {"en": "Irrelevant. Think about why he wanted a drink.", "zh": "无关。想想他为什么要喝水。"}


def shapes(language: str) -> dict[str, str]:
    """Each inline shape of a reply: the thought, then the answer."""
    thought, answer = THOUGHT[language], ANSWER[language]
    return {
        "think": f"<think>\n{thought}\n</think>\n\n{answer}",
        "think_leading_space": f"  \n<think>{thought}</think>{answer}",
        "think_upper": f"<THINK>{thought}</THINK>\n{answer}",
        "thinking": f"<thinking>{thought}</thinking>\n{answer}",
        "kimi": f"◁think▷{thought}◁/think▷{answer}",
        "mid_thought": f"{thought}\n</think>\n\n{answer}",  # the template put <think> into the prompt
        "two_blocks": f"<think>{thought}</think>\n<think>{thought}</think>\n{answer}",
        "empty_block": f"<think>\n\n</think>\n\n{answer}",  # Qwen3 with thinking turned off
    }


CASES = [(language, name, text) for language in ("en", "zh") for name, text in shapes(language).items()]


def stream(chunks: list[str]) -> tuple[str, list[str], InlineThinking]:
    """Feed chunks; the visible text, each piece as it was released, and the extractor."""
    extractor = InlineThinking()
    pieces = [extractor.feed(chunk).visible for chunk in chunks]
    pieces.append(extractor.finish().visible)
    return "".join(pieces), pieces, extractor


def assert_no_secret(text: str, language: str) -> None:
    for word in SECRET[language]:
        assert word not in text


@pytest.mark.parametrize(("language", "name", "text"), CASES, ids=[f"{lang}-{name}" for lang, name, _ in CASES])
def test_every_shape_split_at_every_position_shows_only_the_answer(language: str, name: str, text: str) -> None:
    for cut in range(len(text) + 1):
        visible, _, extractor = stream([text[:cut], text[cut:]])
        assert visible == ANSWER[language], (name, cut)
        assert not extractor.cut_off
    assert strip_thinking(text) == ANSWER[language]


@pytest.mark.parametrize(("language", "name", "text"), CASES, ids=[f"{lang}-{name}" for lang, name, _ in CASES])
def test_character_by_character_the_answer_streams_before_the_reply_ends(language: str, name: str, text: str) -> None:
    visible, pieces, _ = stream(list(text))
    assert visible == ANSWER[language]
    assert pieces[-1] == ""  # the answer was released as it came, not only at the end
    assert_no_secret("".join(pieces), language)


@settings(max_examples=300, deadline=None)
@given(
    case=st.sampled_from(CASES),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_chunking_gives_the_same_answer(case: tuple[str, str, str], cuts: list[int]) -> None:
    language, _, text = case
    points = sorted({min(cut, len(text)) for cut in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    visible, _, _ = stream(chunks)
    assert visible == ANSWER[language]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_block_cut_off_before_it_closes_is_all_thought(language: str) -> None:
    text = f"<think>{THOUGHT[language]}"
    for cut in range(len(text) + 1):
        visible, _, extractor = stream([text[:cut], text[cut:]])
        assert visible == ""
        assert extractor.cut_off
        assert extractor.thought == len(text)


@pytest.mark.parametrize(
    "reply",
    [
        "Yes. He was thirsty.",
        "**No**, not at all.",
        "是。他很渴。",
        "无关。",
        '{"verdict": "yes"}',
        "The host writes a hint without any label.",
        "Nobody saw him: irrelevant.",  # "No" at the start, but not the label
    ],
)
def test_replies_without_thinking_are_unchanged(reply: str) -> None:
    for cut in range(len(reply) + 1):
        visible, _, extractor = stream([reply[:cut], reply[cut:]])
        assert visible == reply
        assert extractor.thought == 0


def test_a_verdict_label_is_released_at_once_but_an_unlabelled_opening_is_held() -> None:
    labelled = InlineThinking()
    assert labelled.feed("No").visible == ""  # may still be "Nobody"
    assert labelled.feed(", he").visible == "No, he"
    unlabelled = InlineThinking()
    assert unlabelled.feed("Okay, the user asks whether it rained").visible == ""  # may be a thought
    assert unlabelled.finish().visible == "Okay, the user asks whether it rained"  # no closing tag came


def test_tags_after_the_opening_are_the_answers_own_text() -> None:
    reply = "Yes. He typed <think> in his notes."
    assert strip_thinking(reply) == reply


def test_a_long_mid_thought_is_searched_once_per_character() -> None:
    """A thought of many chunks with no closing tag yet is not rescanned from the start each time."""
    extractor = InlineThinking()
    for _ in range(20_000):
        assert extractor.feed("hmm, maybe the answer ").visible == ""
    assert extractor.feed("is this.</think>Yes.").visible == "Yes."


def test_the_filter_measures_reasoning_fields_and_never_returns_them() -> None:
    reader = ThoughtFilter()
    parts = [
        {"role": "assistant", "content": ""},
        {"reasoning_content": THOUGHT["en"]},
        {"reasoning": THOUGHT["zh"], "content": None},
        {"thinking": "more"},
        {"content": "Yes."},
    ]
    visible = "".join(reader.read(part).visible for part in parts) + reader.finish().visible
    assert visible == "Yes."
    assert reader.thought == len(THOUGHT["en"]) + len(THOUGHT["zh"]) + len("more")
    assert not reader.unanswered


@pytest.mark.parametrize(
    "parts",
    [
        [{"reasoning_content": "thinking"}, {"content": ""}],  # the budget ran out mid-thought
        [{"content": "<think>still thinking"}],
        [{"content": "<think>done</think>\n\n"}],
    ],
)
def test_a_thought_with_nothing_after_it_is_unanswered(parts: list[dict[str, str]]) -> None:
    reader = ThoughtFilter()
    visible = "".join(reader.read(part).visible for part in parts) + reader.finish().visible
    assert visible.strip() == ""
    assert reader.unanswered


def test_once_a_model_starts_mid_thought_a_thought_that_opens_like_a_verdict_is_held() -> None:
    reply = "No, wait: the hiccups explain the gun.\n</think>\n\nYes. Think about it."
    first = InlineThinking()
    # An unknown model: an opening that reads as a verdict is shown at once (the leak guard is the backstop).
    assert first.feed(reply[:9]).visible == "No, wait:"
    learned = InlineThinking(starts_mid_thought=True)
    visible = "".join(learned.feed(piece).visible for piece in reply) + learned.finish().visible
    assert visible == "Yes. Think about it."
    assert learned.began_mid_thought
    plain = InlineThinking(starts_mid_thought=True)
    assert plain.feed("Yes. He was thirsty.").visible == ""  # held: it may yet be thought
    assert plain.finish().visible == "Yes. He was thirsty."  # no closing tag came: all of it is the answer


def test_a_long_opening_with_no_tag_is_reported_as_likely_thought() -> None:
    extractor = InlineThinking()
    extractor.feed("Okay, the user")
    assert extractor.likely_thought == 0  # short: may still be an answer
    extractor.feed(" asks whether it rained; " * 10)
    assert extractor.likely_thought > 100
    assert extractor.feed("</think>No.").visible == "No."
    assert extractor.likely_thought == 0 and extractor.thought > 100
