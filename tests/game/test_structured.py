"""Structured verdicts: the streamed JSON reply decoded into the text protocol, split anywhere."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.game.facts import parse_facts_line, strip_facts_line
from bot.game.structured import (
    FormatLadder,
    StructuredReply,
    VerdictForm,
    canonical_text,
    response_format,
    shape_request,
    verdict_schema,
    with_format_note,
)
from bot.game.verdict import Verdict, parse_verdict

EN3 = VerdictForm("en", 3)
ZH3 = VerdictForm("zh", 3)


def decode(text: str, form: VerdictForm, cuts: list[int] | None = None) -> str:
    """The whole reply fed in pieces cut at `cuts`, as the stream would deliver it."""
    reply = StructuredReply(form)
    bounds = [0, *(cuts or []), len(text)]
    out = "".join(reply.feed(text[start:end]) for start, end in itertools.pairwise(bounds))
    return out + reply.finish()


def every_split(text: str, form: VerdictForm) -> set[str]:
    """What the decoder makes of `text` cut once at every character, and cut between every character."""
    results = {decode(text, form, [cut]) for cut in range(len(text) + 1)}
    results.add(decode(text, form, list(range(1, len(text)))))
    return results


@pytest.mark.parametrize(
    ("reply", "form", "expected"),
    [
        ('{"verdict": "yes", "comment": "He was alone.", "facts": [1, 3]}', EN3, "Yes. He was alone.\n[facts: 1, 3]"),
        ('{"verdict":"no","comment":"他不是一个人。","facts":[]}', ZH3, "否。他不是一个人。\n[要点：无]"),
        ('{"verdict":"irrelevant","comment":"","facts":[2]}', EN3, "Irrelevant.\n[facts: 2]"),
        ('{"verdict":"correct","comment":"对了！","facts":[1,2,3]}', ZH3, "正确。对了！\n[要点：1、2、3]"),
        # The plain prompt asks for no facts line: a facts field is not turned into one.
        ('{"verdict":"no","comment":"Not at all.","facts":[1]}', VerdictForm("en", 0), "No. Not at all."),
        # Whitespace and newlines anywhere JSON allows them.
        ('\n  {\n  "verdict" :\n "yes" ,\n "comment" : "  Yes indeed" ,"facts" : [ 2 ]\n}\n', EN3,
         "Yes. Yes indeed\n[facts: 2]"),
    ],
)  # fmt: skip
def test_replies_read_as_the_text_protocol_however_split(reply: str, form: VerdictForm, expected: str) -> None:
    assert every_split(reply, form) == {expected}


def test_escapes_and_unicode_split_inside_the_escape() -> None:
    reply = r'{"verdict":"no","comment":"Say \"hi\"\t\\ \/ caf\u00e9 \ud83d\ude00 line\nnext","facts":[]}'
    assert every_split(reply, EN3) == {'No. Say "hi"\t\\ / café 😀 line next\n[facts: none]'}


def test_raw_unicode_and_chinese_split_at_every_character() -> None:
    reply = json.dumps(
        {"verdict": "yes", "comment": "他在船上吃了海龟汤🐢，然后哭了。", "facts": [3, 1]}, ensure_ascii=False
    )
    assert every_split(reply, ZH3) == {"是。他在船上吃了海龟汤🐢，然后哭了。\n[要点：3、1]"}
    escaped = json.dumps({"verdict": "yes", "comment": "他在船上🐢", "facts": [3]})  # \uXXXX and surrogate pairs
    assert every_split(escaped, ZH3) == {"是。他在船上🐢\n[要点：3]"}


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    assert decode(r'{"verdict":"no","comment":"a\ud83db\udc00c"}', EN3) == "No. a\ufffdb\ufffdc"


def test_the_verdict_shows_as_soon_as_its_field_closes() -> None:
    reply = StructuredReply(EN3)
    assert reply.feed('{"verdict": "ye') == ""
    assert reply.feed("s") == ""
    assert reply.feed('"') == "Yes."  # before any comma, before the comment
    assert reply.feed(', "comment": "He w') == " He w"
    assert reply.feed('as."') == "as."
    assert reply.feed(', "facts": [1') == ""
    assert reply.feed("]}") == "\n[facts: 1]"
    assert reply.finish() == ""


def test_a_comment_written_before_the_verdict_waits_for_it() -> None:
    assert every_split('{"comment":"Think again.","verdict":"no"}', EN3) == {"No. Think again."}
    assert decode('{"facts":[2],"comment":"Close.","verdict":"no"}', EN3) == "No. Close.\n[facts: 2]"


def test_a_reply_cut_off_keeps_what_was_complete() -> None:
    assert decode('{"verdict":"yes","comment":"He wa', EN3) == "Yes. He wa"
    assert decode('{"verdict":"ye', EN3) == ""
    assert decode('{"verdict":"no","comment":"x","facts":[1,', EN3) == "No. x"  # no facts line: the host forgot it
    assert decode('{"comment":"only a comment', EN3) == "only a comment"


def test_values_a_free_model_may_write() -> None:
    assert decode('{"verdict":"Yes."}', EN3) == "Yes."
    assert decode('{"verdict":"是"}', EN3) == "Yes."  # a label of the other language, shown in the game's
    assert decode('{"verdict":"maybe","comment":"Hm."}', EN3) == "maybe. Hm."  # parse_verdict reads it: unclear
    assert decode('{"verdict":"no","facts":["2", 2.0, true, 3, "x", null]}', EN3) == "No.\n[facts: 2, 3]"
    nested = '{"extra":{"a":[1,"}]\\""]},"n":-1.5e3,"ok":true,"verdict":"correct","facts":[1,2]}'
    assert every_split(nested, EN3) == {"Correct.\n[facts: 1, 2]"}


def test_text_after_the_object_is_ignored() -> None:
    assert decode('{"verdict":"no","comment":"x","facts":[]} {"verdict":"yes"} Yes!', EN3) == "No. x\n[facts: none]"


@pytest.mark.parametrize(
    "reply",
    ["Yes. He was alone.\n[facts: 1]", "  No.", "是。", "`Yes`", "Irrelevant {not json}", "{", ""],
)
def test_prose_passes_through_unchanged(reply: str) -> None:
    # A server that ignored response_format answers in the text protocol; "{" alone is an empty JSON reply.
    expected = "" if reply == "{" else reply
    assert every_split(reply, EN3) == {expected}


def test_markdown_fences_around_the_object_are_read_through() -> None:
    fenced = '```json\n{"verdict":"yes","comment":"Yes, at sea.","facts":[2]}\n```'
    assert every_split(fenced, EN3) == {"Yes. Yes, at sea.\n[facts: 2]"}
    assert decode("```\nYes. Plain.", EN3) == "```\nYes. Plain."


def test_the_decoded_text_is_what_the_engine_reads() -> None:
    text = decode('{"verdict":"correct","comment":"He ate the soup.","facts":[1,3]}', EN3)
    assert parse_verdict(strip_facts_line(text)) is Verdict.CORRECT
    assert strip_facts_line(text) == "Correct. He ate the soup."
    assert parse_facts_line(text, 3) == frozenset({0, 2})
    zh = decode('{"verdict":"irrelevant","comment":"","facts":[]}', ZH3)
    assert parse_verdict(strip_facts_line(zh)) is Verdict.IRRELEVANT and parse_facts_line(zh, 3) == frozenset()


@settings(max_examples=150, deadline=None)
@given(
    verdict=st.sampled_from(["yes", "no", "irrelevant", "correct"]),
    comment=st.text(max_size=40),
    facts=st.lists(st.integers(1, 5), max_size=4, unique=True),
    ascii_only=st.booleans(),
    language=st.sampled_from(["en", "zh"]),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_any_reply_split_anywhere_decodes_the_same(
    verdict: str, comment: str, facts: list[int], ascii_only: bool, language: str, cuts: list[int]
) -> None:
    form = VerdictForm(language, 5)
    reply = json.dumps({"verdict": verdict, "comment": comment, "facts": facts}, ensure_ascii=ascii_only)
    cuts = sorted({cut for cut in cuts if cut <= len(reply)})
    shown = comment.replace("\r", "").replace("\n", " ").lstrip()
    labels = {"en": {"yes": "Yes.", "no": "No.", "irrelevant": "Irrelevant.", "correct": "Correct."},
              "zh": {"yes": "是。", "no": "否。", "irrelevant": "无关。", "correct": "正确。"}}  # fmt: skip
    gap = " " if language == "en" and shown else ""
    if language == "en":
        line = f"[facts: {', '.join(map(str, facts)) or 'none'}]"
    else:
        line = f"[要点：{'、'.join(map(str, facts)) or '无'}]"
    assert decode(reply, form, cuts) == f"{labels[language][verdict]}{gap}{shown}\n{line}"


def test_schema_accepts_every_well_formed_reply_and_no_other() -> None:
    schema = verdict_schema(EN3)
    jsonschema.validate({"verdict": "yes", "comment": "", "facts": [1, 3]}, schema)
    for wrong in (
        {"verdict": "maybe", "comment": "", "facts": []},
        {"verdict": "yes", "comment": "", "facts": [4]},  # only the prompt's numbers
        {"verdict": "yes", "facts": []},  # every field required
        {"verdict": "yes", "comment": "", "facts": [], "answer": "x"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, schema)
    assert list(schema["properties"]) == ["verdict", "comment", "facts"]  # the order the text shows them
    assert "facts" not in verdict_schema(VerdictForm("en", 0))["properties"]


def test_each_format_is_asked_for_the_way_its_servers_take_it() -> None:
    openai_style = response_format("json_schema", EN3)
    assert openai_style is not None and openai_style["type"] == "json_schema"
    assert openai_style["json_schema"]["strict"] is True and openai_style["json_schema"]["schema"] == verdict_schema(
        EN3
    )
    assert response_format("json_object", EN3) == {"type": "json_object", "schema": verdict_schema(EN3)}
    assert response_format("text", EN3) is None
    body = {"model": "m", "messages": [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q?"}]}
    assert shape_request(body, "text", EN3) is body
    shaped = shape_request(body, "json_object", EN3)
    assert shaped["response_format"]["type"] == "json_object"
    assert shaped["messages"][0]["content"].startswith("Rules.\n\n") and "JSON" in shaped["messages"][0]["content"]
    assert body["messages"][0]["content"] == "Rules."  # the caller's messages are not changed
    assert '"facts"' in shaped["messages"][0]["content"]
    assert '"facts"' not in with_format_note(body["messages"], VerdictForm("en", 0))[0]["content"]
    assert "字段" in with_format_note(body["messages"], ZH3)[0]["content"]


def test_a_configured_format_falls_back_to_text_only() -> None:
    assert FormatLadder("auto").steps == ("json_schema", "json_object", "text")
    assert FormatLadder("json_object").steps == ("json_object", "text")
    assert FormatLadder("text").steps == ("text",)


async def test_thinking_markers_pass_through_in_place() -> None:
    marker = object()  # stands for bot.game.thinking.Thinking: any item that is not text

    async def deltas() -> AsyncIterator[object]:
        yield '{"verdict":'
        yield marker
        yield '"no","comment":"x"}'

    items = [item async for item in canonical_text(deltas(), EN3)]
    assert items == [marker, "No. x"]
