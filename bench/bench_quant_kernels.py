"""Weight-only int8/int4 matmul kernels on this CPU: which one the ChatGLM-6B quantized linears should use.

    .venv/bin/python bench/bench_quant_kernels.py [--rows 1 16 128] [--repeat 10] [--quick] [--only NAME ...]
        [--threads N] [--best]

For each of ChatGLM-6B's four linear shapes (query_key_value 4096->12288, dense 4096->4096,
dense_h_to_4h 4096->16384, dense_4h_to_h 16384->4096) and a few activation row counts (1 = a decode
step, larger = prefill), it times y = x @ W.T with fp32 activations and:

- fp32: the dense weight (the baseline, 4 bytes per weight);
- int8 torch: torch.ops.aten._weight_int8pack_mm (int8 weight, per-row fp32 scale);
- int8 torch bf16-x: the same kernel with the activations cast to bf16 (its fast path on AVX512 CPUs);
- int8 dequant: weight.to(fp32) * scale, then a dense matmul;
- int8 bitsandbytes: bnb.nn.Linear8bitLt (LLM.int8 with threshold 0, i.e. plain row-wise int8);
- int4 torch: torch.ops.aten._weight_int4pack_mm_for_cpu (weights packed by _convert_weight_to_int4pack_for_cpu,
  symmetric per-row scale replicated over groups of 256, zero point 0);
- int4 torch bf16-x: the same with bf16 activations;
- int4 dequant: unpack the two nibbles, scale, dense matmul;
- int4 bitsandbytes: bnb.nn.Linear4bit (fp4/nf4; not ChatGLM's signed int4, shown for speed only);
- int4 int4_gemv.c VARIANT: the project's kernel (activations rounded to int8 in blocks of 32), one row
  per call, in each variant the CPU runs (avx512-vnni, avx-vnni, avx2) where a C compiler allows it.

"int8 dequant" and "int4 dequant" are what `model_service.chatglm.compute: exact` runs (the original's
CPU arithmetic); `--only` times just the kernels named.

`--stream GB` times int4_gemv.c as a decoding step meets it instead: one row through the four linears of
as many blocks as fill GB (far more than any last-level cache, so every byte comes from memory), each
variant and prefetch distance named (`--variants`, `--prefetch`) in turn, round after round, each round
also timing a plain read of the same bytes (torch's sum, as bench_chatglm_cpu's bound uses). On a shared
machine the ratio to the read of the same round is the figure to compare; the table gives its median
over rounds beside the median and best GB/s, and the same per second of the process's CPU time (with
--threads 1 that leaves out the time the scheduler gave other processes' work).

Prints one line per (kernel, shape, rows) with milliseconds per call and the effective weight
bandwidth (weight bytes / time), then the sum over the four shapes per kernel: the per-token cost
of one transformer block.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_service.backends.chatglm6b.cpu import this_cpu  # noqa: E402
from model_service.backends.chatglm6b.native import VARIANTS, int4_kernel, tuning_for  # noqa: E402
from model_service.backends.chatglm6b.quantization import (  # noqa: E402
    pack_int4_for_torch,
    pack_int4_vnni,
    quantize_rows,
    unpack_int4,
)

SHAPES = {  # name: (in_features, out_features)
    "query_key_value": (4096, 12288),
    "dense": (4096, 4096),
    "dense_h_to_4h": (4096, 16384),
    "dense_4h_to_h": (16384, 4096),
}
GROUP = 256


def timed(call: Callable[[], torch.Tensor], repeat: int, best: bool = False) -> float:
    """Median (or, with `best`, the fastest) seconds per call after a warm-up call; a kernel slower than a
    second is timed once. The fastest is the figure to read on a loaded machine, where a median mostly
    measures how long the scheduler kept the threads waiting."""
    started = time.perf_counter()
    call()
    if time.perf_counter() - started > 1.0:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times) if best else statistics.median(times)


def kernels(weight: torch.Tensor) -> dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], int]]:
    """name -> (x -> y, weight bytes read per call)."""
    out_features, in_features = weight.shape
    q8, s8 = quantize_rows(weight, 8)
    s8_fp32 = s8.float()
    q4, s4 = quantize_rows(weight, 4)  # packed [out, in/2], ChatGLM's layout
    int4pack, scale_zeros = pack_int4_for_torch(q4, s4.float(), GROUP)
    s4_fp32 = s4.float()
    s8_bf16, sz_bf16 = s8.bfloat16(), scale_zeros.bfloat16()
    found: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], int]] = {
        "fp32": (lambda x: x @ weight.T, weight.numel() * 4),
        "int8 torch": (lambda x: torch.ops.aten._weight_int8pack_mm(x, q8, s8_fp32), q8.numel()),
        "int8 torch bf16-x": (
            lambda x: torch.ops.aten._weight_int8pack_mm(x.bfloat16(), q8, s8_bf16).float(),
            q8.numel(),
        ),
        "int8 dequant": (lambda x: x @ (q8.float() * s8_fp32[:, None]).T, q8.numel()),
        "int4 torch": (
            lambda x: torch.ops.aten._weight_int4pack_mm_for_cpu(x, int4pack, GROUP, scale_zeros),
            int4pack.numel(),
        ),
        "int4 torch bf16-x": (
            lambda x: torch.ops.aten._weight_int4pack_mm_for_cpu(x.bfloat16(), int4pack, GROUP, sz_bf16).float(),
            int4pack.numel(),
        ),
        "int4 dequant": (lambda x: x @ (unpack_int4(q4).float() * s4_fp32[:, None]).T, q4.numel()),
        "int8 dequant bf16": (
            lambda x: (x.bfloat16() @ (q8.to(torch.bfloat16) * s8_bf16[:, None]).T).float(),
            q8.numel(),
        ),
        "int4 dequant bf16": (
            lambda x: (x.bfloat16() @ (unpack_int4(q4).to(torch.bfloat16) * s4.bfloat16()[:, None]).T).float(),
            q4.numel(),
        ),
    }
    packed, scale = pack_int4_vnni(unpack_int4(q4)), s4.float()
    for variant in VARIANTS:  # the project's own, each variant this CPU runs (needs a C compiler): a row per call
        kernel = int4_kernel(variant)
        if kernel is not None:
            found[f"int4 int4_gemv.c {variant}"] = (
                lambda x, kernel=kernel: torch.stack([kernel(packed, scale, None, row) for row in x]),
                packed.numel(),
            )
    found.update(_bitsandbytes(weight, in_features, out_features))
    return found


def _bitsandbytes(weight: torch.Tensor, in_features: int, out_features: int) -> dict:
    try:
        import bitsandbytes as bnb
    except ImportError:
        return {}
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            layer8 = bnb.nn.Linear8bitLt(in_features, out_features, bias=False, has_fp16_weights=False, threshold=0.0)
            layer8.weight = bnb.nn.Int8Params(weight.clone(), requires_grad=False, has_fp16_weights=False)
            layer8 = layer8.to("cpu")
            layer8(torch.zeros(1, in_features))
            found["int8 bitsandbytes"] = (layer8, weight.numel())
        except Exception as error:  # a CPU build without the int8 path
            print(f"# bitsandbytes int8 unavailable: {type(error).__name__}: {str(error)[:120]}")
        try:
            layer4 = bnb.nn.Linear4bit(in_features, out_features, bias=False, compute_dtype=torch.float32)
            layer4.weight = bnb.nn.Params4bit(weight.clone(), requires_grad=False, quant_type="nf4")
            layer4 = layer4.to("cpu")
            layer4(torch.zeros(1, in_features))
            found["int4 bitsandbytes (nf4)"] = (layer4, weight.numel() // 2)
        except Exception as error:
            print(f"# bitsandbytes 4-bit unavailable: {type(error).__name__}: {str(error)[:120]}")
    return found


def stream(gigabytes: float, variants: list[str], distances: list[int | None], rounds: int) -> None:
    """Decode-like timing of int4_gemv.c: every byte from memory, alternating configurations within a round."""
    block = [(in_features, out_features) for in_features, out_features in SHAPES.values()]
    block_bytes = sum(in_features * out_features // 2 for in_features, out_features in block)
    layers = max(1, round(gigabytes * 1e9 / block_bytes))
    weights = []  # random bytes are valid packed nibbles; the timing does not depend on their values
    for _ in range(layers):
        for in_features, out_features in block:
            packed = torch.randint(0, 256, (out_features * in_features // 2,), dtype=torch.uint8)
            weights.append((packed, torch.rand(out_features) * 0.01, torch.randn(in_features)))
    total = layers * block_bytes
    configurations = {}
    for variant in variants:
        for distance in distances:
            kernel = int4_kernel(variant, distance)
            if kernel is None:
                print(f"# {variant}: this CPU or build cannot run it")
                continue
            configurations[f"{variant} prefetch {kernel.prefetch}"] = kernel
    print(f"streaming {layers} blocks' linears, {total / 1e9:.2f} GB per pass, {rounds} rounds")

    def read() -> None:
        for packed, _, _ in weights:
            packed.view(torch.float32).sum()

    calls = {
        name: (lambda kernel=kernel: [kernel(*w[:2], None, w[2]) for w in weights])
        for name, kernel in configurations.items()
    }
    calls = {"read": read, **calls}
    wall: dict[str, list[float]] = {name: [] for name in calls}  # GB/s of elapsed time
    cpu: dict[str, list[float]] = {name: [] for name in calls}  # GB per second of this process's CPU time
    for _ in range(rounds):
        for name, call in calls.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            wall[name].append(total / (time.perf_counter() - started) / 1e9)
            cpu[name].append(total / (time.process_time() - cpu_started) / 1e9)
    print(f"{'':30s}{'GB/s median':>12s}{'best':>7s}{'of read':>9s}{'GB/CPU-s':>10s}{'of read':>9s}")
    for name in calls:
        share = statistics.median(a / b for a, b in zip(wall[name], wall["read"], strict=True))
        cpu_share = statistics.median(a / b for a, b in zip(cpu[name], cpu["read"], strict=True))
        print(
            f"{name:30s}{statistics.median(wall[name]):12.1f}{max(wall[name]):7.1f}{share:9.0%}"
            f"{statistics.median(cpu[name]):10.1f}{cpu_share:9.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one small shape, for the smoke test")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="time only these kernels (names as printed)")
    parser.add_argument("--threads", type=int, help="torch's (and int4_gemv.c's) threads (default: torch's)")
    parser.add_argument("--best", action="store_true", help="report the fastest call, not the median")
    parser.add_argument("--stream", type=float, metavar="GB", help="int4_gemv.c over GB of weights from memory")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), help="--stream: variants (default: all)")
    parser.add_argument(
        "--prefetch", nargs="+", type=int, metavar="BYTES", help="--stream: prefetch distances (default: the CPU's)"
    )
    parser.add_argument("--rounds", type=int, default=7, help="--stream: rounds (default 7)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cpu = this_cpu()
    tuning = tuning_for(cpu)
    print(f"CPU: {cpu.describe()}")
    print(f"int4_gemv.c for this CPU: variants in order {', '.join(tuning.order)}, prefetch {tuning.prefetch} bytes")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}")
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    if args.stream:
        with torch.inference_mode():
            stream(args.stream, args.variants or list(VARIANTS), args.prefetch or [None], args.rounds)
        print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
        return
    shapes = {"dense (1/4 size)": (1024, 1024)} if args.quick else SHAPES
    totals: dict[tuple[str, int], float] = {}
    with torch.inference_mode():
        for name, (in_features, out_features) in shapes.items():
            weight = torch.randn(out_features, in_features) * 0.02
            for kernel, (call, nbytes) in kernels(weight).items():
                if args.only and kernel not in args.only:
                    continue
                for rows in args.rows:
                    x = torch.randn(rows, in_features)
                    seconds = timed(lambda call=call, x=x: call(x), args.repeat, args.best)
                    totals[(kernel, rows)] = totals.get((kernel, rows), 0.0) + seconds
                    print(
                        f"{kernel:24s} {name:16s} rows={rows:4d} {seconds * 1e3:8.2f} ms  "
                        f"{nbytes / seconds / 1e9:6.1f} GB/s of weights"
                    )
    print("\nper block (sum over the shapes), ms:")
    for (kernel, rows), seconds in sorted(totals.items(), key=lambda item: (item[0][1], item[1])):
        print(f"  rows={rows:4d} {kernel:24s} {seconds * 1e3:8.2f}")


if __name__ == "__main__":
    main()
