"""`python -m bench.judge --appeal` against the fake upstream scripted as a judge and as an appeal judge."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from bench.judge.cli import main
from tests.bench.test_judge_run import QUICK, SCRIPT, question_of, write_script_cases
from tests.fakes.upstream import FakeUpstream, Reply

# What the appeal judge says to each contestable verdict of SCRIPT, sample after sample.
APPEALS = {
    "Did the gun help the man?": ["Yes."],  # right, kept
    "Was the man actually thirsty?": ["Yes, he was."],  # right, overturned
    "Did the bartender want to rob him?": ["No.\n[facts: none]"],  # wrong, fixed
    "Was the gun loaded?": ["Irrelevant.", "Yes.", "No."],  # right, no majority: it stands
    "He had a fish bone stuck in his throat.": ["No.", "No.", "Yes."],  # right, kept by two of three
}


def appeal_judge() -> Any:
    first = {question: reply for _, _, question, reply in SCRIPT}
    cycles = {question: itertools.cycle(replies) for question, replies in APPEALS.items()}

    def reply(body: dict[str, Any]) -> Reply:
        asked = body["messages"][-1]["content"]
        if "The first verdict:" not in asked:
            return Reply.text(first[question_of(body)])
        question = asked.split("\n")[0].removeprefix("The player's message: ")
        return Reply.text(next(cycles[question]))

    return reply


def test_the_appeal_variant_reports_fixes_and_overturns_exactly(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.responder = appeal_judge()
    cases = write_script_cases(tmp_path / "mine.yaml")
    out = tmp_path / "run" / "RESULT.json"
    args = ["--set", str(cases), "--base-url", fake_upstream.base_url, *QUICK, "--verdict-format", "text"]
    # Each question's three samples take its script's three replies, in whatever order they arrive.
    code = main([*args, "--appeal", "--appeal-samples", "3", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["variants"]["standard"]["accuracy"] == 0.625  # the run itself is unchanged
    figures = {key: value for key, value in result["appeal"].items() if key not in ("base_url",)}
    assert figures == {
        "variant": "standard",
        "model": "fake-model",
        "samples": 3,
        "appealed": 5,
        "wrong": 1,
        "fixed": 1,
        "right": 4,
        "overturned": 1,
        "no_majority": 1,
        "not_contestable": 3,  # two Correct verdicts and one unreadable reply
        "failed": 0,
    }
    appealed = {item["case"]: (item["first"], item["after"]) for item in result["appeal_cases"]}
    assert sorted(appealed.values()) == [
        ("irrelevant", "irrelevant"),
        ("no", "no"),
        ("no", "yes"),
        ("yes", "no"),
        ("yes", "yes"),
    ]
    votes = sorted(sorted(item["votes"]) for item in result["appeal_cases"])
    assert votes[0] == ["irrelevant", "no", "yes"] and ["no", "no", "yes"] in votes  # each sample's verdict
    prompts = [
        body["messages"] for body in fake_upstream.requests if "first verdict" in body["messages"][-1]["content"]
    ]
    assert len(prompts) == 15  # five appeals of three samples
    assert all("Hidden answer: The man had a bad case of hiccups" in messages[0]["content"] for messages in prompts)
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "- wrong verdicts appealed: 1, fixed by the appeal: 1" in table
    assert "- right verdicts appealed: 4, overturned by the appeal: 1" in table


def test_appeals_with_no_sample_back_are_counted_as_failed(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    first = {question: reply for _, _, question, reply in SCRIPT}

    def reply(body: dict[str, Any]) -> Reply:
        if "The first verdict:" in body["messages"][-1]["content"]:
            return Reply(status=400)  # refused: no retry helps
        return Reply.text(first[question_of(body)])

    fake_upstream.responder = reply
    cases = write_script_cases(tmp_path / "mine.yaml")
    out = tmp_path / "RESULT.json"
    args = ["--set", str(cases), "--base-url", fake_upstream.base_url, *QUICK, "--verdict-format", "text"]
    assert main([*args, "--appeal", "--appeal-samples", "1", "--out", str(out)]) == 0
    appeal = json.loads(out.read_text(encoding="utf-8"))["appeal"]
    assert (appeal["appealed"], appeal["failed"], appeal["not_contestable"]) == (0, 5, 3)
