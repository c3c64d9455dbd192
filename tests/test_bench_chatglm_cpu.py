"""The ChatGLM-6B CPU benchmark: its random checkpoint has the published int4/int8 layout, and a tiny
run goes end to end through the service's loader. The full-size figures are in docs/PERFORMANCE.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sentencepiece
import torch

from bench.glm6b_random import FULL, SMOKE, checkpoint_bytes_per_token, sentencepiece_bytes, write_checkpoint
from model_service.backends.chatglm6b.cpu import this_cpu
from model_service.backends.chatglm6b.native import VARIANTS, int4_kernel

REPO = Path(__file__).resolve().parents[1]
LINEARS = ("attention.query_key_value", "attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h")


def _tensors(folder: Path) -> dict[str, torch.Tensor]:
    index = folder / "pytorch_model.bin.index.json"
    files = ["pytorch_model.bin"]
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    tensors: dict[str, torch.Tensor] = {}
    for name in files:
        tensors.update(torch.load(folder / name, weights_only=True))
    return tensors


@pytest.mark.parametrize("bits", [4, 8])
def test_random_checkpoint_is_in_the_published_quantized_layout(tmp_path: Path, bits: int) -> None:
    folder = write_checkpoint(tmp_path / f"int{bits}", SMOKE, bits)
    config = json.loads((folder / "config.json").read_text())
    tensors = _tensors(folder)
    hidden, inner = SMOKE.hidden_size, SMOKE.inner_hidden_size
    assert config["quantization_bit"] == bits and config["model_type"] == "chatglm"
    assert (folder / "pytorch_model.bin").exists() == (bits == 4)  # int4 one file; int8 sharded with an index
    expected = {"query_key_value": (3 * hidden, hidden), "dense": (hidden, hidden)}
    expected |= {"dense_h_to_4h": (inner, hidden), "dense_4h_to_h": (hidden, inner)}
    for layer in range(SMOKE.num_layers):
        for linear in LINEARS:
            out, inp = expected[linear.split(".")[1]]
            weight = tensors[f"transformer.layers.{layer}.{linear}.weight"]
            scale = tensors[f"transformer.layers.{layer}.{linear}.weight_scale"]
            assert weight.dtype == torch.int8 and tuple(weight.shape) == (out, inp if bits == 8 else inp // 2)
            assert scale.dtype == torch.float16 and tuple(scale.shape) == (out,)
    embeddings = tensors["transformer.word_embeddings.weight"]
    assert embeddings.dtype == torch.float16 and tuple(embeddings.shape) == (SMOKE.vocab_size, hidden)
    assert ("lm_head.weight" in tensors) == (bits == 8)
    layer_names = {name.split(".", 3)[3] for name in tensors if name.startswith("transformer.layers.0.")}
    assert len(layer_names) == 4 + 1 + 4 * 3  # LayerNorms, inv_freq, and weight/scale/bias per linear


def test_tokenizer_has_chatglm_6b_piece_layout_and_config_ids_agree(tmp_path: Path) -> None:
    full = sentencepiece.SentencePieceProcessor(model_proto=sentencepiece_bytes(FULL))
    assert full.get_piece_size() == 130344
    assert [full.id_to_piece(i) for i in (130000, 130001, 130004, 130005)] == ["[MASK]", "[gMASK]", "<sop>", "<eop>"]
    folder = write_checkpoint(tmp_path / "tiny", SMOKE, 4)
    config = json.loads((folder / "config.json").read_text())
    tiny = sentencepiece.SentencePieceProcessor(model_file=str(folder / "ice_text.model"))
    assert tiny.id_to_piece(config["gmask_token_id"]) == "[gMASK]"
    assert tiny.id_to_piece(config["eos_token_id"]) == "<eop>"


def test_bytes_per_token_of_full_size_formats() -> None:
    # 28 blocks x 201.3 M linear weights at 4 / 8 bits, plus the 130,528 x 4,096 fp16 output matrix
    assert checkpoint_bytes_per_token(FULL, 4) == pytest.approx(3.893e9, rel=1e-3)
    assert checkpoint_bytes_per_token(FULL, 8) == pytest.approx(6.711e9, rel=1e-3)


def test_benchmark_runs_in_smoke_mode_and_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.bench_chatglm_cpu", "--smoke", "--threads", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    assert f"CPU: {this_cpu().describe()}\n" in result.stdout  # figures from different machines told apart
    table = result.stdout.split("peak RSS GiB")[1]
    kernel = int4_kernel()
    for engine, ran in (
        ("ours int4", f"{kernel.variant}:{kernel.prefetch}" if kernel else "torch"),
        ("ours int8", "-"),
    ):
        row = next(line for line in table.splitlines() if line.startswith(engine)).split()
        assert row[2] == ran  # the int4 kernel that ran, beside the figures
        assert float(row[6]) > 0  # decode tokens/s
    assert "goal: decode >= 50% of the bandwidth bound" in result.stdout


def test_kernel_benchmark_names_the_cpu_and_streams_each_variant_from_memory() -> None:
    """bench_quant_kernels --stream, tiny: the CPU, each variant this CPU runs, its share of a plain read."""
    command = [sys.executable, "bench/bench_quant_kernels.py", "--threads", "1", "--stream", "0.01", "--rounds", "1"]
    command += ["--prefetch", "0", "1024"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f"CPU: {this_cpu().describe()}\n")
    table = result.stdout.split("of read\n")[1].splitlines()
    rows = {line.rsplit(None, 5)[0]: line.split() for line in table if " prefetch " in line}
    runnable = [variant for variant in VARIANTS if int4_kernel(variant) is not None]
    assert list(rows) == [f"{variant} prefetch {ahead}" for variant in runnable for ahead in (0, 1024)]
    for row in rows.values():
        assert float(row[3]) > 0 and row[5].endswith("%") and row[7].endswith("%")  # GB/s; shares of the read


def test_memory_benchmark_runs_the_model_inside_a_cgroup(tmp_path: Path) -> None:
    """bench_chatglm_memory end to end on a tiny int4 checkpoint: a limit, a peak, the child's report."""
    folder = write_checkpoint(tmp_path / "int4", SMOKE, 4)
    command = [sys.executable, "-m", "bench.bench_chatglm_memory", "--checkpoint", str(folder)]
    command += ["--limit-mib", "2048", "--prompt-tokens", "40", "--new-tokens", "3"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:  # not root, or no cgroup tree to write: it must say so
        assert "cannot make a memory cgroup (needs root" in result.stderr
        return
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("cgroup v") and "limit 2048 MiB" in lines[0]
    assert "exit status 0" in lines[1] and "allocations over the limit: 0" in lines[1]
    report = json.loads(lines[2])
    assert report["new_tokens"] == 3 and report["loader"]["quantization"] == "checkpoint-4bit"


def test_decode_split_benchmark_times_the_step_parts_per_configuration() -> None:
    """bench_decode_split on the tiny model: each configuration's step split and its share of the bound."""
    if int4_kernel("avx2") is None:
        pytest.skip("int4_gemv.c's avx2 variant does not run here (no AVX2, no compiler, or switched off)")
    command = [sys.executable, "-m", "bench.bench_decode_split", "--smoke", "--rounds", "1", "--steps", "4"]
    result = subprocess.run(
        [*command, "avx2:0:ours", "avx2:1024:torch"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"CPU: {this_cpu().describe()}\n" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("avx2:")]
    assert [row.split()[0] for row in rows] == ["avx2:0:ours", "avx2:1024:torch"]
    for row in rows:
        assert float(row.split()[1]) > 0 and row.endswith("of the bound")
