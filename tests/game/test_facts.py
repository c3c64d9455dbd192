"""The host's facts line: read tolerantly, never shown, and the progress bar."""

from __future__ import annotations

import pytest

from bot.game.facts import FoundFact, decode_found, facts_line, parse_facts_line, progress_bar, strip_facts_line


@pytest.mark.parametrize(
    ("reply", "named", "shown"),
    [
        ("Yes. He was.\n[facts: 1, 3]", {0, 2}, "Yes. He was."),
        ("No.\n[facts: none]", set(), "No."),
        ("是。\n[要点：1、3]", {0, 2}, "是。"),
        ("是的。\n【要点：二】", {1}, "是的。"),
        ("否。\n[关键要点: 无]", set(), "否。"),
        ("Yes\nFacts: 2 and 3", {1, 2}, "Yes"),
        ("Correct! [facts: all]", {0, 1, 2}, "Correct!"),
        ("Correct! [key facts: 1,2,3] He was short.", {0, 1, 2}, "Correct! He was short."),
        ("Yes [facts 2]", {1}, "Yes"),
        ("Yes. **[Facts: 1]**", {0}, "Yes."),
        ("Yes.\n［facts：２］", {1}, "Yes."),
    ],
)
def test_a_facts_line_is_read_and_removed(reply: str, named: set[int], shown: str) -> None:
    assert parse_facts_line(reply, 3) == frozenset(named)
    assert strip_facts_line(reply) == shown


@pytest.mark.parametrize(
    ("reply", "named", "shown"),
    [
        ("Yes, he did.", None, "Yes, he did."),  # missing: the verdict still counts, nothing is found
        ("Yes. [facts: 7, x", frozenset(), "Yes."),  # malformed: unclosed, out of range, not a number
        ("Yes. [facts: 1, x, 9", frozenset({0}), "Yes."),
        ("No. [facts: ???]", frozenset(), "No."),
        ("关键点：他很矮", None, "关键点：他很矮"),  # prose that only looks like a line is left alone
        ("Yes [x]", None, "Yes [x]"),
        ("Yes. [facts: 2, " + "9" * 5000 + "]", frozenset({1}), "Yes."),  # past int()'s 4,300 digits
        ("Yes. [facts: 01, 003]", frozenset({0, 2}), "Yes."),
    ],
)
def test_a_malformed_or_missing_line_names_what_it_can(reply: str, named: frozenset[int] | None, shown: str) -> None:
    assert parse_facts_line(reply, 3) == named
    assert strip_facts_line(reply) == shown


def test_while_streaming_only_a_closed_tag_counts_and_a_tag_arriving_is_hidden() -> None:
    for partial in ("Yes. He was.\n[", "Yes. He was.\n[fa", "Yes. He was.\n[facts: 1", "Yes. He was. 【要"):
        assert parse_facts_line(partial, 3, final=False) is None
        assert strip_facts_line(partial, final=False) == "Yes. He was."
    assert parse_facts_line("Yes. [facts: 1, 2] and", 3, final=False) == frozenset({0, 1})
    assert strip_facts_line("Yes [x] and", final=False) == "Yes [x] and"


def test_a_puzzle_without_key_facts_has_no_line() -> None:
    assert parse_facts_line("Yes [facts: 1]", 0) is None


def test_the_line_the_host_is_shown_and_the_bar() -> None:
    assert facts_line([2, 0], "en") == "[facts: 1, 3]" and facts_line([], "en") == "[facts: none]"
    assert facts_line([1], "zh") == "[要点：2]" and facts_line([], "zh") == "[要点：无]"
    assert parse_facts_line(facts_line([0, 2], "zh"), 3) == frozenset({0, 2})
    assert progress_bar(2, 4) == "🟩🟩⬜⬜ 2/4" and progress_bar(0, 3) == "⬜⬜⬜ 0/3" and progress_bar(0, 0) == ""


def test_stored_records_decode_and_bad_ones_are_skipped() -> None:
    good = FoundFact(-1, 7, "alice", 1700000000.5).encode()
    found = decode_found({"0": good, "1": "not json", "9": good, "x": good}, 3)
    assert found == {0: FoundFact(0, 7, "alice", 1700000000.0)}


def test_an_unbracketed_facts_line_never_shows_while_streaming() -> None:
    """ "Key facts: 1, 3" without brackets is read only at the end; while the reply streams it is hidden, whole
    or still arriving, so no partial state shows it."""
    reply = "Yes. He did.\nKey facts: 1, 3"
    states = [strip_facts_line(reply[:end], final=False) for end in range(1, len(reply) + 1)]
    assert not any("Key" in state or "facts" in state for state in states)
    assert strip_facts_line("是。\n要点：1、3", final=False) == "是。"
    assert strip_facts_line("Yes.\n**Facts:** 2\nMore to come", final=False) == "Yes.\nMore to come"
    # Prose that merely starts like one stays.
    assert strip_facts_line("No.\nFactory workers had left.", final=False) == "No.\nFactory workers had left."
