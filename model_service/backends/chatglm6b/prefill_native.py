"""int8_prefill.c: a prompt's rows times an int4 or int8 weight with int8 activations (AVX-512 VNNI, or AMX).

Built like int4_gemv.c (native.py: the system's C compiler, `-march=native`, a cache folder keyed by the
source, flags, compiler and CPU flags; one compile on first use). It runs only where the CPU has
AVX-512 VNNI; elsewhere, where it cannot be built, with `CHATGLM_PREFILL_KERNEL=0` (to compare or to
rule it out) or with `CHATGLM_NATIVE_KERNEL=0` (no native code at all), `prefill_kernel()` returns None
and a prompt takes the bf16 path it took before: the weight dequantized to bf16, one matmul.

Where the CPU has AMX and Linux grants the process its tiles, the AMX form runs (the same outputs, bit for
bit; several times the speed): there torch's own bf16 matmul also runs on AMX, and the VNNI form was slower
than that path on long prompts. `CHATGLM_PREFILL_KERNEL=vnni` keeps the VNNI form (to compare).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
from pathlib import Path

import torch

from model_service.backends.chatglm6b import native

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("int8_prefill.c")
FLAGS = native.FLAGS
DISABLE_VARIABLE = "CHATGLM_PREFILL_KERNEL"  # "0": the bf16 path; "vnni": never the AMX form
VNNI_ONLY = "vnni"
UNALLOCATED = -2  # int8_prefill.c: a thread got no unpacking buffer


class Int8Prefill:
    """`y = x W^T * scale + bias` for many fp32 rows: int4 weights in int4_gemv.c's layout, int8 as [out, in]."""

    def __init__(self, library: ctypes.CDLL, amx: bool = False) -> None:
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        self.amx = amx
        self.name = "int8_prefill.c (amx)" if amx else "int8_prefill.c (avx512-vnni)"
        self._call = library.int8_prefill_amx if amx else library.int8_prefill
        self._call.restype = integer
        self._call.argtypes = [pointer, integer, pointer, pointer, pointer, pointer, integer, integer, integer]
        self._call.argtypes += [integer, pointer]
        self._scratch_bytes = library.int8_prefill_scratch_bytes
        self._scratch_bytes.restype = ctypes.c_longlong
        self._scratch_bytes.argtypes = [integer, integer]

    @staticmethod
    def fits(in_features: int, out_features: int) -> bool:
        return native.Int4Gemv.fits(in_features, out_features)  # the weight layout's own bounds

    def __call__(
        self, weight: torch.Tensor, bits: int, row_scale: torch.Tensor, bias: torch.Tensor | None, rows: torch.Tensor
    ) -> torch.Tensor:
        """weight (int4: uint8 [out * in / 2] packed; int8: int8 [out, in]), row_scale / bias fp32 [out],
        rows fp32 [n, in] -> fp32 [n, out]."""
        count, in_features = rows.shape
        out_features = row_scale.shape[0]
        assert row_scale.dtype == torch.float32 and row_scale.is_contiguous()
        assert bias is None or (bias.dtype == torch.float32 and bias.is_contiguous())
        assert weight.numel() * (2 if bits == 4 else 1) == out_features * in_features and weight.is_contiguous()
        rows = rows.contiguous()
        output = torch.empty(count, out_features, dtype=torch.float32)
        scratch = native.kept_buffer("int8_prefill", int(self._scratch_bytes(count, in_features)), torch.uint8)
        status = self._call(
            weight.data_ptr(),
            bits,
            row_scale.data_ptr(),
            bias.data_ptr() if bias is not None else None,
            rows.data_ptr(),
            output.data_ptr(),
            count,
            in_features,
            out_features,
            torch.get_num_threads(),
            scratch.data_ptr(),
        )
        if status == UNALLOCATED:
            raise MemoryError("int8_prefill.c: a thread could not allocate its unpacking buffer")
        if status != 0:
            raise RuntimeError(f"int8_prefill.c cannot run {bits}-bit [{out_features}, {in_features}] here")
        return output


@functools.cache
def prefill_kernel() -> Int8Prefill | None:
    """The compiled kernel, or None (reason logged) where it cannot or must not run here."""
    for variable in (native.DISABLE_VARIABLE, DISABLE_VARIABLE):
        if os.environ.get(variable, "1") == "0":
            log.info("%s=0: prompts use bf16 matmuls", variable)
            return None
    try:
        library = ctypes.CDLL(str(_build()))
    except (OSError, RuntimeError) as error:
        log.warning("prompts use bf16 matmuls: %s", error)
        return None
    library.int8_prefill_available.restype = ctypes.c_int
    library.int8_prefill_amx_available.restype = ctypes.c_int
    if not library.int8_prefill_available():
        log.info("this CPU lacks AVX-512 VNNI: prompts use bf16 matmuls")
        return None
    amx = os.environ.get(DISABLE_VARIABLE, "") != VNNI_ONLY and bool(library.int8_prefill_amx_available())
    kernel = Int8Prefill(library, amx=amx)
    log.info("prompts use %s (int8 activations)", kernel.name)
    return kernel


def _build() -> Path:
    return native.build_library(SOURCE, FLAGS)
