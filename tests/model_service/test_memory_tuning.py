"""The chatglm loader's malloc tuning: large freed blocks go back to the system at once, so a prompt's
freed activations do not stay counted against the machine (the int4 model's 6 GB budget)."""

from __future__ import annotations

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
