"""Local backend throughput: tokens/s through the HTTP service vs. calling `model.generate` directly.

    .venv/bin/python bench/bench_model_service_local.py [--tokens 256] [--runs 5]

Both sides use the same tiny random-weight model (tests/model_service/tiny_model.py), greedy
decoding and the same prompt. The service runs as its own process (`python -m model_service`,
backend chatglm) and is called with streaming over HTTP, so the figure includes tokenization,
the worker thread, SSE encoding and the client's parsing. A tiny model makes this a worst case:
each token costs about a millisecond, so the service's per-token work weighs far more than it
would against ChatGLM-6B's tens of milliseconds per token.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.harness import start_model_service  # noqa: E402

KEY = "bench-key"
MESSAGES = [
    {"role": "system", "content": "Puzzle: a man dies. Answer: 灯塔看守者关掉灯."},
    {"role": "user", "content": "Is he dead?"},
]


class Direct:
    """model.generate on the prompt the service builds (same tokenizer, same template, greedy)."""

    def __init__(self, folder: Path, tokens: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder).eval()
        text = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
        self.prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        self.tokens = tokens
        self.run(8)  # warm up

    def run(self, tokens: int | None = None) -> float:
        input_ids = self.torch.tensor([self.prompt])
        started = time.perf_counter()
        with self.torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=self.torch.ones_like(input_ids),
                max_new_tokens=tokens or self.tokens,
                do_sample=False,
            )
        return (output.shape[1] - input_ids.shape[1]) / (time.perf_counter() - started)


class Served:
    """The same generation through the service: one streamed chat completion."""

    def __init__(self, url: str, tokens: int) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
        self.body = {
            "model": "m",
            "messages": MESSAGES,
            "stream": True,
            "temperature": 0,
            "max_tokens": tokens,
            "stream_options": {"include_usage": True},
        }
        self.run()  # warm up

    def run(self) -> float:
        started = time.perf_counter()
        used = 0
        with self.http.stream("POST", "/v1/chat/completions", json=self.body) as response:
            for line in response.iter_lines():
                if line.startswith("data: {") and '"usage"' in line:
                    used = json.loads(line[6:])["usage"]["completion_tokens"]
        return used / (time.perf_counter() - started)


def start_service(folder: Path, workdir: Path, tokens: int) -> tuple[subprocess.Popen[str], str]:
    settings = (
        f"  backend: chatglm\n  chatglm:\n    model_path: {folder}\n    quantize: null\n    device: cpu\n"
        f"    max_new_tokens: {tokens}\n    max_context_tokens: {tokens * 2 + 256}\n"
    )
    return start_model_service(workdir, KEY, settings, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=256, help="tokens generated per run (default 256)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per side (default 7)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads on both sides (default 1: a 64-wide model gains nothing from more, and on a small "
        "shared machine extra threads only add noise)",
    )
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    from tests.model_service.tiny_model import build_model

    hf_logging.disable_progress_bar()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for the service process
    import torch

    torch.set_num_threads(args.threads)  # for direct generate here
    with tempfile.TemporaryDirectory() as workdir:
        folder = build_model(Path(workdir) / "tiny")
        process, url = start_service(folder, Path(workdir), args.tokens)
        try:
            direct, served = Direct(folder, args.tokens), Served(url, args.tokens)
            generated, streamed = [], []
            # Alternate the two, so that whatever else the machine does weighs on both alike.
            for _ in range(args.runs):
                generated.append(direct.run())
                streamed.append(served.run())
        finally:
            process.terminate()
            process.wait(20)
    served_rate, direct_rate = statistics.median(streamed), statistics.median(generated)
    ratio = served_rate / direct_rate
    print(
        f"tiny model (2 layers, hidden 64), greedy, {args.tokens} new tokens, prompt {len(direct.prompt)} tokens, "
        f"{args.threads} torch thread(s) per side, {os.cpu_count()} CPUs"
    )
    print(f"direct model.generate : {direct_rate:8.1f} tokens/s (median of {args.runs})")
    print(f"through HTTP service  : {served_rate:8.1f} tokens/s (median of {args.runs}, streamed)")
    print(f"ratio service/direct  : {ratio:.2f}x (target >= 0.9x: {'met' if ratio >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
