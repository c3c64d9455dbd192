"""int4_gemv.c, compiled for this CPU on first use and called through ctypes.

The library is built with the system's C compiler (`$CC`, else `cc`/`gcc`) and `-march=native`, so it
uses the instructions this CPU has, into a cache folder keyed by the source, the flags, the compiler
and the CPU's feature flags; later starts load it from there (one compile, about a second). It holds a
variant per instruction set (AVX-512 VNNI, AVX-VNNI on 256-bit registers, plain AVX2), all on the same
weight layout and giving the same numbers; `int4_kernel()` picks the one that is fastest on this kind of
CPU (`tuning_for`), or the one `CHATGLM_INT4_KERNEL` names (avx512-vnni, avx-vnni, avx2: to test or
compare them on one machine); its software prefetch distance likewise (`CHATGLM_INT4_PREFETCH`, bytes,
0 for none).
Where there is no compiler, the build fails or the CPU lacks even AVX2, `int4_kernel()` returns None
with the reason logged once, and int4 layers use torch's own kernel (correct, about half as fast).
`CHATGLM_NATIVE_KERNEL=0` turns it off.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from model_service.backends.chatglm6b.cpu import CpuInfo, this_cpu

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("int4_gemv.c")
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-fopenmp")
QBLOCK = 32  # activation values per int8 scale, as in the C source
ROWS = 64  # output rows per weight block, as in the C source
BF16_COLUMNS = 32  # bf16_gemv's input columns per load (AVX-512); its `in` must be a multiple
DISABLE_VARIABLE = "CHATGLM_NATIVE_KERNEL"
VARIANT_VARIABLE = "CHATGLM_INT4_KERNEL"
PREFETCH_VARIABLE = "CHATGLM_INT4_PREFETCH"
VARIANTS = {"avx512-vnni": 1, "avx-vnni": 2, "avx2": 4}  # the bits int4_gemv.c uses
MAX_PREFETCH = 65536  # as in the C source


_kept = threading.local()


def kept_buffer(name: str, size: int, dtype: torch.dtype) -> torch.Tensor:
    """A 1-D scratch tensor of at least `size` elements, kept per thread under `name`: a fresh one per call would
    be faulted in page by page every time (for the prompt kernels' buffers, over a second per prompt)."""
    held = getattr(_kept, name, None)
    if held is None or held.numel() < size or held.dtype != dtype:
        held = torch.empty(size, dtype=dtype)
        setattr(_kept, name, held)
    return held[:size]


@dataclass(frozen=True)
class Tuning:
    """Which variant to prefer (first runnable wins) and how far ahead to prefetch, for a kind of CPU."""

    order: tuple[str, ...]
    prefetch: int  # bytes; 0: the hardware prefetcher alone


# Intel (Sapphire Rapids, where the kernel was first tuned): 512-bit VNNI, 4 KiB ahead (85-95 % of a
# read; 0, 0.5, 1, 2 and 8 KiB were slower). AMD Zen 4 (docs/PERFORMANCE.md, issue 24): the hardware
# prefetcher alone (91-109 % of a read per CPU second against 70-79 % at 4 KiB and 74-87 % at 0.25-8 KiB),
# and vpdpbusd on 256-bit registers, which Zen 4 runs whole where it splits 512-bit ones: 4 % and 13 %
# less CPU per decoding step than 512 bits in two in-model measurements (4 % more in the kernel alone).
INTEL_TUNING = Tuning(order=("avx512-vnni", "avx-vnni", "avx2"), prefetch=4096)
ZEN4_TUNING = Tuning(order=("avx-vnni", "avx512-vnni", "avx2"), prefetch=0)


def tuning_for(cpu: CpuInfo) -> Tuning:
    """The variant order and prefetch distance measured best on this kind of CPU (others: Intel's)."""
    return ZEN4_TUNING if cpu.double_pumps_512_bits else INTEL_TUNING


class Int4Gemv:
    """`y = W x * scale + bias` for one fp32 row, W packed by quantization.pack_int4_vnni; and W to bf16."""

    def __init__(self, library: ctypes.CDLL, variant: str, prefetch: int) -> None:
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        self.variant, self.prefetch = variant, prefetch
        self._code = VARIANTS[variant]
        self._call = library.int4_gemv
        self._call.restype = ctypes.c_int
        self._call.argtypes = [pointer, pointer, pointer, pointer, pointer, *[integer] * 3, pointer, integer, integer]
        self._dequantize = library.int4_dequantize_bf16
        self._dequantize.restype = ctypes.c_int
        self._dequantize.argtypes = [pointer, pointer, pointer, integer, integer, integer, integer]

    @staticmethod
    def fits(in_features: int, out_features: int) -> bool:
        return in_features % QBLOCK == 0 and out_features % ROWS == 0

    def __call__(
        self, weight: torch.Tensor, row_scale: torch.Tensor, bias: torch.Tensor | None, row: torch.Tensor
    ) -> torch.Tensor:
        """weight uint8 [out * in / 2], row_scale / bias fp32 [out], row fp32 [in] -> fp32 [out]."""
        in_features, out_features = row.shape[0], row_scale.shape[0]
        row = row.contiguous()
        output = torch.empty(out_features, dtype=torch.float32)
        scratch = torch.empty(in_features + in_features // QBLOCK * 8, dtype=torch.uint8)
        status = self._call(
            weight.data_ptr(),
            row_scale.data_ptr(),
            bias.data_ptr() if bias is not None else None,
            row.data_ptr(),
            output.data_ptr(),
            in_features,
            out_features,
            torch.get_num_threads(),
            scratch.data_ptr(),
            self._code,
            self.prefetch,
        )
        if status != 0:
            raise RuntimeError(f"this build of int4_gemv.c cannot run its {self.variant} variant")
        return output

    def dequantize(self, weight: torch.Tensor, row_scale: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The first out.shape[0] rows (a multiple of 64) of a packed weight -> `out`, bf16 [rows, in]."""
        rows, in_features = out.shape
        assert out.dtype == torch.bfloat16 and out.is_contiguous() and rows % ROWS == 0
        assert weight.numel() >= rows * in_features // 2 and row_scale.numel() >= rows
        status = self._dequantize(
            weight.data_ptr(),
            row_scale.data_ptr(),
            out.data_ptr(),
            in_features,
            rows,
            torch.get_num_threads(),
            self._code,
        )
        if status != 0:
            raise RuntimeError(f"this build of int4_gemv.c cannot run its {self.variant} variant")
        return out


@functools.cache
def int4_kernel(variant: str | None = None, prefetch: int | None = None) -> Int4Gemv | None:
    """The compiled kernel in `variant` (default: CHATGLM_INT4_KERNEL, else the first this CPU runs in
    its tuning's order) prefetching `prefetch` bytes ahead (default: CHATGLM_INT4_PREFETCH, else the
    tuning's), or None (reason logged) where it cannot run here."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        log.info("%s=0: int4 layers use torch's kernel", DISABLE_VARIABLE)
        return None
    wanted = variant or os.environ.get(VARIANT_VARIABLE) or None
    if wanted is not None and wanted not in VARIANTS:
        raise ValueError(
            f"{VARIANT_VARIABLE}={wanted!r} names no int4 kernel variant; use one of {', '.join(VARIANTS)}"
        )
    tuning = tuning_for(this_cpu())
    distance = _prefetch_distance(prefetch, tuning)
    try:
        library = _library()
    except (OSError, RuntimeError) as error:
        log.warning("int4 layers use torch's kernel (about half as fast on CPU): %s", error)
        return None
    library.int4_gemv_variants.restype = ctypes.c_int
    runnable = [name for name in tuning.order if library.int4_gemv_variants() & VARIANTS[name]]
    if wanted is not None and wanted not in runnable:
        log.warning(
            "this CPU cannot run the %s int4 kernel (it runs: %s): int4 layers use torch's kernel",
            wanted,
            ", ".join(runnable) or "none",
        )
        return None
    if not runnable:
        log.info("this CPU lacks AVX2: int4 layers use torch's kernel")
        return None
    chosen = wanted or runnable[0]
    log.info("int4 layers use int4_gemv.c's %s variant, prefetching %d bytes ahead", chosen, distance)
    return Int4Gemv(library, chosen, distance)


class Bf16Gemv:
    """`y = W x` for a bf16 matrix W [out, in] and one fp32 row x (in a multiple of 32): fp32 products and sums."""

    def __init__(self, library: ctypes.CDLL) -> None:
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        self._call = library.bf16_gemv
        self._call.restype = ctypes.c_int
        self._call.argtypes = [pointer, pointer, pointer, integer, integer, integer, pointer]

    @staticmethod
    def fits(weight: torch.Tensor) -> bool:
        return weight.dtype == torch.bfloat16 and weight.dim() == 2 and weight.shape[1] % BF16_COLUMNS == 0

    def __call__(self, weight: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        assert self.fits(weight) and weight.is_contiguous() and row.shape == (weight.shape[1],)
        row = row.float().contiguous()
        output = torch.empty(weight.shape[0], dtype=torch.float32)
        scratch = torch.empty(weight.shape[1], dtype=torch.float32)
        status = self._call(
            weight.data_ptr(),
            row.data_ptr(),
            output.data_ptr(),
            weight.shape[1],
            weight.shape[0],
            torch.get_num_threads(),
            scratch.data_ptr(),
        )
        if status != 0:
            raise RuntimeError("this build of int4_gemv.c cannot run bf16_gemv")
        return output


def bf16_head_is_ours(cpu: CpuInfo) -> bool:
    """Whether bf16_gemv should multiply the output matrix on this CPU: not where it has AMX, on which
    torch.mv (oneDNN) already read it at the memory's speed (48 ms for 1.07 GB on Sapphire Rapids; ours
    is unmeasured there); elsewhere torch.mv was 3x slower (AMD Zen 4)."""
    return "amx_bf16" not in cpu.flags


@functools.cache
def bf16_kernel() -> Bf16Gemv | None:
    """int4_gemv.c's bf16 matrix-vector product (for the output matrix), or None where it cannot run here
    (no AVX2 or no compiler: torch.mv then), or when CHATGLM_NATIVE_KERNEL=0."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        return None
    try:
        library = _library()
    except (OSError, RuntimeError) as error:
        log.warning("the bf16 output matrix uses torch.mv: %s", error)
        return None
    library.int4_gemv_variants.restype = ctypes.c_int
    if not library.int4_gemv_variants() & VARIANTS["avx2"]:
        return None
    return Bf16Gemv(library)


def _library() -> ctypes.CDLL:
    return ctypes.CDLL(str(_build()))  # the same file for every caller: dlopen returns the loaded one


def _prefetch_distance(prefetch: int | None, tuning: Tuning) -> int:
    """The argument, else CHATGLM_INT4_PREFETCH, else the tuning's; a bad value is refused by name."""
    if prefetch is None:
        setting = os.environ.get(PREFETCH_VARIABLE)
        if not setting:
            return tuning.prefetch
        try:
            prefetch = int(setting)
        except ValueError:
            raise ValueError(f"{PREFETCH_VARIABLE}={setting!r} is not a whole number of bytes") from None
    if not 0 <= prefetch <= MAX_PREFETCH:
        raise ValueError(f"{PREFETCH_VARIABLE}: prefetch distance {prefetch} is outside 0..{MAX_PREFETCH} bytes")
    return prefetch


def _build() -> Path:
    return build_library(SOURCE, FLAGS)


def build_library(source: Path, flags: tuple[str, ...]) -> Path:
    """`source` compiled with `flags` into the cache folder, once per source, flags, compiler and CPU."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise RuntimeError(f"no C compiler found (install gcc, or set CC) to build {source.name}")
    key = hashlib.sha256()
    for part in (source.read_bytes(), " ".join(flags).encode(), _compiler_version(compiler), _cpu_flags()):
        key.update(part)
    target = _cache_folder() / f"{source.stem}-{key.hexdigest()[:16]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the target and renamed into place, so processes starting together never load half a file.
    handle, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(handle)
    command = [compiler, *flags, str(source), "-o", partial, "-lm"]
    try:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"building {source.name} took over {error.timeout:.0f} s") from error
        if result.returncode != 0:
            raise RuntimeError(f"building {source.name} failed: {result.stderr.strip()[-500:]}")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    log.info("built %s", target)
    return target


def _cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "turtle-soup" / "kernels"


def _compiler_version(compiler: str) -> bytes:
    try:
        return subprocess.run([compiler, "--version"], capture_output=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f"cannot run the C compiler {compiler}: {error}") from error


def _cpu_flags() -> bytes:
    """The CPU's feature flags: -march=native output is only valid on a CPU with the same ones."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line.encode()
    except OSError:
        pass
    return b""
