"""bench.judge against the real llama.cpp server (SmolLM2-135M-Instruct): 10 labelled cases, asked in the text
protocol and as structured verdicts. The model is tiny, so its accuracy is only a floor (docs/JUDGING.md); what
must hold is the path: every case answered, and with structured verdicts every reply read.

The cases are the first 10 of the English set (two puzzles): the server keeps the last prompt evaluated, so
cases of one puzzle in a row cost one prompt evaluation, not one each. Ten keep the suite short; the path is
the same for every case. The game tests cover Chinese."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.judge.cli import main
from tests.realmodel.llama_server import MODEL_ALIAS, LlamaServer

CASES = 10
ENGLISH_SET = Path(__file__).parents[2] / "bench" / "judge" / "cases" / "en.yaml"


def first_cases(path: Path) -> Path:
    data = yaml.safe_load(ENGLISH_SET.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({"cases": data["cases"][:CASES]}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.timeout(600)  # 20 replies from a real model on a shared CPU (~15 s alone, more under load)
def test_judge_runs_against_llama_cpp_in_both_protocols(llama_server: LlamaServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"model:\n  base_url: {llama_server.base_url}\n  name: {MODEL_ALIAS}\n  max_tokens: 16\n")
    out = tmp_path / "RESULT.json"
    args = ["--config", str(config), "--set", str(first_cases(tmp_path / "cases.yaml")), "--concurrency", "1"]
    assert main([*args, "--verdict-format", "text", "auto", "--no-cache", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["run"]["failed"] == [] and result["run"]["cases_per_variant"] == CASES
    text, structured = result["variants"]["standard/text"], result["variants"]["standard/auto"]
    assert text["n"] == structured["n"] == CASES
    assert structured["unparsed"] == 0  # the server's grammar holds even this model to a verdict
    assert result["run"]["verdict_formats_taken"] == {"text": "text", "auto": "json_object"}
    for figures in (text, structured):
        assert 0.0 <= figures["accuracy"] <= 1.0 and figures["latency_s"]["p50"] > 0
