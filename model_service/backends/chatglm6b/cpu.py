"""What CPU this is, from /proc/cpuinfo: to pick int4_gemv.c's variant and to label benchmark figures.

Figures from different machines differ by more than the code (AMD Zen 4 runs a 512-bit instruction as
two 256-bit halves; Intel's Sapphire Rapids runs it whole), so every benchmark prints this beside the
kernel variant that ran.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# The instruction sets the int4 kernel's variants and the bf16 prompt path depend on, in /proc/cpuinfo's names.
KERNEL_FLAGS = ("avx512_vnni", "avx512_bf16", "amx_bf16", "avx_vnni", "avx2")
AMD_ZEN4_FAMILY = 0x19  # Zen 3 and Zen 4 (Zen 4 adds AVX-512); Zen 5 is 0x1A


@dataclass(frozen=True)
class CpuInfo:
    vendor: str  # "GenuineIntel", "AuthenticAMD", ... ("" where unknown)
    family: int | None
    model: int | None
    model_name: str
    flags: frozenset[str]

    @property
    def double_pumps_512_bits(self) -> bool:
        """AMD family 0x19 with AVX-512 (Zen 4): each 512-bit instruction is two 256-bit halves."""
        return self.vendor == "AuthenticAMD" and self.family == AMD_ZEN4_FAMILY and "avx512f" in self.flags

    def describe(self) -> str:
        """One line: model name, vendor, family/model and which of KERNEL_FLAGS it has."""
        where = self.vendor or "unknown vendor"
        if self.family is not None and self.model is not None:
            where += f" family 0x{self.family:x} model 0x{self.model:x}"
        flags = " ".join(f"{flag}{'+' if flag in self.flags else '-'}" for flag in KERNEL_FLAGS)
        return f"{self.model_name or 'unknown CPU'} ({where}); {flags}"


def parse_cpuinfo(text: str) -> CpuInfo:
    """The first processor's fields of a /proc/cpuinfo text (every core of one machine says the same)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block has ended
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return CpuInfo(
        vendor=fields.get("vendor_id", ""),
        family=_number(fields.get("cpu family")),
        model=_number(fields.get("model")),
        model_name=fields.get("model name", ""),
        flags=frozenset(fields.get("flags", "").split()),
    )


@functools.cache
def this_cpu() -> CpuInfo:
    """This machine's CPU; an empty description where /proc/cpuinfo cannot be read (not Linux)."""
    try:
        return parse_cpuinfo(CPUINFO.read_text())
    except OSError:
        return CpuInfo(vendor="", family=None, model=None, model_name="", flags=frozenset())


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
