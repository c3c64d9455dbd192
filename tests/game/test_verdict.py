"""Reading the host's verdict label from the opening of a reply, in English and Chinese."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.game.verdict import LABELS, Verdict, label, parse_verdict, split_verdict

YES, NO, IRRELEVANT, CORRECT, UNCLEAR = (
    Verdict.YES,
    Verdict.NO,
    Verdict.IRRELEVANT,
    Verdict.CORRECT,
    Verdict.UNCLEAR,
)

ENGLISH = [
    ("Yes.", YES),
    ("yes", YES),
    ("YES!!!", YES),
    ("Yes!", YES),
    ("Yes, he was at home.", YES),
    ("Yes it is", YES),
    ("Yeah", YES),
    ("Yep, exactly.", YES),
    ("**Yes** — he was thirsty.", YES),
    ("__Yes__", YES),
    ("*yes*", YES),
    ("> Yes", YES),
    ("# Yes", YES),
    ("`Yes`", YES),
    ('"Yes."', YES),
    ("  \n\n  Yes.", YES),
    ("Verdict: Yes", YES),
    ("**Answer:** yes", YES),
    ("✅ Yes", YES),
    ("Ｙｅｓ。", YES),
    ("That's right.", YES),
    ("Yes and no one saw him.", YES),
    ("Yes, but not the way you think.", YES),
    ("It was.", YES),
    ("Absolutely!", YES),
    ("Of course.", YES),
    ("No.", NO),
    ("no", NO),
    ("**No**", NO),
    ("❌ No", NO),
    ("Nope.", NO),
    ("Not really.", NO),
    ("Not quite.", NO),
    ("No, that is not relevant.", NO),
    ("Incorrect.", NO),
    ("Not correct.", NO),
    ("That's not correct.", NO),
    ("That’s incorrect.", NO),
    ("Wrong.", NO),
    ("It wasn't.", NO),
    ("Absolutely not.", NO),
    ("Of course not!", NO),
    ("Irrelevant.", IRRELEVANT),
    ("**Irrelevant**", IRRELEVANT),
    ("Not relevant.", IRRELEVANT),
    ("That's irrelevant.", IRRELEVANT),
    ("It isn't relevant.", IRRELEVANT),
    ("Doesn't matter.", IRRELEVANT),
    ("It does not matter.", IRRELEVANT),
    ("Unimportant.", IRRELEVANT),
    ("N/A", IRRELEVANT),
    ("No relevance.", IRRELEVANT),
    ("Correct!", CORRECT),
    ("Correct, he had hiccups.", CORRECT),
    ("That's correct.", CORRECT),
    ("That’s correct!", CORRECT),
    ("You got it!", CORRECT),
    ("Congratulations, you solved it!", CORRECT),
    ("✅ Correct", CORRECT),
    ("Yes and no.", UNCLEAR),
    ("Yes and no — it depends.", UNCLEAR),
    ("Yesterday he went home.", UNCLEAR),
    ("Nothing happened.", UNCLEAR),
    ("Is it the wife?", UNCLEAR),
    ("Notably, the man ...", UNCLEAR),
    ("Partially.", UNCLEAR),
    ("The correct answer is...", UNCLEAR),
    ("", UNCLEAR),
    ("✅", UNCLEAR),
]

CHINESE = [
    ("是", YES),
    ("是。", YES),
    ("是的，他在家。", YES),
    ("【是】", YES),
    ("**是**", YES),
    ("答：是", YES),
    ("回答：是的", YES),
    ("对", YES),
    ("对的。", YES),
    ("没错，他很口渴。", YES),
    ("嗯。", YES),
    ("确实如此。", YES),
    ("当然。", YES),
    ("否", NO),
    ("否！", NO),
    ("「否」", NO),
    ("不是。", NO),
    ("不是，他没有生病。", NO),
    ("不对。", NO),
    ("不。", NO),
    ("没有。", NO),
    ("不正确。", NO),
    ("并不是。", NO),
    ("当然不是。", NO),
    ("否，和天气无关。", NO),
    ("回答：否", NO),
    ("无关", IRRELEVANT),
    ("「无关」", IRRELEVANT),
    ("无关。请关注他的过去。", IRRELEVANT),
    ("与此无关。", IRRELEVANT),
    ("和天气无关。", IRRELEVANT),
    ("不重要。", IRRELEVANT),
    ("这不重要。", IRRELEVANT),
    ("不相关。", IRRELEVANT),
    ("没关系。", IRRELEVANT),
    ("正确", CORRECT),
    ("正确！", CORRECT),
    ("回答正确！", CORRECT),
    ("完全正确。", CORRECT),
    ("恭喜你，猜中了！", CORRECT),
    ("答对了！", CORRECT),
    ("🎉 正确", CORRECT),
    ("是也不是。", UNCLEAR),
    ("是，也不是。", UNCLEAR),
    ("是否与他有关？", UNCLEAR),
    ("不完全正确。", UNCLEAR),
    ("不一定。", UNCLEAR),
    ("不过……", UNCLEAR),
    ("对方是谁？", UNCLEAR),
    ("否则他会死。", UNCLEAR),
    ("正确答案是……", UNCLEAR),
    ("他是自愿的。", UNCLEAR),
]


def test_tables_are_big_enough() -> None:
    assert len(ENGLISH) >= 25 and len(CHINESE) >= 25


@pytest.mark.parametrize(("text", "expected"), ENGLISH + CHINESE)
def test_real_world_phrasings(text: str, expected: Verdict) -> None:
    assert parse_verdict(text) is expected


@pytest.mark.parametrize(
    ("text", "verdict", "rest"),
    [
        ("Yes — he was thirsty.", YES, "he was thirsty."),
        ("**No**, not at all.", NO, "not at all."),
        ("Verdict: **Irrelevant**. Think about the water.", IRRELEVANT, "Think about the water."),
        ("Correct! He had hiccups.", CORRECT, "He had hiccups."),
        ("Yes.", YES, ""),
        ("是。他以前喝过。", YES, "他以前喝过。"),
        ("【否】和天气无关。", NO, "和天气无关。"),
        ("回答正确！你猜对了。", CORRECT, "你猜对了。"),
        ("Ｙｅｓ，he was.", YES, "he was."),
        ("  Is it the wife?  ", UNCLEAR, "Is it the wife?"),
        ("Yes and no.", UNCLEAR, "Yes and no."),
    ],
)
def test_split_verdict_separates_label_and_explanation(text: str, verdict: Verdict, rest: str) -> None:
    assert split_verdict(text) == (verdict, rest)


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_label_reads_back_as_its_verdict(language: str, verdict: Verdict) -> None:
    assert parse_verdict(label(verdict, language)) is verdict


def test_label_languages() -> None:
    assert label(Verdict.YES, "en") == "Yes"
    assert label(Verdict.IRRELEVANT, "zh") == "无关"
    assert label(Verdict.CORRECT, "zh-CN") == "正确"
    assert label(Verdict.NO, "fr") == "No"  # unknown languages fall back to English
    assert set(LABELS) == {"en", "zh"} and all(set(labels) == set(Verdict) for labels in LABELS.values())


@given(st.text())
def test_parse_never_raises(text: str) -> None:
    assert parse_verdict(text) in Verdict
    verdict, rest = split_verdict(text)
    assert verdict in Verdict and isinstance(rest, str)


DEFINITE = [(text, verdict) for labels in LABELS.values() for verdict, text in labels.items() if verdict is not UNCLEAR]
# Punctuation that closes the label: nothing after it can change what the label said.
STRONG_STOPS = [".", "!", "?", ";", ":", "。", "！", "？", "；", "：", "…", "—", " - ", "\n\n", ")", "】", "」", "**"]
# A comma or a space may run on into "and no", "也不是", "relevance"; explanations are drawn from safe text.
WEAK_STOPS = [",", "，", "、", " ", "\n"]
EXPLANATIONS = [
    "he was at home",
    "the bartender helped him",
    "think about the water",
    "it happened at night",
    "这和天气有关",
    "他是自愿的",
    "请想想他的过去",
    "她当时在家",
]
CASINGS: list[Callable[[str], str]] = [str, str.lower, str.upper, str.title]


@given(st.sampled_from(DEFINITE), st.sampled_from(CASINGS), st.sampled_from(STRONG_STOPS), st.text(max_size=60))
def test_label_then_punctuation_keeps_its_verdict(
    pair: tuple[str, Verdict], casing: Callable[[str], str], stop: str, rest: str
) -> None:
    text, verdict = pair
    assert parse_verdict(casing(text) + stop + rest) is verdict


@given(
    st.sampled_from(DEFINITE),
    st.sampled_from(CASINGS),
    st.sampled_from(WEAK_STOPS),
    st.sampled_from(EXPLANATIONS),
    st.text(max_size=40),
)
def test_label_then_comma_and_explanation_keeps_its_verdict(
    pair: tuple[str, Verdict], casing: Callable[[str], str], stop: str, explanation: str, tail: str
) -> None:
    text, verdict = pair
    assert parse_verdict(casing(text) + stop + explanation + tail) is verdict


AMBIGUOUS_START = re.compile(r"[\s,，、]*(?:and|or|but|&|/|也|又|但|却)", re.IGNORECASE)


@given(st.sampled_from(DEFINITE), st.sampled_from([", ", "，", " "]), st.text(max_size=40))
def test_label_then_anything_but_a_second_opinion(pair: tuple[str, Verdict], stop: str, rest: str) -> None:
    # Arbitrary text after a comma keeps the verdict unless it starts "and no" / "也不是" or turns the label into
    # a longer phrase ("No relevance", "No one"...): the part of the input space this test leaves out.
    text, verdict = pair
    assume(not AMBIGUOUS_START.match(rest))
    assume(not rest[:1].isalnum() and not rest.startswith(("_", "'", "/")))
    assert parse_verdict(text + stop + rest) is verdict


LEADING = st.text(alphabet=" \n\t*_>#`~\"'「【(", max_size=6)
TRAILING = st.text(alphabet=" *_`~\"'」】)", max_size=6)


@given(st.sampled_from(ENGLISH + CHINESE), LEADING, TRAILING)
def test_whitespace_and_markdown_around_the_opening_do_not_matter(
    case: tuple[str, Verdict], leading: str, trailing: str
) -> None:
    text, expected = case
    assert parse_verdict(leading + text + trailing) is expected
