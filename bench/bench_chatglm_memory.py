"""Does int4 ChatGLM-6B run within a memory limit on CPU? Load + a game prompt + new tokens in a cgroup.

    sudo .venv/bin/python -m bench.bench_chatglm_memory [--limit-mib 5722] [--new-tokens 40]

The model (full-size, random weights, the published int4 layout: see bench/bench_chatglm_cpu.py,
which writes it) is loaded with the service's loader and runs `generate` greedy on a 600-token
prompt, in a child process placed in a fresh memory cgroup (v1 `memory.limit_in_bytes` or v2
`memory.max`; page cache counts, as it does for a container). Prints the cgroup's peak usage, whether
any allocation hit the limit, and the child's own report. Needs root and a writable cgroup tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def own_cgroup() -> tuple[str, Path]:
    """("v1" | "v2", this process's memory cgroup folder)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return "v1", Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    unified = next(line for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    return "v2", Path("/sys/fs/cgroup") / unified.split("::", 1)[1].lstrip("/")


def make_cgroup(limit_bytes: int) -> tuple[str, Path]:
    version, parent = own_cgroup()
    folder = parent / f"chatglm-bench-{os.getpid()}"
    folder.mkdir()
    (folder / ("memory.limit_in_bytes" if version == "v1" else "memory.max")).write_text(str(limit_bytes))
    return version, folder


def peak_and_failures(version: str, folder: Path) -> tuple[int, int]:
    if version == "v1":
        return int((folder / "memory.max_usage_in_bytes").read_text()), int((folder / "memory.failcnt").read_text())
    events = dict(line.split() for line in (folder / "memory.events").read_text().splitlines())
    peak = folder / "memory.peak"  # Linux 5.19+
    return (int(peak.read_text()) if peak.exists() else -1), int(events.get("max", 0)) + int(events.get("oom", 0))


def worker(folder: Path, new_tokens: int, prompt_tokens: int) -> None:
    import torch

    sys.path.insert(0, str(ROOT))
    from bench.bench_chatglm_cpu import prompt_ids
    from common.config import ChatGLMBackendConfig
    from model_service.backends.loader import load_model

    torch.set_num_threads(os.cpu_count() or 1)
    loaded = load_model(ChatGLMBackendConfig(model_path=str(folder), quantize=4, device="cpu"))
    config = loaded.model.config
    ids = prompt_ids(prompt_tokens, config.mask_token_id, config.gmask_token_id, config.bos_token_id)
    prompt = torch.tensor([ids])
    started = time.perf_counter()
    with torch.inference_mode():
        output = loaded.model.generate(
            input_ids=prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
        )
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    report = {
        "new_tokens": output.shape[1] - prompt.shape[1],
        "generate_s": round(time.perf_counter() - started, 1),
        "loader": loaded.report,
        **{key: status[key].strip() for key in ("VmHWM", "VmRSS", "RssAnon")},
    }
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("/work/scratch/glm6b-int4"))
    parser.add_argument("--limit-mib", type=int, default=5722, help="cgroup limit (default 5,722 MiB = 6.0 GB)")
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--new-tokens", type=int, default=40)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.checkpoint, args.new_tokens, args.prompt_tokens)
        return
    if not (args.checkpoint / "config.json").exists():
        raise SystemExit(f"{args.checkpoint}: no checkpoint; `python -m bench.bench_chatglm_cpu --bits 4` writes it")
    try:
        version, folder = make_cgroup(args.limit_mib * MIB)
    except (OSError, StopIteration) as error:
        raise SystemExit(f"cannot make a memory cgroup (needs root and a writable cgroup tree): {error}") from error
    procs = folder / ("tasks" if version == "v1" else "cgroup.procs")
    command = [sys.executable, "-m", "bench.bench_chatglm_memory", "--worker", "--checkpoint", str(args.checkpoint)]
    command += ["--new-tokens", str(args.new_tokens), "--prompt-tokens", str(args.prompt_tokens)]
    try:
        result = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, check=False, preexec_fn=lambda: procs.write_text("0")
        )
        peak, failures = peak_and_failures(version, folder)
    finally:
        folder.rmdir()
    print(f"cgroup {version}, limit {args.limit_mib} MiB ({args.limit_mib * MIB / 1e9:.2f} GB)")
    print(f"exit status {result.returncode}; cgroup peak {peak / 1e9:.2f} GB; allocations over the limit: {failures}")
    print(result.stdout.strip().splitlines()[-1] if result.returncode == 0 else result.stderr[-2000:])


if __name__ == "__main__":
    main()
