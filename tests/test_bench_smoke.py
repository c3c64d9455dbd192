"""A short run of every benchmark, so they keep working; the real runs are in docs/PERFORMANCE.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SMOKE_RUNS = {
    "bench.bench_bot_latency": (["--questions", "20"], "added by the bot"),
    "bench.bench_edit_cadence": (["--durations", "1"], "last-token -> final edit"),
    "bench.bench_question_path": (
        ["--questions", "10", "--stream-seconds", "1", "--streams", "1", "--tables", "2"],
        "2 tables at once",
    ),
    "bench.bench_simcord_questions": (
        ["--questions", "5", "--streams", "1", "--stream-seconds", "1"],
        "thinking (1 s), short answer",
    ),
    "bench.bench_throughput": (["--channels", "20", "--per-channel", "2"], "Redis round trips per question"),
    "bench.bench_throughput:contention": (
        ["--contention", "--channels", "20", "--per-channel", "2", "--in-flight", "10"],
        "answered but not saved: 0  errors: 0",
    ),
    "bench.bench_model_service_relay": (["--requests", "10", "--concurrency", "2", "--hold", "10"], "relay adds"),
    "bench.bench_model_service_local": (["--tokens", "16", "--runs", "1"], "tokens/s"),
    "bench.bench_thinking_filter": (["--repeat", "2"], "mid-thought, known"),
    "bench.bench_idle_wakeup": (["--repeat", "1"], "vs no idle"),
}


@pytest.mark.parametrize("run", list(SMOKE_RUNS))
def test_benchmark_runs_and_prints_its_figures(run: str) -> None:
    args, expected = SMOKE_RUNS[run]
    module = run.split(":")[0]  # "module:mode" names a second run of one benchmark
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
