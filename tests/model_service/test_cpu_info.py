"""cpu.py: /proc/cpuinfo read into the fields that pick int4_gemv.c's tuning and label benchmark figures."""

from __future__ import annotations

from model_service.backends.chatglm6b.cpu import parse_cpuinfo, this_cpu
from model_service.backends.chatglm6b.native import (
    INTEL_TUNING,
    VARIANTS,
    ZEN4_TUNING,
    bf16_head_is_ours,
    tuning_for,
)

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512vl avx512_bf16 avx512_vnni

processor\t: 1
vendor_id\t: SomeoneElse
"""
SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu avx avx2 fma avx512f avx512bw avx512vl avx_vnni avx512_bf16 avx512_vnni amx_bf16
"""
ZEN3 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7763\nflags\t: avx2 fma\n"


def test_the_first_processors_fields_are_read() -> None:
    cpu = parse_cpuinfo(ZEN4)
    assert (cpu.vendor, cpu.family, cpu.model) == ("AuthenticAMD", 0x19, 0x11)
    assert cpu.model_name == "AMD EPYC 9R14 96-Core Processor" and "avx512_vnni" in cpu.flags
    assert cpu.describe() == (
        "AMD EPYC 9R14 96-Core Processor (AuthenticAMD family 0x19 model 0x11); "
        "avx512_vnni+ avx512_bf16+ amx_bf16- avx_vnni- avx2+"
    )
    intel = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert intel.describe().endswith(
        "(GenuineIntel family 0x6 model 0x8f); avx512_vnni+ avx512_bf16+ amx_bf16+ avx_vnni+ avx2+"
    )


def test_only_a_cpu_that_splits_512_bit_instructions_gets_the_zen4_tuning() -> None:
    assert parse_cpuinfo(ZEN4).double_pumps_512_bits and tuning_for(parse_cpuinfo(ZEN4)) == ZEN4_TUNING
    for other in (SAPPHIRE_RAPIDS, ZEN3, ""):  # Intel; Zen 3 (same family, no AVX-512); nothing known
        assert not parse_cpuinfo(other).double_pumps_512_bits and tuning_for(parse_cpuinfo(other)) == INTEL_TUNING
    for tuning in (INTEL_TUNING, ZEN4_TUNING):
        assert sorted(tuning.order) == sorted(VARIANTS) and 0 <= tuning.prefetch <= 65536


def test_an_unreadable_description_says_so_and_this_machine_has_one() -> None:
    assert (
        parse_cpuinfo("").describe()
        == "unknown CPU (unknown vendor); avx512_vnni- avx512_bf16- amx_bf16- avx_vnni- avx2-"
    )
    here = this_cpu()
    assert here.model_name and here.vendor and here.family is not None  # the machines this project runs on are Linux


def test_the_output_matrix_is_ours_except_where_amx_serves_torch_mv() -> None:
    assert bf16_head_is_ours(parse_cpuinfo(ZEN4)) and bf16_head_is_ours(parse_cpuinfo(ZEN3))
    assert not bf16_head_is_ours(parse_cpuinfo(SAPPHIRE_RAPIDS))
