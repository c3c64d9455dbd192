"""`python -m bench.judge` end to end against the real model service serving a tiny random ChatGLM-6B.

The weights are random, so the replies are gibberish and most come back unparsed: the test checks that
every case went through the service and that the figures add up, not that the model judges well.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.config import ModelServiceConfig
from model_service.app import create_app
from model_service.backends.chatglm import ChatGLMBackend
from model_service.server import ServerThread
from tests.model_service.glm_checkpoint import write_checkpoint

REPO = Path(__file__).resolve().parents[2]
KEY = "svc-key-judge-3b7c-not-a-real-key"
LIMIT = 6
VARIANTS = ("standard", "plain")


@pytest.fixture(scope="module")
def glm_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The model service with the chatglm backend over a tiny fp32 checkpoint, replies capped at 16 tokens."""
    folder = write_checkpoint(tmp_path_factory.mktemp("glm-judge") / "fp32", "fp32", "single", seed=0)
    config = ModelServiceConfig.model_validate(
        {
            "api_key": KEY,
            "backend": "chatglm",
            "first_token_timeout": 30,
            "request_timeout": 60,
            "chatglm": {"model_path": str(folder), "quantize": None, "device": "cpu", "max_new_tokens": 16},
        }
    )
    server = ServerThread(create_app(config, backend=ChatGLMBackend(config))).start()
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/readyz").status_code != 200:  # the checkpoint loads after start
            assert time.monotonic() < deadline, "the chatglm backend never became ready"
            time.sleep(0.05)
        yield server
    finally:
        server.stop()


def metric(text: str, name: str) -> float:
    """The sum of the Prometheus samples whose line starts with `name` (a counter, or one of its label sets)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_the_judge_runs_end_to_end_through_the_model_service(glm_service: ServerThread, tmp_path: Path) -> None:
    out = tmp_path / "RESULT.json"
    args = ["--base-url", f"{glm_service.url}/v1", "--api-key", KEY, "--model", "turtle-host", "--retries", "0"]
    args += ["--limit", str(LIMIT), "--concurrency", "2", "--variant", *VARIANTS, "--out", str(out)]
    run = subprocess.run(
        [sys.executable, "-m", "bench.judge", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert result["run"]["requests"] == LIMIT * len(VARIANTS) and result["run"]["failed"] == []
    assert result["run"]["from_cache"] == 0 and result["run"]["stopped"] is None
    for variant in VARIANTS:
        figures = result["variants"][variant]
        cases = [case for case in result["cases"] if case["variant"] == variant]
        assert figures["n"] == len(cases) == LIMIT and figures["failed"] == 0
        assert figures["unparsed"] == sum(case["verdict"] == "unclear" for case in cases)
        parsed = sum(case["verdict"] != "unclear" for case in cases)
        assert figures["unparsed"] + parsed == LIMIT
        assert figures["accuracy"] == round(sum(case["right"] for case in cases) / LIMIT, 4)
        assert sum(sum(row.values()) for row in figures["confusion"].values()) == LIMIT
        assert set(figures["per_label"]) == {"yes", "no", "irrelevant", "correct"}
        assert figures["tokens"]["prompt"] > 0 and figures["latency_s"]["p95"] >= figures["latency_s"]["p50"] > 0
        assert all(case["reply"] for case in cases)  # the random model said something every time
    # The service itself answered every request and generated the replies.
    metrics = httpx.get(f"{glm_service.url}/metrics").text
    assert metric(metrics, 'model_service_requests_total{path="/v1/chat/completions",status="200"}') == LIMIT * len(
        VARIANTS
    )
    assert metric(metrics, "model_service_completion_tokens_total") > 0
    assert out.with_suffix(".md").is_file() and out.with_suffix(".png").is_file()
