"""ChatGLM-6B (int4 and int8) on this CPU: prefill, time to first token, decode, peak RSS, and how
close decoding comes to the memory-bandwidth bound; chatglm-cpp q4_0 beside it when given.

    .venv/bin/python -m bench.bench_chatglm_cpu --cpp-python /work/scratch/cpp-venv/bin/python
    .venv/bin/python -m bench.bench_chatglm_cpu --smoke        # tiny shape, seconds (the test suite's run)

The model is full-size ChatGLM-6B (28 layers, hidden 4096, inner 16,384, 32 heads, vocab 130,528)
with random weights in the published THUDM/chatglm-6b-int4 / -int8 layout (bench/glm6b_random.py),
written once under --root and reused. Each engine runs in its own process, so its peak RSS is its
own: ours loads the folder with the service's loader (model_service.backends.loader.load_model,
the path `make run` takes) and runs `model.generate`, greedy, as the service does; chatglm-cpp runs
under its own venv's Python (bench/chatglm_cpp_peer.py) on a q4_0 file converted from the same
int4 checkpoint. Both get the same fixed prompt token ids: a game prompt of --prompt-tokens ending
in [gMASK] <sop>. Text is never decoded, so random output ids cannot trip the tokenizer.

The bound: decoding one token reads every weight once, so tokens/s <= bandwidth / bytes per token.
Bandwidth is measured in the same run (best of several sums over a buffer far larger than the
last-level cache, with as many threads as the model uses); bytes per token are those of the
checkpoint's format (all linear weights, scales and biases, plus the fp16 output matrix once).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.glm6b_random import FULL, SMOKE, Shape, checkpoint_bytes_per_token, special_ids, write_checkpoint  # noqa: E402
from model_service.backends.chatglm6b.cpu import this_cpu  # noqa: E402

GOAL = 0.5  # decode at >= 50 % of the bandwidth bound
GIB = 1024**3


# -- the measurements, each in its own process ---------------------------------------------------------


def measure_ours(folder: Path, bits: int, prompt_ids: list[int], new_tokens: int, threads: int) -> dict[str, Any]:
    """Load with the service's loader, warm up, then one timed greedy generate; peak RSS of this process."""
    import torch

    from common.config import ChatGLMBackendConfig
    from model_service.backends.loader import load_model

    torch.set_num_threads(threads)
    settings: dict[str, Any] = {"model_path": str(folder), "quantize": bits, "device": "cpu"}
    if "trust_remote_code" in ChatGLMBackendConfig.model_fields:
        settings["trust_remote_code"] = False
    started = time.perf_counter()
    loaded = load_model(ChatGLMBackendConfig(**settings))
    load_s, model = time.perf_counter() - started, loaded.model
    memory = {"after_load": _memory()}
    warm_s = _generate(model, prompt_ids[:6] + prompt_ids[-2:], 2)[-1]  # first call: buffers, pages weights in
    memory["after_warm_up"] = _memory()
    times = _generate(model, prompt_ids, new_tokens)
    memory["after_run"] = _memory()
    return {
        "load_s": load_s,
        "first_call_s": warm_s,
        "ttft_s": times[0],
        "decode_tokens_per_s": (len(times) - 1) / (times[-1] - times[0]),
        "new_tokens": len(times),
        "rss_loaded_bytes": memory["after_load"]["VmRSS"],
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "memory": memory,  # VmRSS / VmHWM (peak so far) at each stage, to tell load from prefill
        "weight_bytes_in_memory": weight_bytes_in_memory(model),
        "loader_report": loaded.report,
        "int4_kernel": _int4_kernel_variant() if bits == 4 else None,
        "prefill_kernel": _prefill_kernel_name(),
    }


def _int4_kernel_variant() -> str:
    """The int4 kernel the layers ran: int4_gemv.c's VARIANT:PREFETCH_BYTES, or torch's."""
    from model_service.backends.chatglm6b.native import int4_kernel

    kernel = int4_kernel()
    return f"{kernel.variant}:{kernel.prefetch}" if kernel is not None else "torch"  # as --int4-kernels names it


def _prefill_kernel_name() -> str:
    from model_service.backends.chatglm6b.prefill_native import prefill_kernel

    kernel = prefill_kernel()
    return kernel.name if kernel is not None else "bf16 matmul"


def _generate(model: Any, prompt_ids: list[int], new_tokens: int) -> list[float]:
    """Seconds from the call to each new token of a greedy `generate`, as the service calls it."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    class Clock(BaseStreamer):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.prompt_seen = False

        def put(self, value: Any) -> None:
            if self.prompt_seen:  # generate() passes the prompt first
                self.times.append(time.perf_counter())
            self.prompt_seen = True

        def end(self) -> None:
            pass

    clock = Clock()
    input_ids = torch.tensor([prompt_ids])
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            input_ids=input_ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, streamer=clock
        )
    return [moment - started for moment in clock.times]


def weight_bytes_in_memory(model: Any) -> int:
    """Bytes of every distinct tensor the model holds (parameters, buffers, packed kernel weights kept as
    attributes), leaving out the input embedding unless it is also the output matrix: one decoding
    step reads all of these once."""
    import torch

    output = model.get_output_embeddings()
    embedding = model.get_input_embeddings().weight
    shared = output is not None and output.weight.untyped_storage().data_ptr() == embedding.untyped_storage().data_ptr()
    seen: dict[int, int] = {}
    for module in model.modules():
        held = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        for value in vars(module).values():  # kernel-format weights may sit in plain attributes, alone or in tuples
            held += list(value) if isinstance(value, tuple | list) else [value]
        for tensor in held:
            if isinstance(tensor, torch.Tensor) and tensor.device.type == "cpu":
                storage = tensor.untyped_storage()
                seen[storage.data_ptr()] = storage.nbytes()
    if not shared:
        seen.pop(embedding.untyped_storage().data_ptr(), None)
    return sum(seen.values())


def _memory() -> dict[str, int]:
    """This process's VmRSS and VmHWM (its peak RSS so far), bytes."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def read_bandwidth(buffer_bytes: int, threads: int, repeats: int = 7) -> float:
    """Bytes/s of the best of `repeats` full reads (torch sum over float32), with the model's thread count."""
    import torch

    torch.set_num_threads(threads)
    buffer = torch.ones(buffer_bytes // 4, dtype=torch.float32)
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        buffer.sum()
        best = max(best, buffer_bytes / (time.perf_counter() - started))
    del buffer
    return best


# -- driving them ---------------------------------------------------------------------------------------


def game_prompt_ids(shape: Shape, length: int, seed: int = 7) -> list[int]:
    specials = special_ids(shape)
    return prompt_ids(length, specials["mask_token_id"], specials["gmask_token_id"], specials["bos_token_id"], seed)


def prompt_ids(length: int, first_control_id: int, gmask_id: int, sop_id: int, seed: int = 7) -> list[int]:
    """A fixed prompt of `length` ids: ordinary pieces (below the first control piece, [MASK]), then
    [gMASK] <sop> as ChatGLM-6B's tokenizer ends it."""
    rng = random.Random(seed)
    body = [rng.randrange(100, first_control_id) for _ in range(length - 2)]
    return [*body, gmask_id, sop_id]


def run_json(command: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a worker process (with `env` added to the environment); its last stdout line is a JSON object."""
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ensure_checkpoint(folder: Path, shape: Shape, bits: int, rewrite: bool) -> Path:
    if rewrite or not (folder / "config.json").exists():
        started = time.perf_counter()
        write_checkpoint(folder, shape, bits)
        print(f"wrote {folder} in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def run_peer(args: argparse.Namespace, checkpoint: Path, prompt_file: Path, new_tokens: int) -> dict[str, Any]:
    peer = str(ROOT / "bench" / "chatglm_cpp_peer.py")
    ggml = checkpoint.parent / f"{checkpoint.name}-q4_0.ggml.bin"
    if args.rewrite or not ggml.exists():
        partial = ggml.with_suffix(".partial")
        run_json([args.cpp_python, peer, "convert", "--checkpoint", str(checkpoint), "--out", str(partial)], 3600)
        partial.rename(ggml)
    command = [args.cpp_python, peer, "measure", "--model", str(ggml), "--prompt-ids", str(prompt_file)]
    result = run_json([*command, "--new-tokens", str(new_tokens)], 1800)
    result["bytes_per_token"] = ggml.stat().st_size  # every tensor once; the output matrix is the embedding
    return result


def report(shape: Shape, args: argparse.Namespace, results: dict[str, dict[str, Any]], bandwidths: list[float]) -> None:
    bandwidth = max(bandwidths)
    print(f"\nCPU: {this_cpu().describe()}")
    print(
        f"ChatGLM-6B shape: {shape.num_layers} layers, hidden {shape.hidden_size}, inner {shape.inner_hidden_size}, "
        f"vocab {shape.vocab_size}; prompt {args.prompt_tokens} tokens, {args.new_tokens} new tokens, greedy; "
        f"{args.threads} threads, {os.cpu_count()} CPUs"
    )
    print(
        "memory read bandwidth: "
        + ", ".join(f"{value / 1e9:.1f}" for value in bandwidths)
        + f" GB/s (before / after); bound uses the best, {bandwidth / 1e9:.1f} GB/s"
    )
    header = f"{'engine':<30}{'int4 kernel':<20}{'load s':>8}{'TTFT s':>9}{'prefill tok/s':>15}{'decode tok/s':>14}"
    print(header + f"{'GB/token':>10}{'bound tok/s':>13}{'of bound':>10}{'peak RSS GiB':>14}")
    for name, result in results.items():
        bound = bandwidth / result["bytes_per_token"]
        share = result["decode_tokens_per_s"] / bound
        kernel = result.get("int4_kernel") or "-"
        print(
            f"{name:<30}{kernel:<20}{result['load_s']:8.1f}{result['ttft_s']:9.2f}"
            f"{args.prompt_tokens / result['ttft_s']:15.1f}"
            f"{result['decode_tokens_per_s']:14.2f}{result['bytes_per_token'] / 1e9:10.2f}{bound:13.2f}"
            f"{share:10.0%}{result['peak_rss_bytes'] / GIB:14.2f}"
        )
    for name, result in results.items():
        if "weight_bytes_in_memory" in result:
            share = result["decode_tokens_per_s"] * result["weight_bytes_in_memory"] / bandwidth
            print(
                f"{name}: weights as held in memory {result['weight_bytes_in_memory'] / 1e9:.2f} GB "
                f"(decode reads them at {share:.0%} of the bandwidth); RSS after load "
                f"{result['rss_loaded_bytes'] / GIB:.2f} GiB; first (warm-up) call {result['first_call_s']:.1f} s"
            )
    ours = [name for name in results if name.startswith("ours")]
    met = all(
        results[name]["decode_tokens_per_s"] * results[name]["bytes_per_token"] / bandwidth >= GOAL for name in ours
    )
    print(f"goal: decode >= {GOAL:.0%} of the bandwidth bound: {'met' if met else 'NOT met'}")


def kernel_env(kernel: str | None) -> dict[str, str] | None:
    """The worker's environment for an --int4-kernels entry, VARIANT or VARIANT:BYTES (int4_gemv.c reads it)."""
    if kernel is None:
        return None
    variant, _, prefetch = kernel.partition(":")
    return {"CHATGLM_INT4_KERNEL": variant} | ({"CHATGLM_INT4_PREFETCH": prefetch} if prefetch else {})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny shape in a temporary folder, a few seconds")
    parser.add_argument("--root", type=Path, default=Path("/work/scratch"), help="where glm6b-int4/-int8 are kept")
    parser.add_argument("--bits", type=int, nargs="+", default=[4, 8], choices=[4, 8])
    parser.add_argument("--prompt-tokens", type=int, default=600, help="prompt length (default 600, a game prompt)")
    parser.add_argument("--new-tokens", type=int, default=48, help="tokens decoded (default 48)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads (default: all CPUs)")
    parser.add_argument("--bandwidth-gib", type=float, default=2.0, help="buffer read to measure bandwidth")
    parser.add_argument("--cpp-python", help="python of a venv with chatglm-cpp==0.4.2 (torch there too, to convert)")
    parser.add_argument("--rewrite", action="store_true", help="write the checkpoints (and GGML file) again")
    parser.add_argument(
        "--int4-kernels",
        nargs="+",
        metavar="VARIANT",
        help="int4 only: one run per int4_gemv.c variant named (avx512-vnni, avx-vnni, avx2), side by side, "
        "in the order given (a name twice runs twice: alternate them on a shared machine); VARIANT:BYTES also "
        "sets its prefetch distance (avx2:0 = no software prefetch)",
    )
    parser.add_argument(
        "--prefill",
        nargs="+",
        choices=["on", "off", "vnni"],
        help="one run of ours per setting: int8_prefill.c on (its AMX form where the CPU has AMX), vnni (never "
        "AMX), or off (the bf16 prompt path), side by side",
    )
    parser.add_argument("--rounds", type=int, default=1, help="run every engine this many times, alternating")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # internal: measure this folder
    parser.add_argument("--worker-bits", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prompt-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.prompt_tokens, args.new_tokens, args.bandwidth_gib = min(args.prompt_tokens, 24), 4, 0.0625
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        prompt_ids = json.loads(args.prompt_file.read_text())
        result = measure_ours(args.worker, args.worker_bits, prompt_ids, args.new_tokens, args.threads)
        print(json.dumps(result, default=str))
        return
    shape = SMOKE if args.smoke else FULL
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) if args.smoke else args.root
        prompt_file = Path(scratch) / "prompt.json"
        prompt_file.write_text(json.dumps(game_prompt_ids(shape, args.prompt_tokens)))
        print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}", flush=True)
        folders = {bits: ensure_checkpoint(root / f"glm6b-int{bits}", shape, bits, args.rewrite) for bits in args.bits}
        bandwidths = [read_bandwidth(int(args.bandwidth_gib * GIB), args.threads)]
        results: dict[str, dict[str, Any]] = {}
        for round_number in range(1, args.rounds + 1):  # rounds alternate every engine, so load hits all alike
            suffix = f" #{round_number}" if args.rounds > 1 else ""
            for bits, folder in folders.items():
                worker = [sys.executable, "-m", "bench.bench_chatglm_cpu", "--worker", str(folder), "--worker-bits"]
                options = ["--prompt-file", str(prompt_file), "--new-tokens", str(args.new_tokens)]
                kernels = args.int4_kernels if bits == 4 and args.int4_kernels else [None]
                runs = [(kernel, prefill) for kernel in kernels for prefill in args.prefill or [None]]
                for number, (kernel, prefill) in enumerate(runs, 1):
                    env = kernel_env(kernel) or {}  # int4_gemv.c's variant (and prefetch) in the worker
                    if prefill:  # int8_prefill.c on or off (off: the bf16 prompt path it replaced)
                        env["CHATGLM_PREFILL_KERNEL"] = {"on": "1", "off": "0", "vnni": "vnni"}[prefill]
                    command = [*worker, str(bits), *options, "--threads", str(args.threads)]
                    result = run_json(command, 3600, env or None)
                    result["bytes_per_token"] = checkpoint_bytes_per_token(shape, bits)
                    name = (
                        f"ours int{bits}"
                        + (f" {kernel} #{number}" if kernel else "")
                        + (f" prefill {prefill}" if prefill else "")
                    )
                    results[name + suffix] = result
                    print(f"{name + suffix}: {json.dumps(result)}", flush=True)
            if args.cpp_python and 4 in folders:
                results["chatglm-cpp 0.4.2 q4_0" + suffix] = run_peer(args, folders[4], prompt_file, args.new_tokens)
                print(f"chatglm-cpp{suffix}: {json.dumps(results['chatglm-cpp 0.4.2 q4_0' + suffix])}", flush=True)
        bandwidths.append(read_bandwidth(int(args.bandwidth_gib * GIB), args.threads))
        print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    report(shape, args, results, bandwidths)


if __name__ == "__main__":
    main()
