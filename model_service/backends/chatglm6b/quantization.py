"""Weight-only int8/int4 linears in ChatGLM-6B's published layout, run with torch's own kernels.

The checkpoints THUDM/chatglm-6b-int8 and -int4 store, for each block's four linears:

- `weight`: int8 `[out, in]` (8-bit), or int8 `[out, in/2]` (4-bit) with input column 2j in the high
  nibble and column 2j+1 in the low nibble, both signed (-8..7);
- `weight_scale`: fp16 `[out]`, so that `W[o, i] = q[o, i] * weight_scale[o]` (symmetric, per output row);
- `bias`: as in the float model.

`quantize: 4|8` at load time produces the same layout from float weights (absmax / 127 or / 7 per
row, rounded, as ChatGLM-6B's own `quantize()` does).

On CPU, int4 layers decode with int4_gemv.c (VNNI or AVX2 integer dot products, whichever the CPU
has, compiled for it on first use by native.py), which reads the weights at the memory's speed; where
it cannot run,
and for int8, with torch's weight-only kernels (`_weight_int4pack_mm_for_cpu`, `_weight_int8pack_mm`)
with the activations in bf16, their fast path (their fp32 path is 10-100x slower).
bench/bench_quant_kernels.py measured them against bitsandbytes (3-20x slower here) and against
dequantize-then-matmul (figures in docs/MODEL_SERVICE.md). Those kernels cost time per activation
row, so a prompt of more than PREFILL_ROWS tokens instead dequantizes the weight to bf16 once and
runs one bf16 matmul (AMX where the CPU has it); int4_gemv.c does that dequantization in one pass
where it runs (a 600-token prompt: 22 s instead of 29 s on 2 cores). Where the CPU has AVX-512 VNNI,
a prompt (INT8_PREFILL_ROWS rows or more) instead runs int8_prefill.c (prefill_native.py): its
activations rounded to int8 in blocks, integer dot products against the int4 or int8 weights as
stored, each weight read once per call; `CHATGLM_PREFILL_KERNEL=0` keeps the bf16 path. The weight is converted to the
kernel's format once, on the first forward (or by `pack()`), and the checkpoint copy is dropped so
only one copy stays in memory; `state_dict()` converts back. On CUDA (or any other device, or with
activations in fp16) the weight is dequantized per call and multiplied in the activation dtype,
as the original's kernels do. `compute_exactly()` (`model_service.chatglm.compute: exact`) takes that
path on CPU too, in fp32: the original's CPU arithmetic, the whole weight dequantized on every call.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from model_service.backends.chatglm6b.native import ROWS as VNNI_ROWS
from model_service.backends.chatglm6b.native import Int4Gemv, int4_kernel, kept_buffer
from model_service.backends.chatglm6b.prefill_native import Int8Prefill, prefill_kernel

log = logging.getLogger(__name__)

INT4_GROUPS = (256, 128, 64, 32)  # torch's int4 kernel: groups of input columns; ChatGLM has one scale per row
PACK_BLOCK = 64  # torch's CPU int4 pack: blocks of 64 output rows (N must divide by it to unpack here)
PREFILL_ROWS = 32  # above this many activation rows, dequantize once and matmul (measured crossover)
INT8_PREFILL_ROWS = 2  # from this many rows on, int8_prefill.c where it runs (it reads each weight once per call)
DEQUANT_ROWS = 1024  # output rows dequantized at a time for a prompt (a multiple of torch's pack block)
LINEAR_NAMES = ("attention.query_key_value", "attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h")


def int4_group(in_features: int) -> int | None:
    return next((group for group in INT4_GROUPS if in_features % group == 0), None)


def quantize_rows(weight: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float `[out, in]` -> (int8 weight in the checkpoint layout, fp16 per-row scale), like ChatGLM's quantize()."""
    if bits not in (4, 8):
        raise ValueError(f"quantization bits must be 4 or 8, not {bits}")
    top = 2 ** (bits - 1) - 1
    scale = (weight.abs().amax(dim=-1).float() / top).half()
    safe = torch.where(scale == 0, torch.ones_like(scale), scale).float()
    quantized = torch.round(weight.float() / safe[:, None]).clamp_(-top - 1, top).to(torch.int8)
    return (pack_int4(quantized) if bits == 4 else quantized), scale


def pack_int4(values: torch.Tensor) -> torch.Tensor:
    """int8 `[out, in]` in -8..7 -> int8 `[out, in/2]`: column 2j in the high nibble, 2j+1 in the low nibble."""
    high, low = values[:, 0::2], values[:, 1::2]
    return ((high << 4) | (low & 0xF)).to(torch.int8)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """The inverse of pack_int4 (signed nibbles: arithmetic shifts on int8 sign-extend them)."""
    high = packed >> 4
    low = (packed << 4) >> 4
    return torch.stack((high, low), dim=-1).reshape(packed.shape[0], packed.shape[1] * 2)


def dequantize(weight: torch.Tensor, scale: torch.Tensor, bits: int, dtype: torch.dtype) -> torch.Tensor:
    values = unpack_int4(weight) if bits == 4 else weight
    return values.to(dtype) * scale.to(dtype)[:, None]


def pack_int4_for_torch(packed: torch.Tensor, scale: torch.Tensor, group: int = 256) -> tuple[Any, Any]:
    """ChatGLM int4 -> (torch's CPU int4pack weight, its [in/group, out, 2] scales-and-zeros, fp32)."""
    unsigned = (unpack_int4(packed).to(torch.int32) + 8).contiguous()  # torch's kernel computes (q - 8) * s + z
    weight = torch.ops.aten._convert_weight_to_int4pack_for_cpu(unsigned, 1)
    groups = packed.shape[1] * 2 // group
    scale_zeros = torch.zeros(groups, packed.shape[0], 2, dtype=torch.float32, device=packed.device)
    scale_zeros[..., 0] = scale.float()[None, :]
    return weight, scale_zeros


def int4_from_torch_pack(weight: torch.Tensor, out_features: int, in_features: int) -> torch.Tensor:
    """Signed int4 values [out, in] from torch's CPU int4pack.

    That format (torch 2.5+, `_convert_weight_to_int4pack_for_cpu`) is, per block of 64 output rows
    and for each input column k, 32 bytes whose low nibbles are rows 0-31 of the block and high
    nibbles rows 32-63, unsigned with an offset of 8 (checked against the op in the tests).
    """
    blocks = weight.reshape(out_features // PACK_BLOCK, in_features, PACK_BLOCK // 2).to(torch.int8)
    low, high = blocks & 0xF, (blocks >> 4) & 0xF
    values = torch.stack((low, high), dim=1).permute(0, 1, 3, 2).reshape(out_features, in_features)
    return values - 8


def pack_int4_vnni(values: torch.Tensor) -> torch.Tensor:
    """Signed int4 values [out, in] -> uint8 [out * in / 2] in int4_gemv.c's layout.

    Blocks of 64 output rows; in each, for every 8 input columns c, four 64-byte chunks (16-row tiles t);
    byte 4r + j of a chunk holds row 64R + 16t + r: low nibble column 8c + j, high nibble 8c + 4 + j,
    as value + 8.
    """
    out_features, in_features = values.shape
    unsigned = (values + 8).view(torch.uint8)  # -8..7 + 8 fits in int8: no wider temporary
    grouped = unsigned.reshape(out_features // VNNI_ROWS, 4, 16, in_features // 8, 2, 4)  # R t r c half j
    packed = grouped[..., 0, :] | (grouped[..., 1, :] << 4)  # R t r c j
    return packed.permute(0, 3, 1, 2, 4).contiguous().reshape(-1)  # R c t r j


def unpack_int4_vnni(packed: torch.Tensor, out_features: int, in_features: int) -> torch.Tensor:
    """The inverse of pack_int4_vnni: int8 values [out, in] (out a multiple of 64; a slice of whole blocks)."""
    grouped = packed.reshape(out_features // VNNI_ROWS, in_features // 8, 4, 16, 4)  # R c t r j
    halves = torch.stack((grouped & 0xF, grouped >> 4), dim=-2)  # R c t r half j
    values = halves.permute(0, 2, 3, 1, 4, 5).reshape(out_features, in_features)  # R t r c half j
    return values.to(torch.int8) - 8


class QuantizedLinear(nn.Module):
    """`y = x @ (q * scale).T + bias` with q int8 or int4, in ChatGLM-6B's parameter names and layout."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bits: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype = torch.float16,
    ) -> None:
        super().__init__()
        if bits not in (4, 8):
            raise ValueError(f"quantization_bit must be 4 or 8, not {bits}")
        self.in_features, self.out_features, self.bits = in_features, out_features, bits
        columns = in_features * bits // 8
        self.weight = nn.Parameter(
            torch.empty(out_features, columns, dtype=torch.int8, device=device), requires_grad=False
        )
        self.weight_scale = nn.Parameter(torch.empty(out_features, dtype=dtype, device=device), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(out_features, dtype=dtype, device=device)) if bias else None
        self._packed: tuple[torch.Tensor, torch.Tensor] | None = None  # a CPU kernel's format
        self._int4_gemv: Int4Gemv | None = None  # set when _packed is int4_gemv.c's layout
        self._group = int4_group(in_features)
        self._use_cpu_kernel = bits == 8 or (self._group is not None and out_features % PACK_BLOCK == 0)
        self.exact = False  # compute_exactly(): the original's fp32 arithmetic instead of the kernels
        self._scale_fp32: torch.Tensor | None = None  # int8's scale for int8_prefill.c, made on first use

    @classmethod
    def from_float(cls, linear: nn.Linear, bits: int) -> QuantizedLinear:
        """Quantize a float nn.Linear (ChatGLM's `quantize(bits)`); the float weight can then be freed."""
        layer = cls(
            linear.in_features, linear.out_features, bits, bias=linear.bias is not None, device=linear.weight.device
        )
        weight, scale = quantize_rows(linear.weight.detach(), bits)
        layer.weight = nn.Parameter(weight, requires_grad=False)
        layer.weight_scale = nn.Parameter(scale, requires_grad=False)
        if linear.bias is not None:
            layer.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        return layer

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}"

    def compute_exactly(self) -> None:
        """From now on dequantize the weight in the activations' dtype (`q * weight_scale`, one rounding) and
        multiply in that dtype, as the original's CPU path does in fp32: slow, but the original's numbers."""
        if self._packed is not None:
            self.weight.data = self._checkpoint_weight()
            self._packed, self._int4_gemv = None, None
        self.exact = True

    # -- the CPU kernels' format -------------------------------------------------------------

    def pack(self) -> None:
        """Convert the weight to torch's CPU kernel format now (the first forward would do it) and drop the copy."""
        if self._packed is not None or self.weight.device.type != "cpu" or not self._use_cpu_kernel or self.exact:
            return
        if self.weight.device.type == "meta" or self.weight.numel() == 0:
            return
        with torch.no_grad():
            kernel = int4_kernel() if self.bits == 4 and Int4Gemv.fits(self.in_features, self.out_features) else None
            if kernel is not None:
                packed = (self._repack_for_vnni(self.weight.data), self.weight_scale.data.float().contiguous())
            elif self.bits == 8:
                packed = (self.weight.data.contiguous(), self.weight_scale.data.to(torch.bfloat16))
            else:
                weight, scale_zeros = pack_int4_for_torch(self.weight.data, self.weight_scale.data, self._group or 256)
                packed = (weight, scale_zeros.to(torch.bfloat16))
        self._packed, self._int4_gemv = packed, kernel
        # One copy in memory: the checkpoint-layout tensor is rebuilt by state_dict() when saving.
        self.weight.data = torch.empty(0, dtype=torch.int8)

    def _repack_for_vnni(self, weight: torch.Tensor) -> torch.Tensor:
        """The checkpoint's int4 -> int4_gemv.c's layout, DEQUANT_ROWS rows at a time: whole-matrix
        temporaries (up to 4x the packed size) would stay in malloc's arenas after loading."""
        packed = torch.empty(self.out_features * self.in_features // 2, dtype=torch.uint8)
        bytes_per_row = self.in_features // 2
        for start in range(0, self.out_features, DEQUANT_ROWS):
            stop = min(start + DEQUANT_ROWS, self.out_features)
            packed[start * bytes_per_row : stop * bytes_per_row] = pack_int4_vnni(unpack_int4(weight[start:stop]))
        return packed

    def _checkpoint_weight(self) -> torch.Tensor:
        if self._packed is None:
            return self.weight.data
        if self.bits == 8:
            return self._packed[0]
        return pack_int4(self._int4_values(self._packed[0], self.out_features))

    def _int4_values(self, packed: torch.Tensor, rows: int) -> torch.Tensor:
        """Signed int4 values [rows, in] from the kernel format (whole blocks of 64 rows)."""
        if self._int4_gemv is not None:
            return unpack_int4_vnni(packed, rows, self.in_features)
        return int4_from_torch_pack(packed, rows, self.in_features)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "weight"] = self._checkpoint_weight()

    def _apply(self, fn: Any, recurse: bool = True) -> QuantizedLinear:
        # Moving or casting the module: go back to the checkpoint layout, repacked lazily where useful.
        if self._packed is not None:
            self.weight.data = self._checkpoint_weight()
            self._packed, self._int4_gemv = None, None
        self._scale_fp32 = None
        result = super()._apply(fn, recurse)
        self.weight.data = self.weight.data.to(torch.int8)  # .half()/.float() must not cast the integers
        return result

    # -- forward -----------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and x.dtype == torch.float32 and self._use_cpu_kernel and not self.exact:
            if self._packed is None:
                self.pack()
            rows = x.reshape(-1, self.in_features)
            prefill = self._int8_prefill(rows.shape[0])
            if prefill is not None:  # a prompt, int8 activations (bias included)
                weight, scale = self._packed if self._int4_gemv is not None else (self._packed[0], self._row_scale())
                bias = self.bias.float().contiguous() if self.bias is not None else None
                output = prefill(weight, self.bits, scale, bias, rows)
                return output.reshape(*x.shape[:-1], self.out_features)
            if self._int4_gemv is not None and rows.shape[0] <= PREFILL_ROWS:
                output = self._vnni_rows(rows)  # bias included
                return output.reshape(*x.shape[:-1], self.out_features)
            output = self._cpu_kernel(rows).reshape(*x.shape[:-1], self.out_features)
        else:  # the original's arithmetic: the whole weight in x's dtype, one matmul, then the bias
            weight = dequantize(self._checkpoint_weight(), self.weight_scale, self.bits, x.dtype)
            output = (x.reshape(-1, self.in_features) @ weight.T).reshape(*x.shape[:-1], self.out_features)
        if self.bias is not None:
            output = output + self.bias.to(output.dtype)
        return output

    def _int8_prefill(self, count: int) -> Int8Prefill | None:
        """int8_prefill.c where it runs and pays: enough rows, and a weight in a layout it reads (int8, or
        int4 in int4_gemv.c's; torch's int4 pack is left to torch)."""
        if count < INT8_PREFILL_ROWS or (self.bits == 4 and self._int4_gemv is None):
            return None
        kernel = prefill_kernel()
        return kernel if kernel is not None and kernel.fits(self.in_features, self.out_features) else None

    def _row_scale(self) -> torch.Tensor:
        """int8's per-row scale in fp32 for int8_prefill.c (the packed copy is bf16, for torch's kernel)."""
        if self._scale_fp32 is None:
            self._scale_fp32 = self.weight_scale.data.float().contiguous()
        return self._scale_fp32

    def _vnni_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """int4_gemv.c, one fp32 row at a time (a decoding step has one)."""
        assert self._packed is not None and self._int4_gemv is not None
        weight, scale = self._packed
        bias = self.bias.float() if self.bias is not None else None
        outputs = [self._int4_gemv(weight, scale, bias, row) for row in rows]
        if len(outputs) <= 1:
            return outputs[0][None] if outputs else rows.new_empty(0, self.out_features)
        return torch.stack(outputs)

    def _cpu_kernel(self, rows: torch.Tensor) -> torch.Tensor:
        """rows fp32 [n, in] -> fp32 [n, out] without the bias, on torch's kernels or one dequantization."""
        assert self._packed is not None
        weight, scales = self._packed
        rows = rows.to(torch.bfloat16)
        if rows.shape[0] > PREFILL_ROWS:  # a prompt: one dequantization beats per-row kernel work
            output = self._dequantized_matmul(rows, weight)
        elif self.bits == 8:
            output = torch.ops.aten._weight_int8pack_mm(rows, weight, scales)
        else:
            output = torch.ops.aten._weight_int4pack_mm_for_cpu(rows, weight, self._group, scales)
        return output.float()

    def _dequantized_matmul(self, rows: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """`rows @ (q * scale).T` in bf16, dequantizing DEQUANT_ROWS output rows at a time: the whole
        weight in bf16 (and the unpacking's temporaries) would add over a GiB to a prompt's peak."""
        output = torch.empty(rows.shape[0], self.out_features, dtype=torch.bfloat16, device=rows.device)
        scale = self.weight_scale.to(torch.bfloat16)
        bytes_per_row = self.in_features // 2  # int4: both packs are laid out in blocks of 64 output rows
        for start in range(0, self.out_features, DEQUANT_ROWS):
            stop = min(start + DEQUANT_ROWS, self.out_features)
            if self._int4_gemv is not None:  # one pass in C, into a buffer reused across chunks and calls
                chunk = weight[start * bytes_per_row : stop * bytes_per_row]
                dequantized = self._int4_gemv.dequantize(
                    chunk, self._packed[1][start:stop], _bf16_buffer(stop - start, self.in_features)
                )
            elif self.bits == 8:
                dequantized = weight[start:stop].to(torch.bfloat16) * scale[start:stop, None]
            else:
                chunk = weight.reshape(-1)[start * bytes_per_row : stop * bytes_per_row]
                dequantized = self._int4_values(chunk, stop - start).to(torch.bfloat16) * scale[start:stop, None]
            torch.matmul(rows, dequantized.T, out=output[:, start:stop])
        return output


def _bf16_buffer(rows: int, columns: int) -> torch.Tensor:
    """A bf16 [rows, columns] scratch tensor, kept per thread (kept_buffer): a fresh 32 MB one per chunk
    would be faulted in page by page every time."""
    return kept_buffer("bf16", rows * columns, torch.bfloat16).view(rows, columns)


def quantize_blocks(layers: nn.ModuleList, bits: int) -> None:
    """Replace each block's four float linears by QuantizedLinear, one at a time (peak memory: one linear)."""
    for block in layers:
        for name in LINEAR_NAMES:
            parent_name, child = name.split(".")
            parent = getattr(block, parent_name)
            linear = getattr(parent, child)
            if isinstance(linear, QuantizedLinear):
                continue
            setattr(parent, child, QuantizedLinear.from_float(linear, bits))
            linear.weight.data = torch.empty(0)  # free the float copy now, not at the end
