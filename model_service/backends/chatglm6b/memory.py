"""Make glibc hand large freed blocks back to the system at once, where memory is tight.

A prompt's prefill allocates and frees many activation buffers. glibc's defaults keep freed blocks in
per-thread arenas and raise the mmap threshold as blocks are freed, so the process keeps its high-water
mark: the int4 model on CPU was killed in a 6 GiB memory cgroup by memory it had already freed. With
blocks over 128 KiB always mmap'd (and unmapped on free) and two arenas, the same run stays under
6.0 GB. It costs speed (the KV cache grows by a new block per token, faulted in afresh each time), so
the loader asks for it only when the machine has little memory to spare (figures in
docs/PERFORMANCE.md).
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

# mallopt(3) parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
LARGE_BLOCK = 128 * 1024  # glibc's initial mmap threshold, kept fixed instead of growing
ARENAS = 2


def return_freed_memory() -> bool:
    """Tune glibc's malloc as above; False (and nothing changed) where libc is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries: leave their defaults
        return False
    settings = ((M_MMAP_THRESHOLD, LARGE_BLOCK), (M_TRIM_THRESHOLD, LARGE_BLOCK), (M_ARENA_MAX, ARENAS))
    done = all(mallopt(option, value) == 1 for option, value in settings)
    if not done:
        log.warning("could not tune malloc to return freed memory; the model may hold more RAM than it uses")
    return done
