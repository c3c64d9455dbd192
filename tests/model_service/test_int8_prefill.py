"""int8_prefill.c: a prompt's rows times int4 and int8 weights with int8 activations, against the
dequantized float weights; the layers' choice of it, and the bf16 path where it does not run."""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from model_service.backends.chatglm6b import native, prefill_native
from model_service.backends.chatglm6b.prefill_native import Int8Prefill, prefill_kernel
from model_service.backends.chatglm6b.quantization import (
    QuantizedLinear,
    dequantize,
    pack_int4_vnni,
    quantize_rows,
    unpack_int4,
)

# Activations are rounded to int8 in blocks of 128 values (int4_gemv.c: 32), up to half a step of 1/127
# of the block's largest value. Measured (largest error / largest output, per row) on normal data:
# 0.4-1.0 % for both weight widths (about what int8 weights' own rounding costs; a twentieth of int4's);
# torch's kernels with bf16 activations 0.3 %. Blocks of 64 measured no better on these cases.
KERNEL_RELATIVE_ERROR = 0.015
NEEDS = {"avx512f", "avx512bw", "avx512dq", "avx512_vnni"}


def cpu_runs_it() -> bool:
    return set(Path("/proc/cpuinfo").read_text().split()) >= NEEDS


def switched_off() -> bool:
    return any(os.environ.get(name) == "0" for name in (native.DISABLE_VARIABLE, prefill_native.DISABLE_VARIABLE))


@pytest.fixture
def fresh_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty kernel cache folder and no remembered kernels, so the next call builds afresh."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    prefill_kernel.cache_clear()
    native.int4_kernel.cache_clear()
    yield tmp_path
    prefill_kernel.cache_clear()
    native.int4_kernel.cache_clear()


@pytest.fixture
def kernel() -> Int8Prefill:
    if not cpu_runs_it():
        pytest.skip("this CPU lacks AVX-512 VNNI: prompts take the bf16 path (tested below)")
    if switched_off():
        pytest.skip("the prefill kernel is switched off in this run: the bf16 path is tested instead")
    built = prefill_kernel()
    assert built is not None
    return built


def packed(weight: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the kernel's weight, fp32 row scales, the checkpoint's quantized weight) for a float weight."""
    quantized, scale = quantize_rows(weight, bits)
    layout = pack_int4_vnni(unpack_int4(quantized)) if bits == 4 else quantized.contiguous()
    return layout, scale.float(), quantized


def errors(
    kernel: Int8Prefill, weight: torch.Tensor, rows: torch.Tensor, bias: torch.Tensor | None, bits: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row: (the kernel's largest error against the dequantized weights, the weight quantization's own
    against the float weights, the largest output), all absolute; and the kernel's output."""
    layout, scale, quantized = packed(weight, bits)
    exact = rows.double() @ dequantize(quantized, scale, bits, torch.float64).T
    own_error = (rows.double() @ weight.double().T - exact).abs().amax(dim=1)
    expected = exact + (bias.double() if bias is not None else 0)
    got = kernel(layout, bits, scale, bias, rows)
    return (got.double() - expected).abs().amax(dim=1), own_error, expected.abs().amax(dim=1), got


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize(
    ("count", "out_features", "in_features"),
    [
        (1, 64, 32),  # one row, one short activation block
        (7, 192, 96),  # rows: one tile of 6 and one left over; columns: less than a block
        (13, 128, 4128),  # two tiles and one row; a last block of 32 and a last weight chunk of 32 columns
        (40, 256, 2176),  # more than one unpacked chunk of 2048 columns
    ],
)
def test_it_computes_the_dequantized_product(
    kernel: Int8Prefill, bits: int, count: int, out_features: int, in_features: int
) -> None:
    torch.manual_seed(count + out_features + in_features + bits)
    weight = torch.randn(out_features, in_features) * 0.05
    rows, bias = torch.randn(count, in_features), torch.randn(out_features)
    for with_bias in (None, bias):
        error, _, largest, got = errors(kernel, weight, rows, with_bias, bits)
        assert got.shape == (count, out_features)
        assert (error < KERNEL_RELATIVE_ERROR * largest).all(), (error / largest).max()


@pytest.mark.parametrize("bits", [4, 8])
def test_outliers_cost_less_than_int4_weights_and_as_much_as_the_decode_kernel(kernel: Int8Prefill, bits: int) -> None:
    """LLMs have outliers: a large weight column, and a large activation that coarsens its block's int8
    steps. Measured here: int4 weights themselves cost 1-10 % of the output, the rounded activations a
    sixteenth of that; with int8 weights (0.1-0.6 % of their own) the activations cost up to 4.2 % of the
    largest output, as much as int4_gemv.c's blocks of 32 cost in its own outlier case (up to 4 %):
    a large value coarsens its block whatever the block's length, and 8-bit activations cannot be finer
    than 8-bit weights."""
    torch.manual_seed(11)
    weight = torch.randn(128, 512) * 0.05
    weight[:, 7] *= 20
    rows = torch.randn(9, 512)
    rows[:, 3] = 40.0
    error, own_error, largest, _ = errors(kernel, weight, rows, None, bits)
    if bits == 4:
        assert (error < own_error / 5).all(), (error / own_error).max()
    else:
        assert (error < 0.05 * largest).all(), (error / largest).max()


def test_a_row_gets_the_same_numbers_alone_among_others_and_on_any_thread_count(kernel: Int8Prefill) -> None:
    """Each output is its row's exact int32 block sums scaled in a fixed order: neither the tile a row
    falls in nor how the output blocks are split between threads changes a bit of it."""
    torch.manual_seed(2)
    weight, rows = torch.randn(192, 256) * 0.05, torch.randn(11, 256)
    for bits in (4, 8):
        layout, scale, _ = packed(weight, bits)
        together = kernel(layout, bits, scale, None, rows)
        alone = torch.cat([kernel(layout, bits, scale, None, row[None]) for row in rows])
        torch.set_num_threads(1)
        try:
            one_thread = kernel(layout, bits, scale, None, rows)
        finally:
            torch.set_num_threads(2)
        assert torch.equal(together, alone) and torch.equal(together, one_thread)


def test_a_non_finite_activation_makes_its_row_nan_and_a_tiny_block_counts_as_zeros(kernel: Int8Prefill) -> None:
    torch.manual_seed(4)
    weight = torch.randn(64, 256) * 0.05
    layout, scale, quantized = packed(weight, 4)
    rows = torch.randn(4, 256)
    rows[1, 200] = float("nan")
    rows[2, 5] = float("inf")
    rows[3, 128:] = 1e-35  # a whole block too small to scale
    got = kernel(layout, 4, scale, None, rows)
    assert torch.isnan(got[1]).all() and torch.isnan(got[2]).all()
    assert torch.isfinite(got[0]).all() and torch.isfinite(got[3]).all()
    cleaned = torch.cat((rows[3, :128], torch.zeros(128)))
    expected = dequantize(quantized, scale, 4, torch.float64) @ cleaned.double()
    assert (got[3].double() - expected).abs().max() < KERNEL_RELATIVE_ERROR * expected.abs().max()


def test_it_refuses_a_shape_it_cannot_read(kernel: Int8Prefill) -> None:
    assert not Int8Prefill.fits(100, 64) and not Int8Prefill.fits(64, 100) and Int8Prefill.fits(96, 128)
    with pytest.raises(RuntimeError, match=r"cannot run 8-bit \[100, 64\]"):
        kernel(torch.zeros(100, 64, dtype=torch.int8), 8, torch.ones(100), None, torch.zeros(3, 64))


def test_it_is_built_here_when_the_cpu_allows(fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.DISABLE_VARIABLE, raising=False)
    monkeypatch.delenv(prefill_native.DISABLE_VARIABLE, raising=False)
    built = prefill_kernel()
    assert (built is not None) == cpu_runs_it()
    assert list((fresh_kernel / "turtle-soup" / "kernels").glob("int8_prefill-*.so"))


def quantized_layer(bits: int, out_features: int = 192, in_features: int = 256) -> tuple[QuantizedLinear, torch.Tensor]:
    torch.manual_seed(bits)
    layer = QuantizedLinear(in_features, out_features, bits, dtype=torch.float16)  # the checkpoints' dtypes
    weight, scale = quantize_rows(torch.randn(out_features, in_features) * 0.05, bits)
    layer.weight.data, layer.weight_scale.data = weight, scale
    layer.bias.data = torch.randn(out_features).half()
    return layer, weight


def reference(layer: QuantizedLinear, weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return x.double() @ dequantize(weight, layer.weight_scale, layer.bits, torch.float64).T + layer.bias.double()


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_layers_run_prompts_on_it_and_decode_as_before(kernel: Int8Prefill, bits: int) -> None:
    layer, weight = quantized_layer(bits)
    for count in (2, 7, 40):  # from two rows on: a prompt
        x = torch.randn(1, count, 256)
        expected = reference(layer, weight, x)
        got = layer(x)
        assert layer._int8_prefill(count) is kernel  # int4: once packed in int4_gemv.c's layout (first call)
        assert got.shape == (1, count, 192) and got.dtype == torch.float32
        assert (got.double() - expected).abs().max() < KERNEL_RELATIVE_ERROR * expected.abs().max()
    assert layer._int8_prefill(1) is None  # a decoding step keeps its kernel
    assert torch.equal(layer.state_dict()["weight"], weight)  # saved back in the published layout


@pytest.mark.parametrize("variable", [prefill_native.DISABLE_VARIABLE, native.DISABLE_VARIABLE])
def test_switched_off_prompts_take_the_bf16_path(
    fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    monkeypatch.delenv(native.DISABLE_VARIABLE, raising=False)  # each case names its own reason
    monkeypatch.delenv(prefill_native.DISABLE_VARIABLE, raising=False)
    monkeypatch.setenv(variable, "0")
    with caplog.at_level(logging.INFO, logger=prefill_native.__name__):
        assert prefill_kernel() is None
    assert f"{variable}=0: prompts use bf16 matmuls" in caplog.text
    for bits in (4, 8):
        layer, weight = quantized_layer(bits)
        x = torch.randn(40, 256)
        expected = reference(layer, weight, x)
        assert layer._int8_prefill(40) is None
        assert (layer(x).double() - expected).abs().max() < 0.02 * expected.abs().max()  # bf16 activations


def test_without_a_compiler_prompts_take_the_bf16_path(
    fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(native.DISABLE_VARIABLE, raising=False)
    monkeypatch.delenv(prefill_native.DISABLE_VARIABLE, raising=False)
    monkeypatch.setenv("CC", "/bin/false")
    with caplog.at_level(logging.INFO, logger=prefill_native.__name__):
        assert prefill_kernel() is None
    assert "building int8_prefill.c failed" in caplog.text


@pytest.mark.parametrize("bits", [4, 8])
def test_exact_mode_never_uses_it(bits: int) -> None:
    """`compute: exact`: the original's fp32 arithmetic, the same numbers whether or not the kernel runs here."""
    layer, weight = quantized_layer(bits)
    layer.compute_exactly()
    x = torch.randn(40, 256)
    expected = x @ dequantize(weight, layer.weight_scale, bits, torch.float32).T + layer.bias.float()
    assert torch.equal(layer(x), expected)


def test_built_for_a_cpu_without_avx512_vnni_prompts_take_the_bf16_path(
    fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The same source built for AVX2 only (as on most desktop CPUs) holds no kernel and says so."""
    monkeypatch.delenv(native.DISABLE_VARIABLE, raising=False)
    monkeypatch.delenv(prefill_native.DISABLE_VARIABLE, raising=False)
    flags = tuple("-march=x86-64-v3" if flag == "-march=native" else flag for flag in prefill_native.FLAGS)
    monkeypatch.setattr(prefill_native, "FLAGS", flags)
    with caplog.at_level(logging.INFO, logger=prefill_native.__name__):
        assert prefill_kernel() is None
    assert "this CPU lacks AVX-512 VNNI: prompts use bf16 matmuls" in caplog.text
    layer, weight = quantized_layer(8)
    x = torch.randn(40, 256)
    assert (layer(x).double() - reference(layer, weight, x)).abs().max() < 0.02 * reference(
        layer, weight, x
    ).abs().max()


def amx_runs_it() -> bool:
    return cpu_runs_it() and {"amx_tile", "amx_int8"} <= set(Path("/proc/cpuinfo").read_text().split())


@pytest.fixture
def both_forms(kernel: Int8Prefill) -> tuple[Int8Prefill, Int8Prefill]:
    """(the VNNI form, the AMX form) from one build, where this CPU has AMX (else the test is skipped)."""
    if not amx_runs_it():
        pytest.skip("this CPU has no AMX: the VNNI form is the one that runs, tested above")
    library = ctypes.CDLL(str(prefill_native._build()))
    return Int8Prefill(library, amx=False), Int8Prefill(library, amx=True)


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize(
    ("count", "out_features", "in_features"),
    [
        (1, 64, 32),  # one row in a tile of 16 (the rest padding), a last step of 32 columns
        (17, 192, 96),  # two tiles of rows, the second holding one; 64 + 32 columns
        (40, 256, 2176),  # more than one unpacked chunk; its last block 128 columns
        (33, 128, 4128),  # a last block of 32 columns after a chunk boundary
    ],
)
def test_the_amx_form_gives_the_vnni_forms_numbers_bit_for_bit(
    both_forms: tuple[Int8Prefill, Int8Prefill], bits: int, count: int, out_features: int, in_features: int
) -> None:
    """The tiles sum the same int32 products per block, and the floats are made from them in the same order."""
    vnni, amx = both_forms
    torch.manual_seed(count * 7 + bits)
    weight = torch.randn(out_features, in_features) * 0.05
    rows, bias = torch.randn(count, in_features) * 3, torch.randn(out_features)
    layout, scale, _ = packed(weight, bits)
    for with_bias in (None, bias):
        assert torch.equal(amx(layout, bits, scale, with_bias, rows), vnni(layout, bits, scale, with_bias, rows))
    rows[count // 2, 5] = float("nan")
    assert torch.equal(amx(layout, bits, scale, None, rows).isnan(), vnni(layout, bits, scale, None, rows).isnan())


def test_amx_is_chosen_where_it_runs_unless_the_vnni_form_is_asked_for(
    fresh_kernel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not amx_runs_it() or switched_off():
        pytest.skip("this CPU has no AMX (or the kernel is off in this run): there is nothing to choose")
    monkeypatch.delenv(prefill_native.DISABLE_VARIABLE, raising=False)
    chosen = prefill_kernel()
    assert chosen is not None and chosen.amx and chosen.name == "int8_prefill.c (amx)"
    prefill_kernel.cache_clear()
    monkeypatch.setenv(prefill_native.DISABLE_VARIABLE, prefill_native.VNNI_ONLY)
    chosen = prefill_kernel()
    assert chosen is not None and not chosen.amx and chosen.name == "int8_prefill.c (avx512-vnni)"
