"""Puzzle generation against the real llama.cpp server (SmolLM2-135M-Instruct), through `python -m bot.generate`.

What a 135M model writes is not a puzzle anyone would play: the test prints what comes out (the JSON-lines log)
and holds the path for one draft (retries are covered by tests/game/test_generate.py): the server refuses OpenAI's
json_schema and the writer steps down to json_object with the schema, which llama.cpp enforces as a grammar, so
the reply is JSON; the checks give the draft a verdict; and the run ends in a valid pack or in a clear "not
written" naming the reason, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.game.puzzles import load_pack
from bot.generate import main
from tests.realmodel.llama_server import MODEL_ALIAS, LlamaServer

# The reasons a draft can be refused for, as bot.game.puzzle_draft and the pack validator word them.
REFUSALS = (
    "the reply", "missing field", "title:", "story:", "answer:", "key_facts:", "hints:", "difficulty:",
    "it repeats the known puzzle",
)  # fmt: skip


@pytest.mark.timeout(300)  # a draft of up to 300 tokens from a real model on a shared CPU (retries: test_generate)
def test_generation_against_llama_cpp_ends_in_a_pack_or_a_clear_refusal(
    llama_server: LlamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"model: {{base_url: '{llama_server.base_url}', name: {MODEL_ALIAS}, max_retries: 0}}\n"
        "generate: {max_attempts: 1, max_tokens: 300, request_timeout: 120}\n",
        encoding="utf-8",
    )
    out, log = tmp_path / "drafts.yaml", tmp_path / "drafts.jsonl"
    status = main(["--config", str(config), "--out", str(out), "--log", str(log), "--language", "en"])
    errors = capsys.readouterr().err
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    print(
        "\n".join(f"draft {record['attempt']}: {record['refused'] or 'kept'}\n{record['reply']}" for record in records)
    )
    [record] = records
    assert record["reply"].lstrip().startswith("{")  # the schema reached the server: its grammar makes JSON
    if status == 0:
        [puzzle] = load_pack(out)
        assert puzzle.generated_by == MODEL_ALIAS and record["refused"] is None
    else:
        assert status == 1 and not out.exists()
        assert "0 of 1 puzzle(s) written" in errors and "not written: no usable puzzle in 1 draft(s): 1) " in errors
        assert record["refused"].startswith(REFUSALS)
    assert "Traceback" not in errors
