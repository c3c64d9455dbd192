"""bench.judge compares verdict formats: the text protocol beside structured verdicts, on the scripted upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.judge.cli import main
from tests.fakes.upstream import FakeUpstream, Reply
from tests.game.test_structured_host import LLAMA_CPP_PYTHON_REFUSAL


def tiny_model(body: dict[str, Any]) -> Reply:
    """A model too small to keep the text protocol, kept in line by a grammar when it is given a schema:
    it refuses OpenAI's json_schema as llama-cpp-python's server does."""
    requested = body.get("response_format") or {}
    if requested.get("type") == "json_schema":
        return Reply(status=500, error_body=LLAMA_CPP_PYTHON_REFUSAL)
    if requested.get("type") == "json_object":
        assert requested["schema"]["properties"]["verdict"]["enum"] == ["yes", "no", "irrelevant", "correct"]
        return Reply.text('{"verdict": "no", "comment": "Hm.", "facts": []}', size=4)
    return Reply.text("The man in the story is a man who", size=4)


def test_structured_verdicts_beside_the_text_protocol(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.responder = tiny_model
    out = tmp_path / "RESULT.json"
    args = ["--base-url", fake_upstream.base_url, "--model", "tiny", "--limit", "6", "--retry-delay", "0.01"]
    assert main([*args, "--verdict-format", "text", "auto", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    text, structured = result["variants"]["standard/text"], result["variants"]["standard/auto"]
    assert (text["n"], text["unparsed"]) == (6, 6)
    assert (structured["n"], structured["unparsed"]) == (6, 0)
    assert structured["confusion"]["no"]["no"] + structured["confusion"]["yes"]["no"] >= 1  # every verdict is "no"
    assert result["run"]["verdict_formats"] == ["text", "auto"]
    assert result["run"]["verdict_formats_taken"] == {"text": "text", "auto": "json_object"}
    # 6 text requests, 6 structured ones, and json_schema refused once per request in flight (4 at once) before
    # the client stepped down; none after.
    refused = [body for body in fake_upstream.requests if body.get("response_format", {}).get("type") == "json_schema"]
    assert (
        result["run"]["requests"] == 12 and 1 <= len(refused) <= 4 and len(fake_upstream.requests) == 12 + len(refused)
    )
    replies = {case["reply"] for case in result["cases"] if case["variant"] == "standard/auto"}
    assert replies == {"No. Hm.\n[facts: none]", "否。Hm.\n[要点：无]"}  # the text protocol, in the game's language
    assert "standard/auto" in out.with_suffix(".md").read_text(encoding="utf-8")

    # Rerun: every answer comes from the cache, each format under its own key.
    assert main([*args, "--verdict-format", "text", "auto", "--out", str(out)]) == 0
    rerun = json.loads(out.read_text(encoding="utf-8"))["run"]
    assert rerun["from_cache"] == 12 and rerun["verdict_formats_taken"] == {}  # nothing asked, nothing learnt
