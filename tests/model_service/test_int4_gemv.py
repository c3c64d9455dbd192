"""int4_gemv.c: built for this CPU on first use, the layout it reads, its arithmetic, and the fallback
to torch's kernel where it cannot be built."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from model_service.backends.chatglm6b import native
from model_service.backends.chatglm6b.cpu import this_cpu
from model_service.backends.chatglm6b.native import int4_kernel
from model_service.backends.chatglm6b.quantization import (
    QuantizedLinear,
    dequantize,
    pack_int4_vnni,
    quantize_rows,
    unpack_int4,
    unpack_int4_vnni,
)

# Activations are rounded to int8 in blocks of 32, up to half a step of 1/127 of the block's largest value.
# Measured (largest error / largest output) on normal data: 0.4-0.6 % (bf16 activations, torch's kernel:
# 0.3 %; int4 weights themselves: 12-15 % against the float weights).
KERNEL_RELATIVE_ERROR = 0.015


# What each variant of int4_gemv.c needs from the CPU (/proc/cpuinfo's names); avx-vnni runs on AVX-VNNI
# or on AVX-512 VNNI's 256-bit form.
NEEDS = {
    "avx512-vnni": [{"avx512f", "avx512bw", "avx512_vnni"}],
    "avx-vnni": [{"avx2", "fma", "avx_vnni"}, {"avx2", "fma", "avx512_vnni", "avx512vl"}],
    "avx2": [{"avx2", "fma"}],
}


def cpu_runs(variant: str) -> bool:
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return any(needed <= flags for needed in NEEDS[variant])


@pytest.fixture
def fresh_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty kernel cache folder and no remembered kernel, so the next int4_kernel() builds afresh."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    int4_kernel.cache_clear()
    yield tmp_path
    int4_kernel.cache_clear()


def switched_off() -> bool:
    return os.environ.get(native.DISABLE_VARIABLE) == "0"


# Each variant with no software prefetch and with the farthest distance a CPU's tuning uses: the prefetch
# must change nothing but speed (it reads past the weight's end, which prefetching may do harmlessly).
PREFETCH_DISTANCES = (0, 16384)


@pytest.fixture(params=[(variant, ahead) for variant in native.VARIANTS for ahead in PREFETCH_DISTANCES])
def kernel(request: pytest.FixtureRequest) -> native.Int4Gemv:
    """Each variant this CPU runs, selected explicitly (the service picks by the CPU), at each prefetch distance."""
    variant, ahead = request.param
    if not cpu_runs(variant):
        pytest.skip(f"this CPU cannot run the {variant} variant")
    if switched_off():
        pytest.skip(f"{native.DISABLE_VARIABLE}=0: this run checks torch's int4 kernel instead")
    built = int4_kernel(variant, ahead)
    assert built is not None and (built.variant, built.prefetch) == (variant, ahead)
    return built


def test_the_layout_puts_each_nibble_where_the_kernel_reads_it() -> None:
    out_features, in_features = 128, 64
    values = torch.randint(-8, 8, (out_features, in_features), dtype=torch.int8)
    packed = pack_int4_vnni(values)
    assert packed.dtype == torch.uint8 and packed.numel() == out_features * in_features // 2
    columns = in_features // 8
    for row, column in [(0, 0), (17, 5), (64 + 35, 8 * 3 + 4 + 2), (127, 63)]:
        block, tile, lane = row // 64, row % 64 // 16, row % 16
        group, high, j = column // 8, column % 8 // 4, column % 4
        byte = int(packed[((block * columns + group) * 4 + tile) * 64 + 4 * lane + j])
        nibble = byte >> 4 if high else byte & 0xF
        assert nibble == int(values[row, column]) + 8, (row, column)
    assert torch.equal(unpack_int4_vnni(packed, out_features, in_features), values)


def test_it_is_built_here_when_the_cpu_and_a_compiler_allow(
    fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(native.VARIANT_VARIABLE, raising=False)
    runnable = [variant for variant in native.VARIANTS if cpu_runs(variant)]
    expected = bool(runnable) and shutil.which("cc") is not None and not switched_off()
    monkeypatch.delenv(native.PREFETCH_VARIABLE, raising=False)
    built = int4_kernel()
    assert (built is not None) == expected
    if built is not None:
        tuning = native.tuning_for(this_cpu())
        assert built.variant == next(variant for variant in tuning.order if cpu_runs(variant))  # this CPU's choice
        assert built.prefetch == tuning.prefetch
        assert list((fresh_kernel / "turtle-soup" / "kernels").glob("int4_gemv-*.so"))


def test_a_variant_is_chosen_by_name_and_a_wrong_name_is_refused(
    fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if switched_off() or not cpu_runs("avx2"):
        pytest.skip("no int4_gemv.c variant runs in this run")
    monkeypatch.setenv(native.VARIANT_VARIABLE, "avx2")
    built = int4_kernel()
    assert built is not None and built.variant == "avx2"
    int4_kernel.cache_clear()
    monkeypatch.setenv(native.VARIANT_VARIABLE, "avx3")
    with pytest.raises(ValueError, match="CHATGLM_INT4_KERNEL='avx3' names no int4 kernel variant; use one of"):
        int4_kernel()


def test_a_prefetch_distance_is_chosen_by_setting_and_a_bad_one_is_refused(
    fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if switched_off() or not cpu_runs("avx2"):
        pytest.skip("no int4_gemv.c variant runs in this run")
    monkeypatch.setenv(native.PREFETCH_VARIABLE, "2048")
    built = int4_kernel("avx2")
    assert built is not None and built.prefetch == 2048
    for bad, message in [("4k", "CHATGLM_INT4_PREFETCH='4k' is not a whole number of bytes"),
                         ("-64", "prefetch distance -64 is outside 0..65536 bytes")]:  # fmt: skip
        int4_kernel.cache_clear()
        monkeypatch.setenv(native.PREFETCH_VARIABLE, bad)
        with pytest.raises(ValueError, match=message):
            int4_kernel("avx2")


def test_every_variant_gives_the_same_numbers() -> None:
    """Exact int32 sums and the same float steps in each: only whether the compiler fuses the last multiply
    and add may differ, an ulp or so of the largest output."""
    if switched_off():
        pytest.skip(f"{native.DISABLE_VARIABLE}=0: this run checks torch's int4 kernel instead")
    variants = [variant for variant in native.VARIANTS if cpu_runs(variant)]
    if len(variants) < 2:
        pytest.skip("this CPU runs fewer than two variants")
    torch.manual_seed(5)
    quantized, scale = quantize_rows(torch.randn(256, 512) * 0.05, 4)
    packed, row, bias = pack_int4_vnni(unpack_int4(quantized)), torch.randn(512), torch.randn(256)
    outputs = []
    for variant in variants:
        for ahead in PREFETCH_DISTANCES:
            built = int4_kernel(variant, ahead)
            assert built is not None
            outputs.append(built(packed, scale.float(), bias, row))
    for output in outputs[1:]:
        assert (output - outputs[0]).abs().max() <= 4 * 2.0**-24 * outputs[0].abs().max()


def errors(
    kernel: native.Int4Gemv, weight: torch.Tensor, row: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the kernel's largest error against the dequantized weights, int4's own against the float weights,
    the largest output): all of them absolute."""
    quantized, scale = quantize_rows(weight, 4)
    exact = dequantize(quantized, scale, 4, torch.float64) @ row.double()
    int4_error = (weight.double() @ row.double() - exact).abs().max()
    expected = exact + (bias.double() if bias is not None else 0)
    got = kernel(pack_int4_vnni(unpack_int4(quantized)), scale.float(), bias, row).double()
    return (got - expected).abs().max(), int4_error, expected.abs().max()


@pytest.mark.parametrize(("out_features", "in_features"), [(192, 64), (256, 4096), (64, 1024)])
def test_it_computes_the_dequantized_product(kernel: native.Int4Gemv, out_features: int, in_features: int) -> None:
    torch.manual_seed(out_features + in_features)
    weight = torch.randn(out_features, in_features) * 0.05
    row, bias = torch.randn(in_features), torch.randn(out_features)
    for with_bias in (None, bias):
        error, _, largest = errors(kernel, weight, row, with_bias)
        assert error < KERNEL_RELATIVE_ERROR * largest
    # Outliers, as LLMs have: a large weight column, and a large activation that coarsens its block's
    # int8 steps. The rounding then costs more (measured up to 4 % of the largest output), still under a
    # fifth of what int4 weights cost already (measured 1-10 %).
    weight[:, 7] *= 20
    row[3] = 40.0
    error, int4_error, _ = errors(kernel, weight, row, bias)
    assert error < int4_error / 5
    torch.set_num_threads(1)
    try:
        one_thread = errors(kernel, weight, row, bias)
    finally:
        torch.set_num_threads(2)
    assert one_thread[0] == error  # rows split between threads, arithmetic unchanged


def quantized_layer() -> tuple[QuantizedLinear, torch.Tensor]:
    torch.manual_seed(3)
    layer = QuantizedLinear(256, 128, 4, dtype=torch.float32)
    weight, scale = quantize_rows(torch.randn(128, 256) * 0.05, 4)
    layer.weight.data, layer.weight_scale.data = weight, scale
    layer.bias.data = torch.randn(128)
    return layer, weight


@pytest.mark.parametrize(
    ("variable", "value", "logged"),
    [
        ("CC", "/nonexistent/cc", "cannot run the C compiler"),
        ("CC", "/bin/false", "building int4_gemv.c failed"),
        ("CHATGLM_NATIVE_KERNEL", "0", "use torch's kernel"),
    ],
)
def test_without_the_kernel_int4_layers_use_torchs(
    fresh_kernel: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    value: str,
    logged: str,
) -> None:
    monkeypatch.delenv(native.DISABLE_VARIABLE, raising=False)  # each case names its own reason
    monkeypatch.delenv(native.VARIANT_VARIABLE, raising=False)
    monkeypatch.setenv(variable, value)
    with caplog.at_level(logging.INFO, logger=native.__name__):
        assert int4_kernel() is None
    assert logged in caplog.text
    layer, weight = quantized_layer()
    x = torch.randn(1, 256)
    expected = x @ dequantize(weight, layer.weight_scale, 4, torch.float32).T + layer.bias
    assert (layer(x) - expected).abs().max() < 0.02 * expected.abs().max()
    assert layer._int4_gemv is None and layer._packed is not None  # torch's int4 pack
    assert torch.equal(layer.state_dict()["weight"], weight)


def test_int4_layers_decode_with_it_and_save_the_published_layout(
    kernel: native.Int4Gemv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(native.VARIANT_VARIABLE, kernel.variant)  # what the layers pick up
    monkeypatch.setenv(native.PREFETCH_VARIABLE, str(kernel.prefetch))
    int4_kernel.cache_clear()
    layer, weight = quantized_layer()
    for rows in (1, 3, 40):  # a decoding step, a short prompt (row by row), a prompt (dequantized)
        x = torch.randn(rows, 256)
        expected = x @ dequantize(weight, layer.weight_scale, 4, torch.float32).T + layer.bias
        assert (layer(x) - expected).abs().max() < KERNEL_RELATIVE_ERROR * expected.abs().max()
    assert layer._int4_gemv is not None and (layer._int4_gemv.variant, layer._int4_gemv.prefetch) == (
        kernel.variant,
        kernel.prefetch,
    )
    int4_kernel.cache_clear()
    assert layer(torch.randn(0, 256)).shape == (0, 128)  # no rows, as torch's kernels allow
    assert torch.equal(layer.state_dict()["weight"], weight)


def test_it_dequantizes_to_bf16_exactly_as_torch_rounds(kernel: native.Int4Gemv) -> None:
    """A prompt's path: the packed weight to bf16 in one pass, the same values as unpack-scale-round in torch."""
    values = torch.randint(-8, 8, (192, 96), dtype=torch.int8)
    scale = torch.rand(192) * 0.01
    expected = (values.float() * scale[:, None]).bfloat16()
    out = torch.empty(192, 96, dtype=torch.bfloat16)
    assert torch.equal(kernel.dequantize(pack_int4_vnni(values), scale, out), expected)
    first_block = torch.empty(64, 96, dtype=torch.bfloat16)
    assert torch.equal(kernel.dequantize(pack_int4_vnni(values), scale, first_block), expected[:64])


def test_a_non_finite_activation_makes_the_output_nan_not_a_number_that_hides_it(kernel: native.Int4Gemv) -> None:
    values = torch.randint(-8, 8, (64, 96), dtype=torch.int8)
    packed, scale = pack_int4_vnni(values), torch.rand(64) * 0.01
    for bad in (float("nan"), float("inf")):
        row = torch.randn(96)
        row[40] = bad
        assert torch.isnan(kernel(packed, scale, None, row)).all()
    row = torch.randn(96)
    row[32:64] = 1e-35  # a block too small to scale counts as zeros
    expected = values.double() * scale.double()[:, None] @ torch.cat((row[:32], torch.zeros(32), row[64:])).double()
    assert (
        kernel(packed, scale, None, row).double() - expected
    ).abs().max() < KERNEL_RELATIVE_ERROR * expected.abs().max()


def test_the_largest_sums_stay_exact(kernel: native.Int4Gemv) -> None:
    """Every nibble at its extreme and every activation at +-127 after rounding: the largest partial sums
    each variant forms (int16 over 32 columns in avx2, 16 x the high nibbles in the VNNI ones) stay exact."""
    in_features = 4096
    values = torch.full((128, in_features), 7, dtype=torch.int8)
    values[64:] = -8
    values[32:64, ::2] = -8  # rows whose columns alternate between the two extremes
    scale = torch.full((128,), 0.5)
    packed = pack_int4_vnni(values)
    for row in (torch.ones(in_features), -torch.ones(in_features), torch.arange(in_features) % 2 * 2.0 - 1):
        expected = values.double() * 0.5 @ row.double()  # int8 rounding of +-1 is exact
        assert torch.equal(kernel(packed, scale, None, row).double(), expected)


def fp32_bound(weight: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
    """Per output, how far an fp32 sum of exact products may be from the exact sum: n * 2^-24 * sum |w x|
    (the worst case for any summation order; bf16 weights are exact in fp32)."""
    return weight.shape[1] * 2.0**-24 * (weight.double().abs() @ row.double().abs())


@pytest.mark.parametrize(("out_features", "in_features"), [(130, 4096), (7, 96), (64, 32)])
def test_the_bf16_product_is_an_fp32_product_of_the_exact_weights(out_features: int, in_features: int) -> None:
    """bf16_gemv (the output matrix of a decoding step): within fp32 rounding of the exact product, where
    torch.mv in bf16 rounds the row and the result to bf16 (8 bits: about 0.4 % of each logit)."""
    kernel = native.bf16_kernel()
    if switched_off():
        assert kernel is None
        pytest.skip(f"{native.DISABLE_VARIABLE}=0: the output matrix uses torch.mv in this run")
    if not cpu_runs("avx2"):
        pytest.skip("this CPU lacks AVX2")
    assert kernel is not None
    torch.manual_seed(in_features)
    weight, row = torch.randn(out_features, in_features).bfloat16(), torch.randn(in_features)
    exact = weight.double() @ row.double()
    got = kernel(weight, row)
    assert got.dtype == torch.float32 and got.shape == (out_features,)  # rows left over from groups of 4 too
    assert ((got.double() - exact).abs() <= fp32_bound(weight, row)).all()
    assert (got.double() - exact).abs().max() < (torch.mv(weight, row.bfloat16()).double() - exact).abs().max()


def test_a_decoding_steps_logits_use_it_when_the_output_matrix_is_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's one-row logits from a bf16 output matrix (quantized, on CPU): bf16_gemv where it runs
    (CPUs without AMX), torch.mv with CHATGLM_NATIVE_KERNEL=0; both near the exact product, ours within
    fp32 rounding."""
    from model_service.backends.chatglm6b.configuration import ChatGLMConfig
    from model_service.backends.chatglm6b.modeling import ChatGLMForConditionalGeneration

    torch.manual_seed(11)
    config = ChatGLMConfig(vocab_size=300, hidden_size=64, num_layers=1, num_attention_heads=4, inner_hidden_size=128)
    model = ChatGLMForConditionalGeneration(config).eval()
    model.transformer.word_embeddings.to(torch.bfloat16)  # tied: the output matrix too, as the loader does
    head = model.lm_head.weight
    assert head.dtype == torch.bfloat16
    hidden = torch.randn(1, 1, 64)
    exact = head.double() @ hidden.reshape(-1).double()
    for disabled in (False, True):
        if disabled:
            monkeypatch.setenv(native.DISABLE_VARIABLE, "0")
        native.bf16_kernel.cache_clear()
        with torch.inference_mode():
            logits = model._output_logits(hidden)
        assert logits.shape == (1, 1, 300) and logits.dtype == torch.float32
        error = (logits.reshape(-1).double() - exact).abs()
        if native.bf16_kernel() is not None and native.bf16_head_is_ours(this_cpu()):
            assert (error <= fp32_bound(head, hidden.reshape(-1))).all()
        else:
            assert error.max() < 0.01 * exact.abs().max()  # bf16 row and result
    assert disabled and native.bf16_kernel() is None
    native.bf16_kernel.cache_clear()
