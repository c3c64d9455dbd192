"""The chatglm loader's malloc tuning: large freed blocks go back to the system at once, so a prompt's
freed activations do not stay counted against the machine (the int4 model's 6 GB budget)."""

from __future__ import annotations

import subprocess
import sys

import torch

from model_service.backends.chatglm6b.memory import return_freed_memory


def anonymous_rss() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("RssAnon:"))
    return int(line.split()[1]) * 1024


def test_freed_activations_leave_the_process() -> None:
    assert return_freed_memory()  # glibc on Linux, as on the project's machines
    before = anonymous_rss()
    for _ in range(3):  # a prefill's pattern: many mid-sized buffers made, used and dropped
        buffers = [torch.ones(2 * 1024 * 1024) for _ in range(16)]  # 16 × 8 MB
        del buffers
    assert anonymous_rss() - before < 16 * 1024 * 1024


KEEP = """
import resource, torch
from model_service.backends.chatglm6b.memory import keep_freed_memory
def faults_for_a_prompt_sized_block():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(600 * 16384)  # a 600-token prompt's MLP activations, 39 MB
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_for_a_prompt_sized_block()
default = faults_for_a_prompt_sized_block()
assert keep_freed_memory()
faults_for_a_prompt_sized_block()
kept = faults_for_a_prompt_sized_block()
print(default, kept)
"""


def test_where_memory_is_roomy_a_prompts_large_blocks_are_reused_not_faulted_in_again() -> None:
    """In a process of its own: malloc's settings are the process's."""
    done = subprocess.run([sys.executable, "-c", KEEP], capture_output=True, text=True, timeout=120, check=True)
    default, kept = map(int, done.stdout.split())
    assert default > 9000  # glibc's default: mmap'd afresh each time, 9,600 pages faulted in
    assert kept < 100, kept  # kept in the heap: the same pages again
