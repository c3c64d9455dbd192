"""Where an int4 ChatGLM-6B decoding step's CPU time goes, per int4_gemv.c configuration, in one process.

    .venv/bin/python -m bench.bench_decode_split --root /work/scratch --threads 1 \\
        avx512-vnni:4096:torch avx512-vnni:0:ours avx-vnni:0:ours avx2:0:ours

Each configuration is VARIANT:PREFETCH_BYTES:HEAD, HEAD `ours` (bf16_gemv multiplies the bf16 output
matrix) or `torch` (torch.mv). The model is loaded once with the service's loader (bench_chatglm_cpu's
random int4 checkpoint under --root); the configurations take turns, round after round, by switching
the kernel every int4 layer holds (they share one weight layout). Per decoding step it reports wall and
CPU milliseconds: all of it, the 112 int4 linears, the output matrix, and the rest; and decoding tokens
per CPU second against the bound (a plain read's GB per CPU second / bytes per token). At --threads 1
CPU time leaves out whatever the scheduler gave other processes: the figure that survives a shared
machine. `--smoke` runs a tiny model for the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_chatglm_cpu import ensure_checkpoint, game_prompt_ids  # noqa: E402
from bench.glm6b_random import FULL, SMOKE, checkpoint_bytes_per_token  # noqa: E402
from model_service.backends.chatglm6b import modeling, native  # noqa: E402
from model_service.backends.chatglm6b.cpu import this_cpu  # noqa: E402
from model_service.backends.chatglm6b.quantization import QuantizedLinear  # noqa: E402

PARTS = ("int4", "head")


class Clocks:
    """Wall and CPU seconds spent inside the wrapped calls, per part."""

    def __init__(self) -> None:
        self.wall = dict.fromkeys(PARTS, 0.0)
        self.cpu = dict.fromkeys(PARTS, 0.0)

    def wrap(self, part: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                self.wall[part] += time.perf_counter() - started
                self.cpu[part] += time.process_time() - cpu_started

        return timed

    def snapshot(self) -> tuple[float, float, dict[str, float], dict[str, float]]:
        return time.perf_counter(), time.process_time(), dict(self.wall), dict(self.cpu)


def read_rate(gigabytes: float) -> float:
    """Best of 5 plain reads (torch's sum), bytes per second of this process's CPU time."""
    buffer = torch.ones(int(gigabytes * 1e9) // 4)
    best = 0.0
    for _ in range(5):
        started = time.process_time()
        buffer.sum()
        best = max(best, buffer.numel() * 4 / max(time.process_time() - started, 1e-9))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", metavar="VARIANT:PREFETCH:HEAD")
    parser.add_argument("--root", type=Path, default=Path("/work/scratch"), help="where glm6b-int4 is kept")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="new tokens per generate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="tiny model in a temporary folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = SMOKE if args.smoke else FULL
    with tempfile.TemporaryDirectory() as scratch:
        folder = ensure_checkpoint((Path(scratch) if args.smoke else args.root) / "glm6b-int4", shape, 4, False)
        run(args, shape, folder)


def run(args: argparse.Namespace, shape: Any, folder: Path) -> None:
    from transformers.generation.streamers import BaseStreamer

    from common.config import ChatGLMBackendConfig
    from model_service.backends.loader import load_model

    print(f"CPU: {this_cpu().describe()}")
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    model = load_model(ChatGLMBackendConfig(model_path=str(folder), quantize=4, device="cpu")).model
    layers = [module for module in model.modules() if isinstance(module, QuantizedLinear)]
    clocks = Clocks()
    QuantizedLinear._vnni_rows = clocks.wrap("int4", QuantizedLinear._vnni_rows)  # type: ignore[method-assign]
    native.Bf16Gemv.__call__ = clocks.wrap("head", native.Bf16Gemv.__call__)  # type: ignore[method-assign]
    modeling.torch.mv = clocks.wrap("head", torch.mv)  # the torch head's call site reads torch.mv there
    ours_head = modeling.bf16_head_is_ours
    prompt = torch.tensor([game_prompt_ids(shape, args.prompt_tokens)])
    marks: list[tuple[float, float, dict[str, float], dict[str, float]]] = []

    class Clock(BaseStreamer):
        def put(self, value: Any) -> None:
            marks.append(clocks.snapshot())

        def end(self) -> None:
            pass

    steps: dict[str, list[dict[str, float]]] = {config: [] for config in args.configs}
    rates = [read_rate(1.0 if not args.smoke else 0.05)]
    with torch.inference_mode():
        model.generate(input_ids=prompt[:, -8:], max_new_tokens=2, min_new_tokens=2, do_sample=False)  # warm-up
        for _ in range(args.rounds):
            for config in args.configs:
                variant, prefetch, head = config.split(":")
                kernel = native.int4_kernel(variant, int(prefetch))
                if kernel is None:
                    raise SystemExit(f"{config}: int4_gemv.c's {variant} cannot run here")
                for layer in layers:
                    layer._int4_gemv = kernel
                modeling.bf16_head_is_ours = ours_head if head == "ours" else (lambda cpu: False)
                marks.clear()
                new = args.steps
                model.generate(
                    input_ids=prompt, max_new_tokens=new, min_new_tokens=new, do_sample=False, streamer=Clock()
                )
                (wall0, cpu0, parts_wall0, parts_cpu0), (wall1, cpu1, parts_wall1, parts_cpu1) = marks[2], marks[-1]
                count = len(marks) - 3  # from the 2nd new token on: decoding steps only
                step = {"wall": (wall1 - wall0) / count, "cpu": (cpu1 - cpu0) / count}
                for part in PARTS:
                    step[f"{part} wall"] = (parts_wall1[part] - parts_wall0[part]) / count
                    step[f"{part} cpu"] = (parts_cpu1[part] - parts_cpu0[part]) / count
                steps[config].append(step)
    rates.append(read_rate(1.0 if not args.smoke else 0.05))
    bound = max(rates) / checkpoint_bytes_per_token(shape, 4)
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    print(
        f"{args.threads} threads, prompt {args.prompt_tokens} tokens, {args.steps} new, {args.rounds} rounds; "
        "plain read "
        + ", ".join(f"{rate / 1e9:.1f}" for rate in rates)
        + f" GB per CPU second: bound {bound:.2f} tokens per CPU second"
    )
    print(f"{'config':<26}{'wall ms: step':>14}{'int4':>6}{'head':>6}{'rest':>6}{'CPU ms: step':>14}{'int4':>6}")
    for config, measured in steps.items():
        median = {key: statistics.median(step[key] for step in measured) for key in measured[0]}
        wall_rest = median["wall"] - median["int4 wall"] - median["head wall"]
        cpu_rest = median["cpu"] - median["int4 cpu"] - median["head cpu"]
        print(
            f"{config:<26}{median['wall'] * 1e3:14.0f}{median['int4 wall'] * 1e3:6.0f}{median['head wall'] * 1e3:6.0f}"
            f"{wall_rest * 1e3:6.0f}{median['cpu'] * 1e3:14.0f}{median['int4 cpu'] * 1e3:6.0f}"
            f"  head {median['head cpu'] * 1e3:.0f}  rest {cpu_rest * 1e3:.0f}  tokens per CPU s "
            f"{1 / median['cpu']:.2f} = {1 / median['cpu'] / bound:.0%} of the bound"
        )


if __name__ == "__main__":
    main()
