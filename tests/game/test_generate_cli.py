"""`python -m bot.generate` against the scripted upstream: a batch into a pack file with a progress line, a draft
that repeats one written earlier in the batch refused, an existing pack added to, every draft logged, and the exit
status saying whether every puzzle asked for was written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.game.puzzles import load_pack
from bot.generate import main
from tests.fakes.puzzle_texts import LADDER_DRAFT, PAINTING_DRAFT
from tests.fakes.upstream import FakeUpstream, Reply
from tests.game.test_generate import draft


def config_file(tmp_path: Path, upstream: FakeUpstream, attempts: int) -> Path:
    bank = tmp_path / "bank.yaml"
    bank.write_text(
        "puzzles:\n- {id: bank-1, language: en, title: Water, story: A man asks for water and is shown a gun.,"
        " answer: He had hiccups and the fright cured them.}\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"model: {{base_url: '{upstream.base_url}', api_key: k, name: writer-2, max_retries: 0}}\n"
        f"game: {{include_builtin: false, puzzle_files: [bank.yaml]}}\n"
        f"generate: {{max_attempts: {attempts}}}\n",
        encoding="utf-8",
    )
    return config


def test_a_batch_is_written_to_a_pack_with_progress_and_a_log(
    tmp_path: Path, fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path, fake_upstream, attempts=2)
    out, log = tmp_path / "drafts.yaml", tmp_path / "drafts.jsonl"
    second = draft(
        title="The Empty Envelope",
        story="Every Monday a man posts an empty envelope to his neighbour, who thanks him warmly each time.",
        answer="The neighbour is housebound and collects stamps; each envelope carries a different rare stamp.",
        key_facts=["The neighbour collects stamps.", "Each envelope carries a rare stamp."],
    )
    fake_upstream.queue(Reply.text(draft(), size=32), Reply.text(draft(title="Ice Again"), size=32))
    fake_upstream.queue(Reply.text(second, size=32))
    args = ["--config", str(config), "--out", str(out), "--log", str(log), "--language", "en", "--count", "2"]
    assert main(args) == 0
    puzzles = load_pack(out)
    assert [puzzle.title for puzzle in puzzles] == [LADDER_DRAFT["title"], "The Empty Envelope"]
    assert {puzzle.generated_by for puzzle in puzzles} == {"writer-2"}
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(record["puzzle"], record["attempt"]) for record in records] == [(1, 1), (2, 1), (2, 2)]
    assert records[1]["refused"].startswith("it repeats the known puzzle 'The Ladder on the Ice'")
    assert records[0]["refused"] is None and json.loads(records[0]["reply"])["title"] == LADDER_DRAFT["title"]
    errors = capsys.readouterr().err
    assert "[------------------------] 0/2 puzzles, 0 drafts (0 refused)" in errors
    assert "[########################] 2/2 puzzles, 3 drafts (1 refused)" in errors
    assert f"2 of 2 puzzle(s) written to {out}" in errors

    # The pack is added to; a puzzle whose drafts are all refused is named with its reasons, and the status says so.
    fake_upstream.queue(Reply.text(json.dumps(PAINTING_DRAFT, ensure_ascii=False)), Reply.text("no"), Reply.text("{}"))
    again = ["--config", str(config), "--out", str(out), "--language", "zh", "--count", "2"]
    assert main(again) == 1
    assert [puzzle.language for puzzle in load_pack(out)] == ["en", "en", "zh"]
    errors = capsys.readouterr().err
    assert "1 of 2 puzzle(s) written" in errors
    assert "not written: no usable puzzle in 2 draft(s): 1) the reply holds no JSON object" in errors


def test_a_bad_config_or_pack_is_named_and_nothing_is_asked(
    tmp_path: Path, fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "out.yaml")]) == 2
    assert "missing.yaml: file not found" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("puzzles: [unclosed", encoding="utf-8")
    config = config_file(tmp_path, fake_upstream, attempts=1)
    assert main(["--config", str(config), "--out", str(broken)]) == 2
    assert "broken.yaml: line 1: invalid YAML" in capsys.readouterr().err
    assert fake_upstream.requests == []
